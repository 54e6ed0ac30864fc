import Foundation
import KeywardCLI
import Synchronization
import Testing

/// Runs `keyward` commands: in this process through the command functions (``call(_:)``), or as the built binary
/// a person runs (``run(_:stdin:environment:timeout:)``), for what only the binary shows: standard input, the
/// environment, signals, serving, exit statuses.
struct Keyward {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `keyward arguments` in this process through ``KeywardCommand/run(_:console:)``, capturing what the command
    /// writes to standard output and standard error, and its exit status.
    @discardableResult
    static func call(_ arguments: [String]) async -> Result {
        let output = Captured()
        let errors = Captured()
        let status = await KeywardCommand.run(arguments, console: Console(output: output.append, errors: errors.append))
        return Result(status: status, stdout: output.text, stderr: errors.text)
    }

    /// Text a command wrote, in order.
    final class Captured: Sendable {
        private let buffer = Mutex("")

        @Sendable func append(_ text: String) { buffer.withLock { $0 += text } }
        var text: String { buffer.withLock { $0 } }
    }

    /// The `keyward` executable built beside this test bundle.
    static let executable: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the test runner is `<bin>/keywardPackageTests.xctest`; on macOS it sits inside a bundle.
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("keyward").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("keyward")
    }()

    /// The test process's environment, read once: each child is given it explicitly, so `Process.run()` never reads
    /// the process's `environ` while another thread of the test run might be spawning (a crash inside `Process.run()`
    /// was seen under the full suite's parallel load).
    static let environment = ProcessInfo.processInfo.environment

    /// A command still running after `timeout` seconds is stopped with SIGTERM (a `serve` that should have been refused
    /// would otherwise keep the test waiting for ever).
    @discardableResult
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:], timeout: TimeInterval = 300) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = Self.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let stop = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: stop)
        defer { stop.cancel() }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes before waiting, so a large output cannot fill a pipe and stall the child.
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }
}
