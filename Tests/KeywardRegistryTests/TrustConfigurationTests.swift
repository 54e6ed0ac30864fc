import Foundation
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import Testing

extension RegistryTests {
    @Suite struct TrustConfigurationTests {
        @Test func combinesKeysAndFiles() throws {
            let a = AuthoritySigningKey().publicKey
            let b = AuthoritySigningKey().publicKey
            let c = AuthoritySigningKey().publicKey
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("trust-\(UUID().uuidString).txt")
            defer { try? FileManager.default.removeItem(at: file) }
            try "# authority keys\n\(b.hex)\n\(c.pem)".write(to: file, atomically: true, encoding: .utf8)
            let store = try TrustConfiguration.load(keys: [a.hex], files: [file.path])
            #expect(Set(store.all) == [a, b, c])
        }

        @Test func namesTheBadKeyOrFile() throws {
            #expect(throws: TrustConfigurationError(message: "Trusted key #2 is \(KeyEncodingError.invalidPublicKey.description).")) {
                try TrustConfiguration.load(keys: [AuthoritySigningKey().publicKey.hex, "beef"], files: [])
            }
            let missing = "/nonexistent/keyward-trust.txt"
            do {
                _ = try TrustConfiguration.load(keys: [], files: [missing])
                Issue.record("a missing trust file was accepted")
            } catch {
                #expect(error.message.contains(missing))
            }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("trust-\(UUID().uuidString).txt")
            defer { try? FileManager.default.removeItem(at: file) }
            try "\(AuthoritySigningKey().publicKey.hex)\nnot a key\n".write(to: file, atomically: true, encoding: .utf8)
            do {
                _ = try TrustConfiguration.load(keys: [], files: [file.path])
                Issue.record("a bad trust file was accepted")
            } catch {
                #expect(error.message.contains("line 2"))
            }
        }
    }
}
