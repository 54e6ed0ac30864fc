import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardStore
import Logging

/// `keyward authority organization ...`: the customers keys are issued to.
struct AuthorityOrganizationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "organization",
        abstract: "Create, list and show the organizations keys are issued to.",
        subcommands: [Create.self, List.self, Show.self]
    )

    /// `organization create --id ID --legal-name NAME`.
    struct Create: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization (audited as the command line).")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Option(help: "The organization id, a lowercase slug such as acme; it never changes.")
        var id: String

        @Option(help: "The organization's legal name (1 to 200 characters), carried by every key issued to it.")
        var legalName: String

        @Flag(help: "Print the organization as JSON.")
        var json = false

        func run(console: Console) async throws {
            let record = try await dataDirectory.withAuthority { authority in
                try await authority.createOrganization(id: id, legalName: legalName, actor: AuthorityDataDirectory.actor)
            }
            console.print(json ? Console.json(record) : "Organization \(record.id) (\(record.legalName)) created.")
        }
    }

    /// `organization list`.
    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "List the organizations, by id.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Flag(help: "Print the list as JSON.")
        var json = false

        func run(console: Console) async throws {
            let records = try await dataDirectory.withAuthority { try await $0.store.organizations() }
            if json {
                console.print(Console.json(records))
            } else if records.isEmpty {
                console.print("No organization yet: keyward authority organization create --id ID --legal-name NAME")
            } else {
                console.print(Console.table(["ID", "LEGAL NAME", "REVISION"], records.map { [$0.id, $0.legalName, String($0.revision)] }))
            }
        }
    }

    /// `organization show ID`.
    struct Show: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Show one organization.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The organization id.")
        var id: String

        @Flag(help: "Print the organization as JSON.")
        var json = false

        func run(console: Console) async throws {
            let found = try await dataDirectory.withAuthority { try await $0.store.organization(id) }
            guard let record = found else {
                throw CommandFailure.failed("there is no organization \(id): keyward authority organization list shows them.")
            }
            console.print(json ? Console.json(record) : "\(record.id)\n  legal name: \(record.legalName)\n  feed revision: \(record.revision)")
        }
    }
}

extension AuthorityDataDirectory {
    /// How the audit log names what the command line did: the account that ran it.
    static var actor: String { "cli:\(ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName)" }

    /// Runs `body` on the authority opened from this directory, closing its database after; the authority's and the
    /// store's refusals become the command's (exit 2 naming the flag for a field, exit 1 otherwise).
    func withAuthority<T>(logger: Logger = Logger(label: "keyward.authority"), _ body: (Authority) async throws -> T) async throws -> T {
        let authority = try await openAuthority(logger: logger)
        do {
            let result = try await body(authority)
            await authority.store.database.close()
            return result
        } catch let AuthorityError.invalid(problems) {
            await authority.store.database.close()
            let lines = problems.map { "error: \(AuthorityIssueCommand.flag(for: $0.field)): \($0.message)" }
            throw CommandFailure(message: lines.joined(separator: "\n"), exitCode: 2)
        } catch let error as StoreError {
            await authority.store.database.close()
            throw CommandFailure.failed("\(error.code): \(error.message)")
        } catch let error as AuthorityKeyringError {
            await authority.store.database.close()
            throw CommandFailure.failed("\(error.code): \(error.message)")
        } catch {
            await authority.store.database.close()
            throw error
        }
    }
}
