import Foundation
import KeywardDomain
import Testing

extension DomainTests {
    @Suite struct KeyEncodingTests {
        @Test func privateKeyPEMRoundTrips() throws {
            let key = AuthoritySigningKey()
            #expect(key.pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
            #expect(key.pem.hasSuffix("-----END PRIVATE KEY-----\n"))
            let reloaded = try AuthoritySigningKey(pem: key.pem)
            #expect(reloaded.publicKey == key.publicKey)
            #expect(reloaded.kid == key.kid)
        }

        @Test func readsAnOpenSSLEd25519PrivateKey() throws {
            // Written by `openssl genpkey -algorithm ed25519` (RFC 8410 test key seed).
            let pem = """
                -----BEGIN PRIVATE KEY-----
                MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
                -----END PRIVATE KEY-----
                """
            let key = try AuthoritySigningKey(pem: pem)
            #expect(key.publicKey.hex == "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1")
            // Written back byte for byte as OpenSSL writes them (the files and the API's `pem` depend on it).
            #expect(key.pem == pem + "\n")
            #expect(
                key.publicKey.pem
                    == "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n")
        }

        @Test func rejectsAnX25519PrivateKey() {
            // The RFC 8410 test seed under the X25519 algorithm: the right shape, the wrong curve.
            let pem = """
                -----BEGIN PRIVATE KEY-----
                MC4CAQAwBQYDK2VuBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
                -----END PRIVATE KEY-----
                """
            #expect(throws: KeyEncodingError.invalidPrivateKey) { try AuthoritySigningKey(pem: pem) }
        }

        @Test func publicKeyReadsFromHexAndPEM() throws {
            let key = AuthoritySigningKey().publicKey
            #expect(key.hex.count == 64)
            #expect(try AuthorityPublicKey(hex: key.hex) == key)
            #expect(try AuthorityPublicKey(hex: key.hex.uppercased()) == key)
            #expect(try AuthorityPublicKey(pem: key.pem) == key)
            #expect(key.pem.hasPrefix("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"))
        }

        @Test func kidIsDerivedFromThePublicKey() throws {
            let key = AuthoritySigningKey().publicKey
            #expect(key.kid.count == 16)
            #expect(try AuthorityPublicKey(hex: key.hex).kid == key.kid)
        }

        @Test(arguments: ["", "abc", String(repeating: "g", count: 64), String(repeating: "a", count: 66)])
        func rejectsBadPublicKeyHex(text: String) {
            #expect(throws: KeyEncodingError.invalidPublicKey) { try AuthorityPublicKey(hex: text) }
        }

        @Test func rejectsAPrivateKeyThatIsNotEd25519() {
            // An EC P-256 key in PKCS #8: a PRIVATE KEY block, but not ours to read.
            let p256 = """
                -----BEGIN PRIVATE KEY-----
                MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2
                OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r
                1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G
                -----END PRIVATE KEY-----
                """
            #expect(throws: KeyEncodingError.invalidPrivateKey) { try AuthoritySigningKey(pem: p256) }
            #expect(throws: KeyEncodingError.invalidPrivateKey) { try AuthoritySigningKey(pem: "nothing here") }
        }
    }
}

extension DomainTests {
    @Suite struct TrustStoreTests {
        @Test func parsesHexLinesPEMBlocksAndComments() throws {
            let first = AuthoritySigningKey().publicKey
            let second = AuthoritySigningKey().publicKey
            let text = """
                # Keyward authority, production
                \(first.hex)   # current

                \(second.pem)
                """
            let keys = try TrustStore.parse(text)
            #expect(Set(keys) == [first, second])
            let store = TrustStore(keys)
            #expect(store.key(for: first.kid) == first)
            #expect(store.key(for: second.kid) == second)
            #expect(store.key(for: "0000000000000000") == nil)
        }

        @Test func namesTheBadLine() {
            let text = "# header\n\(AuthoritySigningKey().publicKey.hex)\nnot-a-key\n"
            #expect(throws: TrustFileError(line: 3, reason: KeyEncodingError.invalidPublicKey.description)) {
                try TrustStore.parse(text)
            }
        }
    }
}
