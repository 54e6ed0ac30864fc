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
            DirectoryCommand.self, AuthorityCommand.self, KeyCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line `arguments` and returns the process exit status:
    /// 0 success, 1 a refusal or failure, 2 bad input (usage errors included).
    /// Everything the command prints goes to `console`: the process's own for `keyward`, a capture in the tests.
    public static func run(_ arguments: [String], console: Console = .standard) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if let command = command as? any ConsoleCommand {
                try await command.run(console: console)
            } else if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch let failure as CommandFailure {
            console.error(failure.message)
            return failure.exitCode
        } catch let error as SettingError {
            console.error("error: \(error.flag): \(error.message)")
            return 2
        } catch let error as StartupFailure {
            console.error("error: \(error.message)")
            return 1
        } catch {
            let status = exitCode(for: error)
            let message = fullMessage(for: error)
            if status == .success {
                if !message.isEmpty { console.print(message) }
                return 0
            }
            if !message.isEmpty { console.error(message) }
            // Usage errors share the bad-input status so scripts need to check one code.
            return status == .validationFailure ? 2 : status.rawValue
        }
    }
}

/// A command whose work writes through a ``Console`` it is given, so the tests can run it in-process and read what it
/// printed; `run()` is the same work on the process's standard output and error.
protocol ConsoleCommand: AsyncParsableCommand {
    func run(console: Console) async throws
}

extension ConsoleCommand {
    func run() async throws { try await run(console: .standard) }
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

/// Where a command writes: results on standard output; warnings, notes and refusals on standard error.
public struct Console: Sendable {
    private let writeOutput: @Sendable (String) -> Void
    private let writeError: @Sendable (String) -> Void

    /// A console that hands each piece of text, exactly as it would be written, to `output` or `errors`.
    public init(output: @escaping @Sendable (String) -> Void, errors: @escaping @Sendable (String) -> Void) {
        writeOutput = output
        writeError = errors
    }

    /// The process's standard output (through Swift's `print`, buffered as it always was) and standard error.
    public static let standard = Console(
        output: { Swift.print($0, terminator: "") }, errors: { FileHandle.standardError.write(Data($0.utf8)) })

    /// `text` and `terminator` on standard output, as `print` writes them.
    func print(_ text: String, terminator: String = "\n") {
        writeOutput(text + terminator)
    }

    /// A line on standard error.
    func error(_ line: String) {
        writeError(line + "\n")
    }

    func warning(_ line: String) {
        error("warning: \(line)")
    }

    /// Text on standard error as it is, with no line break added.
    func errorText(_ text: String) {
        writeError(text)
    }

    /// A plain text table with aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    /// A progress bar on standard error, redrawn in place: `[#####.....] 45,000/100,000`.
    func progress(_ done: Int, _ total: Int) {
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        writeError("\r[\(bar)] \(done)/\(total)")
    }

    /// Pretty, key-sorted JSON for `--json` output.
    static func json(_ value: some Encodable) -> String {
        // Our own plain values always encode.
        try! KeywardJSON.pretty(value)
    }
}
