import Foundation
import KeywardDomain
import Testing

extension DomainTests {
    /// Replays every seed the fuzzers start from (`Fuzz/Corpus/<target>/`) and every input that once crashed one
    /// (`Fuzz/Regressions/<target>/`) through ``FuzzHarness``, the code the libFuzzer targets run, without building
    /// them: no input may crash, hang, break an invariant, or end in anything but a defined code. A file named
    /// `<CODE>-<what it is>` must end in CODE (`VALID`, `MALFORMED`, `BAD_SIGNATURE`, ...).
    @Suite(.timeLimit(.minutes(5)))
    struct FuzzCorpusTests {
        /// The repository root: this file is Tests/KeywardDomainTests/FuzzCorpusTests.swift.
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

        struct Input: Sendable, CustomTestStringConvertible {
            let target: FuzzTarget
            /// Relative to the repository root.
            let path: String

            var testDescription: String { path }

            /// CODE in a file named `CODE-...`, when CODE is one the target can end in.
            var expectedCode: String? {
                let name = (path as NSString).lastPathComponent
                guard let dash = name.firstIndex(of: "-") else { return nil }
                let code = String(name[..<dash])
                return target.rejectionCodes.union(FuzzHarness.acceptedCodes).contains(code) ? code : nil
            }
        }

        static func inputs(under folder: String) -> [Input] {
            FuzzTarget.allCases.flatMap { target -> [Input] in
                let directory = "Fuzz/\(folder)/\(target.rawValue)"
                let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(directory).path)) ?? []
                return names.filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }.sorted().map { Input(target: target, path: "\(directory)/\($0)") }
            }
        }

        static let corpus = inputs(under: "Corpus")
        static let regressions = inputs(under: "Regressions")

        @Test func everyTargetHasASeedCorpusWithValidAndRefusedInputs() {
            for target in FuzzTarget.allCases {
                let seeds = Self.corpus.filter { $0.target == target }
                #expect(
                    seeds.count >= 10,
                    "Fuzz/Corpus/\(target.rawValue) has \(seeds.count) seeds; regenerate it with `\(target.executableName) --generate-corpus`")
                #expect(seeds.contains { $0.expectedCode == "VALID" })
                #expect(seeds.contains { $0.expectedCode == "MALFORMED" })
            }
        }

        @Test(arguments: corpus)
        func seedReplays(_ input: Input) throws {
            try replay(input)
        }

        @Test(arguments: regressions)
        func regressionReplays(_ input: Input) throws {
            try replay(input)
        }

        // MARK: What the fuzzers found (each also has its input in Fuzz/Regressions/)

        /// base64url with more `=` than completes its last group decoded to the same bytes as the canonical text, so
        /// `key/<payload>=====.<signature>` was VALID: a second spelling of one access key (and of a signed document).
        @Test func strayPaddingIsRefusedInAccessKeysAndSignedDocuments() throws {
            #expect(Base64URL.decode(Array("AA==".utf8)) == [0x00])
            for text in ["AA======", "AAA=====", "AAAA====", "AAAA=", "AA===="] {
                #expect(Base64URL.decode(Array(text.utf8)) == nil, "\(text)")
            }
            let key = AccessKey.issue(
                LicenseKey(
                    serial: "KW-0000-0000-0000-0001", organization: FuzzHarness.organization, profile: .basic, useType: .floating, users: 2,
                    purchaseType: .trial, suiteVersion: "2.1", validFrom: FuzzHarness.now, expiresAt: FuzzHarness.now.addingTimeInterval(86_400),
                    components: ["DOC"], issuedAt: FuzzHarness.now),
                signedWith: FuzzHarness.signingKey)
            #expect(FuzzHarness.verifier.verify(key, now: FuzzHarness.now).code == .valid)
            let parts = key.split(separator: ".")
            let stray =
                parts[0].replacingOccurrences(of: "=", with: "") + String(repeating: "=", count: 4 + parts[0].filter { $0 == "=" }.count) + "."
                + parts[1]
            #expect(FuzzHarness.verifier.verify(stray, now: FuzzHarness.now).code == .malformed)

            var document = SignedDocument.sign(Data("{\"v\":1}".utf8), for: .feed, with: FuzzHarness.signingKey)
            document.payload += "===="
            #expect(throws: SignedDocument.Failure.malformed) { try document.verifiedPayload(for: .feed, trust: FuzzHarness.trust) }
        }

        /// An offset moved 0000-01-01 or 9999-12-31 outside the four-digit years `Timestamp.format` writes: a signed key
        /// with such a time was read, but once written again (re-issued, stored) it no longer read back.
        @Test(arguments: [
            "0000-01-01T00:00:00+00:01", "0000-01-01T23:00:00+23:59", "9999-12-31T23:59:59-00:01", "9999-12-31T00:01:00.5-23:59",
            "9999-12-31T23:59:59.99999999Z",  // the fraction rounds up into the year 10000
        ])
        func timesOutsideTheFourDigitYearsAreRefused(text: String) throws {
            #expect(Timestamp.parse(text) == nil, "\(text)")
        }

        /// The edges themselves still read, and read back once written.
        @Test(arguments: ["0000-01-01T00:00:00Z", "0000-01-01T00:01:00+00:01", "9999-12-31T23:59:59Z", "9999-12-31T23:58:59-00:01"])
        func timesAtTheEdgesOfTheFourDigitYearsReadBack(text: String) throws {
            let date = try #require(Timestamp.parse(text), "\(text)")
            #expect(Timestamp.parse(Timestamp.format(date)) == date, "\(text)")
        }

        private func replay(_ input: Input) throws {
            let bytes = try [UInt8](Data(contentsOf: Self.root.appendingPathComponent(input.path)))
            let result = FuzzHarness.run(input.target, bytes)  // a parser that loops overruns the suite's time limit
            for violation in result.violations {
                Issue.record("\(input.path): \(violation)")
            }
            let defined = result.accepted ? FuzzHarness.acceptedCodes : input.target.rejectionCodes
            #expect(defined.contains(result.code), "\(input.path) ended in \(result.code), not a defined code")
            if let expected = input.expectedCode {
                #expect(result.code == expected, "\(input.path)")
            }
        }
    }
}
