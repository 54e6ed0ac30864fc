import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardStore
import Logging

/// `keyward authority operator ...`: the vendor's licensing staff, each with a login, a name and a role.
struct AuthorityOperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Create, list, disable and enable the authority's operators (admin, clerk, auditor).",
        subcommands: [Create.self, List.self, Disable.self, Enable.self]
    )

    /// The password of a new operator: `KEYWARD_OPERATOR_PASSWORD`, or one made here (then printed once).
    static func password(environment: [String: String] = ProcessInfo.processInfo.environment) -> (password: String, generated: Bool) {
        if let given = environment["KEYWARD_OPERATOR_PASSWORD"], !given.isEmpty { return (given, false) }
        return (Authority.generatedPassword(), true)
    }

    /// Disables or enables `login`, audited as the command line.
    static func setActive(_ login: String, _ active: Bool, in dataDirectory: AuthorityDataDirectory) async throws -> OperatorRecord {
        try await dataDirectory.withAuthority { authority in
            try await authority.store.setOperatorActive(login, active, actor: AuthorityDataDirectory.actor, now: authority.now())
        }
    }

    /// `operator create --login L --name N --role R`.
    struct Create: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an operator (audited as the command line).",
            discussion:
                "The password comes from KEYWARD_OPERATOR_PASSWORD (at least 12 characters), or is generated and printed once. Roles: admin (everything, operators and signing keys included), clerk (organizations, agreements, keys, activations), auditor (reads everything, changes nothing)."
        )

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Option(help: "The operator's login: letters, digits and . _ - @, e.g. j.smith.")
        var login: String

        @Option(help: "The operator's full name, shown in the audit log's lists.")
        var name: String

        @Option(help: "admin, clerk or auditor.")
        var role: String

        @Flag(help: "Print the operator (and a generated password) as JSON.")
        var json = false

        func run(console: Console) async throws {
            let (password, generated) = AuthorityOperatorCommand.password()
            let record = try await dataDirectory.withAuthority { authority in
                try await authority.createOperator(login: login, name: name, role: role, password: password, actor: AuthorityDataDirectory.actor)
            }
            if json {
                var output: [String: String] = ["login": record.login, "name": record.name, "role": record.role.rawValue]
                if generated { output["password"] = password }
                console.print(Console.json(output))
            } else {
                console.print("Operator \(record.login) (\(record.name), \(record.role.rawValue)) created.")
                if generated {
                    console.print("password: \(password)")
                    console.error("The password is shown once and stored only as a bcrypt hash: give it to \(record.name) now.")
                }
            }
        }
    }

    /// `operator list`.
    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "List the operators, by login (never their passwords).")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Flag(help: "Print the list as JSON.")
        var json = false

        func run(console: Console) async throws {
            let records = try await dataDirectory.withAuthority { try await $0.store.operators() }
            if json {
                console.print(Console.json(records.map(AuthorityOperatorCommand.summary)))
            } else if records.isEmpty {
                console.print("No operator yet: keyward authority operator create --login L --name N --role admin")
            } else {
                console.print(
                    Console.table(
                        ["LOGIN", "NAME", "ROLE", "STATE"], records.map { [$0.login, $0.name, $0.role.rawValue, $0.active ? "active" : "disabled"] }))
            }
        }
    }

    /// `operator disable LOGIN`.
    struct Disable: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable an operator: their tokens are revoked at once; their name stays in the audit log.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The operator's login.")
        var login: String

        @Flag(help: "Print the operator as JSON.")
        var json = false

        func run(console: Console) async throws {
            let record = try await AuthorityOperatorCommand.setActive(login, false, in: dataDirectory)
            if json {
                console.print(Console.json(AuthorityOperatorCommand.summary(record)))
            } else {
                console.print("Operator \(record.login) is disabled; their tokens are revoked.")
            }
        }
    }

    /// `operator enable LOGIN`.
    struct Enable: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled operator again (their old tokens stay revoked).")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The operator's login.")
        var login: String

        @Flag(help: "Print the operator as JSON.")
        var json = false

        func run(console: Console) async throws {
            let record = try await AuthorityOperatorCommand.setActive(login, true, in: dataDirectory)
            if json {
                console.print(Console.json(AuthorityOperatorCommand.summary(record)))
            } else {
                console.print("Operator \(record.login) is enabled again.")
            }
        }
    }

    /// An operator as `--json` prints it: never the password's hash.
    static func summary(_ record: OperatorRecord) -> [String: String] {
        ["login": record.login, "name": record.name, "role": record.role.rawValue, "active": record.active ? "yes" : "no"]
    }
}
