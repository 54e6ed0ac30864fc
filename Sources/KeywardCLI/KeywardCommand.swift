import ArgumentParser
import Foundation
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// `keyward`: the one executable of both services and every admin task.
public struct KeywardCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "keyward",
        abstract: "Keyward: signed license keys, their registry, and access to the licensed components.",
        subcommands: [
            RegistryServeCommand.self, KeysCommand.self, ActivationCommand.self, UsersCommand.self, TokensCommand.self, AdminCommand.self,
            AuthorityCommand.self, KeyCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line `arguments` and returns the process exit status:
    /// 0 success, 1 a refusal or failure, 2 bad input (usage errors included).
    public static func run(_ arguments: [String]) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch let failure as CommandFailure {
            Console.error(failure.message)
            return failure.exitCode
        } catch let error as SettingError {
            Console.error("error: \(error.flag): \(error.message)")
            return 2
        } catch let error as StartupFailure {
            Console.error("error: \(error.message)")
            return 1
        } catch {
            let status = exitCode(for: error)
            let message = fullMessage(for: error)
            if status == .success {
                if !message.isEmpty { print(message) }
                return 0
            }
            if !message.isEmpty { Console.error(message) }
            // Usage errors share the bad-input status so scripts need to check one code.
            return status == .validationFailure ? 2 : status.rawValue
        }
    }
}

/// A command's refusal: what to tell the person, and the exit status.
struct CommandFailure: Error {
    let message: String
    let exitCode: Int32

    /// Bad input: exit 2, naming the field.
    static func badInput(_ field: String, _ message: String) -> CommandFailure {
        CommandFailure(message: "error: \(field): \(message)", exitCode: 2)
    }

    /// A refusal or failure that is not the input's shape: exit 1.
    static func failed(_ message: String) -> CommandFailure {
        CommandFailure(message: "error: \(message)", exitCode: 1)
    }
}

/// Standard error, for warnings and refusals; standard output carries only results.
enum Console {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func warning(_ line: String) {
        error("warning: \(line)")
    }

    /// A plain text table with aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    /// Pretty, key-sorted JSON for `--json` output.
    /// A progress bar on standard error, redrawn in place: `[#####.....] 45,000/100,000`.
    static func progress(_ done: Int, _ total: Int) {
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)".utf8))
    }

    static func json(_ value: some Encodable) -> String {
        // Our own plain values always encode.
        try! KeywardJSON.pretty(value)
    }
}
