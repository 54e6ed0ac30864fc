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

/// `keyward tokens ...`: tokens for the suite's modules (session openings and entitlement checks).
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Create, list and revoke the registry's service tokens.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Create a service token; it is printed once and stored only as a hash.")
        @OptionGroup var options: RegistryOptions
        @Option(help: "The module that uses it, e.g. suite-login.") var service: String

        func run(console: Console) async throws {
            let name = service.trimmingCharacters(in: .whitespaces)
            guard (1...100).contains(name.count) else { throw CommandFailure.badInput("--service", "give the module's name, 1 to 100 characters.") }
            var text = ""
            try await withRegistry(options) { registry in
                text = try await registry.store.database.write { sql in
                    let made = try await TokenStore.create(kind: RegistryTokenKind.service, name: name, subject: nil, now: Date(), on: sql)
                    try await AuditLog.append(
                        .init(actor: "cli", action: "token.created", target: "token:\(made.record.id)", details: ["service": .string(name)]),
                        at: Date(), on: sql)
                    return made.token.text
                }
            }
            console.print(text)
        }
    }

    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "List service tokens (never their secrets).")
        @OptionGroup var options: RegistryOptions

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                let tokens = try await TokenStore(database: registry.store.database).list(kinds: [RegistryTokenKind.service])
                console.print(
                    Console.table(
                        ["ID", "SERVICE", "CREATED", "REVOKED"],
                        tokens.map {
                            [$0.id, $0.name, Timestamp.format($0.createdAt), $0.revokedAt.map(Timestamp.format) ?? ""]
                        }))
            }
        }
    }

    struct Revoke: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a service token by its id.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The token's id (the part after kw_).") var id: String

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                try await registry.store.database.write { sql in
                    _ = try await TokenStore.revoke(id: id, kinds: [RegistryTokenKind.service], now: Date(), on: sql)
                    try await AuditLog.append(.init(actor: "cli", action: "token.revoked", target: "token:\(id)"), at: Date(), on: sql)
                }
            }
            console.print("Token \(id) revoked.")
        }
    }
}
