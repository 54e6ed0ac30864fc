import ArgumentParser
import Foundation
import KeywardDomain
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore

/// `keyward users ...`: the suite's users from the command line.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Import the suite's users.",
        subcommands: [Import.self]
    )

    struct Import: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import users from a CSV file with a header line: login,name,email[,active].",
            discussion: """
                The good lines are imported; each bad line is reported with its line number and reason (exit status 1 when
                there were any). --dry-run checks everything, taken logins included, and writes nothing.
                """
        )
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The CSV file, or - for standard input.") var file: String
        @Flag(help: "Report without writing.") var dryRun = false
        @Flag(help: "Print the report as JSON.") var json = false

        func run(console: Console) async throws {
            let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
            guard let data, let text = String(data: data, encoding: .utf8) else {
                throw CommandFailure.badInput("FILE", "cannot read \(file) as UTF-8 text.")
            }
            let showProgress = !json && isatty(STDERR_FILENO) != 0
            var report = UserImport.Report()
            try await withRegistry(options) { registry in
                report = try await registry.importUsers(csv: text, dryRun: dryRun, actor: "cli", chunk: 5_000) { done, total in
                    if showProgress { console.progress(done, total) }
                }
            }
            if showProgress { console.errorText("\n") }
            if json {
                console.print(Console.json(report))
            } else {
                for note in report.notes { console.error("note: \(note)") }
                for problem in report.problems { console.error("line \(problem.line): \(problem.reason)") }
                console.print(
                    "\(report.imported) user\(report.imported == 1 ? "" : "s") \(dryRun ? "would be imported" : "imported"), \(report.problems.count) line\(report.problems.count == 1 ? "" : "s") refused."
                )
            }
            if !report.problems.isEmpty { throw ExitCode(1) }
        }
    }
}

/// `keyward tokens ...`: tokens for other systems: the suite's modules (sessions and entitlement checks) and an
/// identity provider's SCIM provisioning.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Create, list and revoke the registry's service and directory tokens.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a service token (--service) or a directory token (--directory); it is printed once and stored only as a hash.")
        @OptionGroup var options: RegistryOptions
        @Option(help: "A service token for the module that uses it, e.g. suite-login: sessions and entitlement checks.") var service: String?
        @Option(help: "A directory token for the identity provider that uses it, e.g. entra-id: SCIM provisioning at /scim/v2 only.")
        var directory: String?

        func run(console: Console) async throws {
            let (kind, name): (IntegrationTokenKind, String)
            switch (service, directory) {
            case (let service?, nil): (kind, name) = (.service, service)
            case (nil, let directory?): (kind, name) = (.directory, directory)
            default: throw CommandFailure.badInput("--service", "give either --service NAME or --directory NAME.")
            }
            var text = ""
            try await withRegistry(options) { registry in
                do {
                    text = try await registry.createIntegrationToken(kind: kind, name: name, actor: "cli").token.text
                } catch RegistryError.invalid {
                    throw CommandFailure.badInput(
                        "--\(kind.rawValue)", "give the \(kind == .service ? "module's" : "directory's") name, 1 to 100 characters.")
                }
            }
            console.print(text)
        }
    }

    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "List service and directory tokens (never their secrets).")
        @OptionGroup var options: RegistryOptions

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                let tokens = try await registry.integrationTokens()
                console.print(
                    Console.table(
                        ["ID", "KIND", "NAME", "CREATED", "REVOKED"],
                        tokens.map {
                            [$0.id, $0.kind, $0.name, Timestamp.format($0.createdAt), $0.revokedAt.map(Timestamp.format) ?? ""]
                        }))
            }
        }
    }

    struct Revoke: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a service or directory token by its id.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The token's id (the part after kw_).") var id: String

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                try await registry.revokeIntegrationToken(id: id, actor: "cli")
            }
            console.print("Token \(id) revoked.")
        }
    }
}
