// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for Keyward's parsers, in their own package so the main package never builds with the
// fuzzer sanitizer. Build from the repository root (scripts/verify_fuzz.py does, then runs each target):
//
//     swift build -c release --package-path Fuzz -Xswiftc -sanitize=fuzzer,address
//
// and run one, e.g. `SWIFT_BACKTRACE=enable=no Fuzz/.build/release/FuzzAccessKey -dict=Fuzz/Dictionaries/access-key.dict
// -max_total_time=300 <work corpus> Fuzz/Corpus/access-key`. Each target is a plain executable whose top-level code
// hands over to libFuzzer's `LLVMFuzzerRunDriver`: SwiftPM links executables with `main` aliased to the module's own
// entry point, so libFuzzer's `main` is never used (and `-parse-as-library` cannot be). Run with
// `--generate-corpus <dir>` instead, a target writes its seed corpus (Fuzz/Corpus/<target>/).
//
// FuzzHarness is a symbolic link to Tests/KeywardDomainTests/FuzzHarness.swift: the fuzzers and the corpus replay
// test (FuzzCorpusTests) send input to the parsers through the same code.
let package = Package(
    name: "KeywardFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "keyward", path: ".."),
    ],
    targets: [
        // Declares LLVMFuzzerRunDriver, which the fuzzer runtime linked by -sanitize=fuzzer defines.
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzHarness", dependencies: [.product(name: "KeywardDomain", package: "keyward")]),
        .target(name: "FuzzSupport", dependencies: ["FuzzHarness", "CLibFuzzer", .product(name: "KeywardDomain", package: "keyward")]),
        .executableTarget(name: "FuzzAccessKey", dependencies: ["FuzzSupport", "CLibFuzzer"]),
        .executableTarget(name: "FuzzFeedEnvelope", dependencies: ["FuzzSupport", "CLibFuzzer"]),
        .executableTarget(name: "FuzzActivationCertificate", dependencies: ["FuzzSupport", "CLibFuzzer"]),
    ]
)
