import CLibFuzzer
import Foundation
@_exported import FuzzHarness

/// What each fuzz target's `main.swift` calls: one input through the harness, and the program's entry point.
public enum Fuzzer {
    public typealias Callback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Runs one input; a broken invariant aborts, which libFuzzer reports as a crash and saves the input of.
    public static func testOne(_ target: FuzzTarget, _ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
        let result = FuzzHarness.run(target, bytes)
        if !result.violations.isEmpty {
            let report = result.violations.map { "INVARIANT BROKEN (\(target.rawValue)): \($0)\n" }.joined()
            FileHandle.standardError.write(Data(report.utf8))
            abort()
        }
        return 0
    }

    /// `--generate-corpus <dir>` writes the target's seed corpus, `--classify <file>...` shows what the harness makes
    /// of each file; anything else is libFuzzer's command line.
    public static func main(_ target: FuzzTarget, _ callback: Callback) -> Never {
        let arguments = CommandLine.arguments
        if let flag = arguments.firstIndex(of: "--generate-corpus") {
            guard flag + 1 < arguments.count else {
                FileHandle.standardError.write(Data("usage: \(arguments[0]) --generate-corpus <directory>\n".utf8))
                exit(2)
            }
            do {
                let directory = URL(fileURLWithPath: arguments[flag + 1], isDirectory: true)
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                let seeds = Seeds.all(for: target)
                for seed in seeds {
                    try Data(seed.bytes).write(to: directory.appendingPathComponent(seed.name))
                }
                print("wrote \(seeds.count) seeds to \(directory.path)")
                exit(0)
            } catch {
                FileHandle.standardError.write(Data("cannot write the corpus: \(error)\n".utf8))
                exit(1)
            }
        }
        // `--classify <file>...`: what the harness makes of each file, one `<code> <accepted> <file>` line each.
        if arguments.count > 1, arguments[1] == "--classify" {
            var broken = false
            for path in arguments.dropFirst(2) {
                guard let data = FileManager.default.contents(atPath: path) else {
                    print("UNREADABLE - \(path)")
                    broken = true
                    continue
                }
                let result = FuzzHarness.run(target, Array(data))
                print("\(result.code) \(result.accepted) \(path)")
                for violation in result.violations { print("  INVARIANT BROKEN: \(violation)") }
                broken = broken || !result.violations.isEmpty
            }
            fflush(nil)  // every stream: exit() under LeakSanitizer may not flush them
            exit(broken ? 1 : 0)
        }
        // The Swift runtime's backtracer would catch the crash signal before libFuzzer and sit in its own
        // report; it reads SWIFT_BACKTRACE only at start-up, so start again with it turned off.
        if getenv("SWIFT_BACKTRACE") == nil {
            setenv("SWIFT_BACKTRACE", "enable=no", 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
        }
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
    }
}
