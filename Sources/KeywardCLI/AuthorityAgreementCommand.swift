import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// `keyward authority agreement ...`: the contracts whose lines become keys.
struct AuthorityAgreementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agreement",
        abstract: "Issue an agreement's keys from a file, and list and show agreements.",
        subcommands: [Create.self, List.self, Show.self]
    )

    /// `agreement create --organization ID --file F`.
    struct Create: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue an agreement: one key per line, all or none (audited as the command line).",
            discussion: """
                FILE is the JSON body of the API's POST /v1/organizations/{id}/agreements:
                  {"reference": "2026-ACME-001", "signedOn": "2026-03-01",
                   "lines": [{"profile": "manager", "useType": "nominative", "users": 25, "purchaseType": "sale",
                              "components": ["DOC", "WF"]}, ...]}
                Each line takes the fields of `key issue` (validFrom, expiresAt, suiteVersion optional). A file with
                problems is refused whole: every problem of every line is printed with its field (lines[1].users: ...),
                the exit status is 1, and nothing is written.
                """
        )

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Option(help: "The id of a recorded organization.")
        var organization: String

        @Option(help: "The agreement file (JSON).")
        var file: String

        @Flag(help: "Print the agreement with its keys (access keys included) as JSON, as the API answers.")
        var json = false

        func run(console: Console) async throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure.badInput("--file", "cannot read \(file).")
            }
            let request: AgreementRequest
            do {
                request = try KeywardJSON.decoder.decode(AgreementRequest.self, from: data)
            } catch let error as DecodingError {
                guard let problem = error.fieldProblem else {
                    throw CommandFailure.failed(
                        "INVALID_JSON: \(file) is not a JSON object of an agreement ({\"reference\", \"signedOn\", \"lines\": [...]}).")
                }
                throw AuthorityDataDirectory.fileProblems([problem], in: file)
            }
            let result = try await dataDirectory.withAuthority { authority in
                do {
                    return try await authority.issueAgreement(request, organizationId: organization, actor: AuthorityDataDirectory.actor)
                } catch let AuthorityError.invalid(problems) {
                    throw AuthorityDataDirectory.fileProblems(problems, in: file)
                }
            }
            let keys = result.keys.map(KeyResponse.init)
            if json {
                console.print(Console.json(AgreementResponse(result.agreement, keys: keys)))
                return
            }
            console.print(
                "Agreement \(result.agreement.id) (\(result.agreement.reference)) for \(organization): \(keys.count) key\(keys.count == 1 ? "" : "s") issued."
            )
            console.print(AuthorityKeyCommand.table(result.keys, now: Date(), line: true))
            console.error("Their access keys: keyward authority key show SERIAL, or --json.")
        }
    }

    /// `agreement list --organization ID`.
    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "List an organization's agreements, oldest first.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Option(help: "The organization id.")
        var organization: String

        @Flag(help: "Print the list as JSON.")
        var json = false

        func run(console: Console) async throws {
            let records = try await dataDirectory.withAuthority { try await $0.store.agreements(of: organization) }
            if json {
                console.print(Console.json(records.map { AgreementResponse($0) }))
            } else if records.isEmpty {
                console.print("No agreement for \(organization) yet: keyward authority agreement create --organization \(organization) --file F")
            } else {
                console.print(
                    Console.table(
                        ["ID", "REFERENCE", "SIGNED ON", "KEYS", "CREATED"],
                        records.map {
                            [
                                $0.id, $0.reference, $0.signedOn.map(AuthorityKeyCommand.day) ?? "-", String($0.serials.count),
                                Timestamp.format($0.createdAt),
                            ]
                        }))
            }
        }
    }

    /// `agreement show ID`.
    struct Show: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Show one agreement and the state of its keys.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The agreement id, e.g. AG-7F3K-9Q2M-XA4T.")
        var id: String

        @Flag(help: "Print the agreement with its keys as JSON.")
        var json = false

        func run(console: Console) async throws {
            let found = try await dataDirectory.withAuthority { authority -> (AgreementRecord, [IssuedKeyRecord])? in
                guard let agreement = try await authority.store.agreement(id) else { return nil }
                var keys: [IssuedKeyRecord] = []
                for serial in agreement.serials { if let key = try await authority.store.key(serial) { keys.append(key) } }
                return (agreement, keys)
            }
            guard let (agreement, keys) = found else {
                throw CommandFailure.failed(
                    "UNKNOWN_AGREEMENT: there is no agreement \(id); keyward authority agreement list --organization ID lists an organization's.")
            }
            if json {
                console.print(Console.json(AgreementResponse(agreement, keys: keys.map(KeyResponse.init))))
                return
            }
            console.print("\(agreement.id)  \(agreement.reference)")
            console.print("  organization: \(agreement.organizationId)")
            console.print("  signed on:    \(agreement.signedOn.map(AuthorityKeyCommand.day) ?? "-")")
            console.print("  created:      \(Timestamp.format(agreement.createdAt))")
            console.print(AuthorityKeyCommand.table(keys, now: Date(), line: true))
        }
    }
}

extension AuthorityDataDirectory {
    /// A file's problems, each on its line with its field (`lines[1].users: ...`) and code: exit 1, since the file, not
    /// the command line, is wrong.
    static func fileProblems(_ problems: [FieldError], in file: String) -> CommandFailure {
        let lines = problems.map { "error: \($0.field): \($0.message) (\($0.code))" }
        return CommandFailure(message: (lines + ["\(file) was refused whole; nothing was written."]).joined(separator: "\n"), exitCode: 1)
    }
}
