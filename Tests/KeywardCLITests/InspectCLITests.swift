import Foundation
import KeywardDomain
import KeywardTestSupport
import Testing

@testable import KeywardCLI

extension CLITests {
    @Suite struct InspectCLITests {
        /// An authority directory, its public key, and one key valid from 2026 to 2099 for `acme`.
        static func withIssuedKey(_ body: (_ directory: URL, _ publicKey: String, _ accessKey: String) async throws -> Void) async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await AuthorityCLITests.initialize(directory)
                let publicKey = await Keyward.call(["authority", "public-key", "--data-dir", directory.path]).stdout.trimmingCharacters(in: .newlines)
                let accessKey = await Keyward.call(AuthorityCLITests.issueArguments(directory)).stdout.trimmingCharacters(in: .newlines)
                try await body(directory, publicKey, accessKey)
            }
        }

        @Test func printsTheKeyAndExitsZeroOnlyWhenValid() async throws {
            try await Self.withIssuedKey { _, publicKey, accessKey in
                let valid = try Keyward.run(["key", "inspect", "--trust", publicKey, "--at", "2027-01-01", accessKey])
                #expect(valid.status == 0)
                for line in [
                    "VALID", "Serial:", "acme (ACME Industries Ltd.)", "manager", "nominative", "25", "rental", "DOC, WF", "2099-12-31T00:00:00Z",
                ] {
                    #expect(valid.stdout.contains(line), "missing \(line)")
                }
                let early = try Keyward.run(["key", "inspect", "--trust", publicKey, "--at", "2025-06-01", accessKey])
                #expect(early.status == 1)
                #expect(early.stdout.contains("NOT_YET_VALID"))
            }
        }

        @Test func readsTheKeyFromStandardInputWithLineBreaks() async throws {
            try await Self.withIssuedKey { _, publicKey, accessKey in
                var wrapped = ""
                for (index, character) in accessKey.enumerated() {
                    if index > 0 && index % 64 == 0 { wrapped += "\n" }
                    wrapped.append(character)
                }
                let result = try Keyward.run(["key", "inspect", "--trust", publicKey, "--at", "2027-01-01", "-"], stdin: wrapped + "\n")
                #expect(result.status == 0)
                #expect(result.stdout.contains("VALID"))
            }
        }

        @Test func showsATamperedKeyAsRefused() async throws {
            try await Self.withIssuedKey { _, publicKey, accessKey in
                let parts = accessKey.split(separator: ".")
                var signature = Array(parts[1])
                signature[20] = signature[20] == "A" ? "B" : "A"
                let tampered = parts[0] + "." + String(signature)
                let result = await Keyward.call(["key", "inspect", "--trust", publicKey, "--json", String(tampered)])
                #expect(result.status == 1)
                let report = try JSONDecoder.iso8601.decode(KeyInspectCommand.InspectOutput.self, from: Data(result.stdout.utf8))
                #expect(report.code == .badSignature)
                #expect(report.message.isEmpty == false)
            }
        }

        @Test func refusesAKeyOfAnotherOrganization() async throws {
            try await Self.withIssuedKey { _, publicKey, accessKey in
                let result = await Keyward.call(["key", "inspect", "--trust", publicKey, "--organization", "globex", accessKey])
                #expect(result.status == 1)
                #expect(result.stdout.contains("WRONG_ORGANIZATION"))
            }
        }

        @Test func withoutTrustTheKeyIsDecodedButNotVerified() async throws {
            try await Self.withIssuedKey { _, _, accessKey in
                let result = await Keyward.call(["key", "inspect", accessKey])
                #expect(result.status == 1)
                #expect(result.stdout.contains("UNKNOWN_SIGNING_KEY"))
                #expect(result.stdout.contains("Serial:"))
                #expect(result.stderr.contains("no trusted authority key"))
            }
        }

        @Test(arguments: ["", "   ", "key/", "not a key at all"])
        func refusesGarbageAsMalformed(text: String) async throws {
            let result = await Keyward.call(["key", "inspect", "--trust", AuthoritySigningKey().publicKey.hex, "--json", text])
            #expect(result.status == 1)
            #expect(result.stdout.contains("\"MALFORMED\""))
        }

        @Test func refusesABadTrustKeyWithStatusTwo() throws {
            let result = try Keyward.run(["key", "inspect", "--trust", "beef", "key/x.y"])
            #expect(result.status == 2)
            #expect(result.stderr.contains("--trust"))
        }

        @Test(arguments: [
            [], ["authority"], ["authority", "init"], ["authority", "public-key"], ["authority", "issue"], ["key"], ["key", "inspect"],
        ])
        func everyCommandHasHelp(command: [String]) async throws {
            let result = await Keyward.call(command + ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("USAGE"))
        }
    }
}
