import ArgumentParser
import AsyncHTTPClient
import Foundation
import HummingbirdBcrypt
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import Logging

/// Runs `body` with the registry open, closing it after, and turns refusals into exit statuses.
func withRegistry(_ options: RegistryOptions, _ body: (Registry) async throws -> Void) async throws {
    try await withAuthorityHTTP { http in
        let registry = try await options.openRegistry(http: http)
        do {
            try await body(registry)
        } catch {
            await registry.store.database.close()
            switch error {
            case let error as RegistryError:
                if case .invalid = error { throw CommandFailure(message: "error: \(error.code): \(error.message)", exitCode: 2) }
                throw CommandFailure.failed("\(error.code): \(error.message)")
            case let error as StoreError:
                throw CommandFailure.failed("\(error.code): \(error.message)")
            default:
                throw error
            }
        }
        await registry.store.database.close()
    }
}

/// The built-in administrator's password under the users' rule (`UserRules.password`), or a bad-input failure.
func checkAdministratorPassword(_ password: String, field: String) throws {
    do {
        _ = try UserRules.password(password)
    } catch {
        throw CommandFailure.badInput(field, "use at least 12 characters and at most 72 bytes (72 letters without accents, fewer with).")
    }
}

/// Runs `body` with an HTTP client for the licensing authority (`HTTPClient.forAuthority()`), shut down after.
func withAuthorityHTTP<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
    let http = HTTPClient.forAuthority()
    let result: T
    do {
        result = try await body(http)
    } catch {
        try? await http.shutdown()
        throw error
    }
    try await http.shutdown()
    return result
}

/// `keyward keys ...`: the License key menu from the command line.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "List, register, show, rename and remove the registry's license keys.",
        subcommands: [List.self, Add.self, Show.self, Rename.self, Remove.self]
    )

    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "List the registered keys with their status.")
        @OptionGroup var options: RegistryOptions
        @Flag(help: "Print JSON.") var json = false

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                let now = registry.now()
                let activation = try await registry.store.activation()
                let keys = try await registry.store.keys()
                if json {
                    console.print(Console.json(keys.map { KeySummary($0, now: now, activation: activation) }))
                    return
                }
                let rows = keys.map { key -> [String] in
                    let status = key.status(at: now)
                    let days = key.license.expiresInDays(at: now).map { status == .valid ? "\($0)d" : "" } ?? "never"
                    return [
                        key.idNumber, key.serial, key.license.profile.rawValue, key.license.useType.rawValue, "\(key.license.users)",
                        status.rawValue, days, key.source.rawValue, activation?.certificate.serials.contains(key.serial) == true ? "yes" : "no",
                    ]
                }
                console.print(Console.table(["ID #", "SERIAL", "PROFILE", "USE TYPE", "USERS", "STATUS", "EXPIRES", "SOURCE", "ACTIVATED"], rows))
            }
        }
    }

    struct Add: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an access key (the on-premise way): exit 1 with its validation code when refused.")
        @OptionGroup var options: RegistryOptions
        @Option(name: .customLong("id-number"), help: "The ID # to file it under, e.g. Engineering.") var idNumber: String
        @Argument(help: "The access key, or - to read it from standard input.") var accessKey: String

        func run(console: Console) async throws {
            let text = accessKey == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : accessKey
            try await withRegistry(options) { registry in
                let key = try await registry.register(idNumber: idNumber, accessKey: text, actor: "cli")
                console.print("registered \(key.serial) as \"\(key.idNumber)\"")
                console.error("The installation must be activated again for this key to grant access: keyward activation status")
            }
        }
    }

    struct Show: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Show a key's data screen: its summary and components.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The key's serial.") var serial: String

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                guard let key = try await registry.store.key(serial) else {
                    throw StoreError(code: "UNKNOWN_KEY", message: "There is no registered key \(serial).", kind: .notFound)
                }
                let now = registry.now()
                console.print("ID #:           \(key.idNumber)")
                console.print(
                    KeyInspectCommand.report(AccessKeyVerification(code: key.status(at: now), license: key.license, kid: key.kid), now: now))
                console.print("Source:         \(key.source.rawValue)")
                if let reason = key.revocationReason { console.print("Revoked:        \(reason)") }
                console.print("\nComponents:")
                for component in registry.components(of: key) {
                    console.print("  \(component.code.padding(toLength: 6, withPad: " ", startingAt: 0)) \(component.name)")
                }
            }
        }
    }

    struct Rename: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's ID #, the only thing about it that may change.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The key's serial.") var serial: String
        @Argument(help: "The new ID #.") var idNumber: String

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                let key = try await registry.rename(serial, to: idNumber, actor: "cli")
                console.print("\(key.serial) is now \"\(key.idNumber)\"")
            }
        }
    }

    struct Remove: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a key from the registry.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The key's serial.") var serial: String

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                let key = try await registry.remove(serial, actor: "cli")
                console.print("removed \(key.serial) (\"\(key.idNumber)\")")
            }
        }
    }
}

/// `keyward activation ...`: activation for servers without a browser.
struct ActivationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activation",
        abstract: "See whether activation is required, write the offline request, install a certificate.",
        subcommands: [Status.self, Request.self, Apply.self]
    )

    struct Status: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the activation state and what activating would change. Exit 0 when active, 1 otherwise.")
        @OptionGroup var options: RegistryOptions

        func run(console: Console) async throws {
            var status = Registry.ActivationStatus.never
            try await withRegistry(options) { registry in
                let state = try await registry.activationState()
                status = state.status
                console.print(
                    "Installation:   \(registry.installation.installationId) (\(registry.installation.organization.id), \(registry.installation.environment.rawValue))"
                )
                console.print("Activation:     \(state.status.rawValue)")
                if let current = state.current {
                    console.print(
                        "In force:       \(current.certificate.serials.count) keys, issued \(current.certificate.issuedAt), installed \(Timestamp.format(current.installedAt)) (\(current.method.rawValue))"
                    )
                }
                let change = state.change
                if !change.isEmpty {
                    console.print("Activating would change:")
                    for serial in change.addedKeys { console.print("  + key \(serial)") }
                    for serial in change.removedKeys { console.print("  - key \(serial)") }
                    for code in change.addedComponents { console.print("  + component \(code)") }
                    for code in change.removedComponents { console.print("  - component \(code)") }
                    for (type, seats) in change.seats.sorted(by: { $0.key < $1.key }) {
                        console.print("  \(seats > 0 ? "+" : "")\(seats) \(type) seats")
                    }
                }
            }
            if status != .active { throw ExitCode(1) }
        }
    }

    struct Request: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the offline activation request for the vendor (`keyward authority activate --request FILE`).")
        @OptionGroup var options: RegistryOptions
        @Option(help: "Where to write it; standard output when absent.") var out: String?
        @Flag(help: "Ask to make this the production installation, demoting the current one.") var promote = false

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                let text = Console.json(try await registry.activationRequest(promote: promote)) + "\n"
                if let out {
                    try text.write(toFile: out, atomically: true, encoding: .utf8)
                    console.error(
                        "Activation request written to \(out). Send it to the vendor; install the certificate they return with: keyward activation apply FILE"
                    )
                } else {
                    console.print(text, terminator: "")
                }
            }
        }
    }

    struct Apply: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Install an activation certificate file from the vendor.")
        @OptionGroup var options: RegistryOptions
        @Argument(help: "The certificate file.") var file: String

        func run(console: Console) async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure.badInput("FILE", "cannot read \(file).") }
            guard let document = try? SignedDocument.read(data) else {
                throw CommandFailure.badInput(
                    "FILE",
                    "\(file) is not an activation certificate: it is not its JSON, or names a member twice. Ask the vendor for the file again.")
            }
            try await withRegistry(options) { registry in
                let activation = try await registry.install(document, method: .offline, actor: "cli")
                console.print("activated: \(activation.certificate.serials.count) keys, \(activation.certificate.environment.rawValue)")
            }
        }
    }
}

/// `keyward admin password`: resets the built-in administrator's password.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "The built-in administrator.",
        subcommands: [Password.self]
    )

    struct Password: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reset the built-in administrator's password; their web sessions and API tokens end.",
            discussion: "The new password comes from KEYWARD_ADMIN_PASSWORD, or --password-stdin, or is generated and printed once."
        )
        @OptionGroup var options: RegistryOptions
        @Flag(help: "Read the new password from standard input.") var passwordStdin = false

        func run(console: Console) async throws {
            let given =
                passwordStdin
                ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .newlines)
                : ProcessInfo.processInfo.environment["KEYWARD_ADMIN_PASSWORD"]
            if let given { try checkAdministratorPassword(given, field: "password") }
            let password = given ?? APIToken.generate().secret
            try await withRegistry(options) { registry in
                try await registry.store.setPassword("admin", hash: Bcrypt.hash(password, cost: PasswordHasher.cost), actor: "cli", now: Date())
            }
            if given == nil { console.print("New password for admin: \(password)") } else { console.print("Password for admin changed.") }
        }
    }
}
