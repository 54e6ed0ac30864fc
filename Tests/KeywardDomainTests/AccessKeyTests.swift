import Foundation
import KeywardDomain
import KeywardTestSupport
import Testing

extension DomainTests {
    @Suite struct AccessKeyTests {
        let signingKey = AuthoritySigningKey()
        var verifier: AccessKeyVerifier { AccessKeyVerifier(trustStore: TrustStore([signingKey.publicKey])) }

        @Test func issuedKeyVerifiesAndCarriesEveryField() throws {
            let license = Fixtures.license()
            let accessKey = AccessKey.issue(license, signedWith: signingKey)
            #expect(accessKey.hasPrefix("key/"))
            let result = verifier.verify(accessKey, organization: "acme", now: Fixtures.now)
            #expect(result.code == .valid)
            #expect(result.license == license)
            #expect(result.kid == signingKey.kid)

            // Raw JSON on purpose: this pins the signed payload's field names, which decoding a LicenseKey would not show.
            let json = try JSONSerialization.jsonObject(with: Data(Fixtures.payloadJSON(of: accessKey).utf8)) as! [String: Any]
            #expect(json["v"] as? Int == 1)
            #expect(json["kid"] as? String == signingKey.kid)
            for field in [
                "serial", "organization", "profile", "useType", "users", "purchaseType", "suiteVersion", "validFrom", "expiresAt", "components",
            ] {
                #expect(json[field] != nil, "payload lacks \(field)")
            }
        }

        @Test func toleratesWhiteSpaceLineBreaksAndMissingPadding() {
            let accessKey = AccessKey.issue(Fixtures.license(), signedWith: signingKey)
            let unpadded = accessKey.replacingOccurrences(of: "=", with: "")
            #expect(unpadded != accessKey)
            var wrapped = ""
            for (index, character) in accessKey.enumerated() {
                if index > 0 && index % 60 == 0 { wrapped += index % 120 == 0 ? "\r\n" : "\n  " }
                wrapped.append(character)
            }
            for text in [unpadded, wrapped, "  \t" + accessKey + "\n\n"] {
                #expect(verifier.verify(text, now: Fixtures.now).code == .valid)
            }
        }

        @Test func ignoresUnknownFields() throws {
            let accessKey = AccessKey.issue(Fixtures.license(), signedWith: signingKey)
            var json = Fixtures.payloadJSON(of: accessKey)
            json.removeLast()
            json += #","futureField":{"nested":[1,2,3]},"zzz":"later"}"#
            let result = verifier.verify(Fixtures.sign(json: json, with: signingKey), now: Fixtures.now)
            #expect(result.code == .valid)
            #expect(result.license == Fixtures.license())
        }

        @Test func perpetualSaleHasNoExpiry() {
            let license = Fixtures.license(purchaseType: .sale, expiresAt: nil)
            let accessKey = AccessKey.issue(license, signedWith: signingKey)
            #expect(!Fixtures.payloadJSON(of: accessKey).contains("expiresAt"))
            let result = verifier.verify(accessKey, now: Timestamp.parse("2099-01-01T00:00:00Z")!)
            #expect(result.code == .valid)
            #expect(result.license?.expiresAt == nil)
        }

        @Test func verifiesKeysOfEveryTrustedSigningKey() {
            let older = AuthoritySigningKey()
            let trust = AccessKeyVerifier(trustStore: TrustStore([older.publicKey, signingKey.publicKey]))
            #expect(trust.verify(AccessKey.issue(Fixtures.license(), signedWith: older), now: Fixtures.now).code == .valid)
            #expect(trust.verify(AccessKey.issue(Fixtures.license(), signedWith: signingKey), now: Fixtures.now).code == .valid)
            #expect(older.kid != signingKey.kid)
        }

        @Test func sixteenKiBIsTheLimit() {
            let accessKey = AccessKey.issue(Fixtures.license(), signedWith: signingKey)
            let atLimit = accessKey + String(repeating: " ", count: AccessKey.maximumSize - accessKey.utf8.count)
            #expect(atLimit.utf8.count == AccessKey.maximumSize)
            #expect(verifier.verify(atLimit, now: Fixtures.now).code == .valid)
            #expect(verifier.verify(atLimit + " ", now: Fixtures.now).code == .malformed)
        }

        // MARK: Bad input: every case gives its code, never VALID, never a crash.

        @Test func refusesMalformedInput() throws {
            let accessKey = AccessKey.issue(Fixtures.license(), signedWith: signingKey)
            let signature = String(accessKey.split(separator: ".")[1])
            let cases: [(String, String)] = [
                ("empty", ""),
                ("only white space", " \n\t\r\n   "),
                ("1 MiB of text", String(repeating: "key/abcd", count: 131_072)),
                ("not base64", "key/this is not base64!!.@@@"),
                ("no prefix", String(accessKey.dropFirst(4))),
                ("no signature", String(accessKey.split(separator: ".")[0])),
                ("short signature", String(accessKey.dropLast(8))),
                ("base64 of something that is not JSON", "key/" + Base64URL.encode(Array("hello, world".utf8)) + "." + signature),
                ("JSON that is not an object", Fixtures.sign(json: "[1,2,3]", with: signingKey)),
                (
                    "JSON with missing fields",
                    Fixtures.sign(json: #"{"v":1,"kid":"\#(signingKey.kid)","serial":"KW-0000-0000-0000-0001"}"#, with: signingKey)
                ),
                ("JSON without a version", Fixtures.sign(json: #"{"kid":"\#(signingKey.kid)"}"#, with: signingKey)),
            ]
            for (name, text) in cases {
                #expect(verifier.verify(text, now: Fixtures.now).code == .malformed, "\(name)")
            }
        }

        @Test(arguments: [
            ("no seats", #""users":25"#, #""users":0"#),
            ("no components", #""components":["DOC","WF"]"#, #""components":[]"#),
            ("repeated component", #""components":["DOC","WF"]"#, #""components":["DOC","DOC"]"#),
            ("unknown profile", #""profile":"manager""#, #""profile":"owner""#),
            ("bad date", #""validFrom":"2026-01-01T00:00:00Z""#, #""validFrom":"January""#),
            ("expiry before validity", #""expiresAt":"2027-01-01T00:00:00Z""#, #""expiresAt":"2025-01-01T00:00:00Z""#),
        ])
        func refusesSignedPayloadsThatBreakTheKeyRules(name: String, from: String, to: String) {
            let base = Fixtures.payloadJSON(of: AccessKey.issue(Fixtures.license(), signedWith: signingKey))
            #expect(base.contains(from), "\(name): fixture changed")
            let text = Fixtures.sign(json: base.replacingOccurrences(of: from, with: to), with: signingKey)
            #expect(verifier.verify(text, now: Fixtures.now).code == .malformed, "\(name)")
        }

        @Test func refusesAnUnsupportedVersion() {
            let text = Fixtures.sign(json: #"{"v":2,"kid":"whatever","somethingNew":true}"#, with: signingKey)
            #expect(verifier.verify(text, now: Fixtures.now).code == .unsupportedVersion)
        }

        @Test func refusesAKeyEditedByOneCharacter() {
            let accessKey = AccessKey.issue(Fixtures.license(users: 25), signedWith: signingKey)
            let json = Fixtures.payloadJSON(of: accessKey).replacingOccurrences(of: #""users":25"#, with: #""users":95"#)
            let forged = "key/" + Base64URL.encode(Array(json.utf8)) + "." + accessKey.split(separator: ".")[1]
            #expect(verifier.verify(forged, now: Fixtures.now).code == .badSignature)
        }

        @Test(arguments: [0, 7, 200, 511])
        func refusesASignatureWithOneBitFlipped(bit: Int) throws {
            let accessKey = AccessKey.issue(Fixtures.license(), signedWith: signingKey)
            let parts = try #require(AccessKey.split(accessKey))
            var signature = parts.signature
            signature[bit / 8] ^= 1 << UInt8(bit % 8)
            let flipped = parts.signedText + "." + Base64URL.encode(signature)
            #expect(verifier.verify(flipped, now: Fixtures.now).code == .badSignature)
        }

        @Test func refusesASignatureTakenFromAnotherKey() {
            let mine = AccessKey.issue(Fixtures.license(serial: "KW-0000-0000-0000-0001"), signedWith: signingKey)
            let other = AccessKey.issue(Fixtures.license(serial: "KW-0000-0000-0000-0002"), signedWith: signingKey)
            let spliced = mine.split(separator: ".")[0] + "." + other.split(separator: ".")[1]
            #expect(verifier.verify(String(spliced), now: Fixtures.now).code == .badSignature)
        }

        @Test func refusesAnUnknownKid() {
            let stranger = AuthoritySigningKey()
            let result = verifier.verify(AccessKey.issue(Fixtures.license(), signedWith: stranger), now: Fixtures.now)
            #expect(result.code == .unknownSigningKey)
            #expect(result.kid == stranger.kid)
        }

        @Test func refusesAKidThatNamesATrustedKeyButWasSignedByAnother() {
            let stranger = AuthoritySigningKey()
            let json = Fixtures.payloadJSON(of: AccessKey.issue(Fixtures.license(), signedWith: stranger))
                .replacingOccurrences(of: stranger.kid, with: signingKey.kid)
            #expect(verifier.verify(Fixtures.sign(json: json, with: stranger), now: Fixtures.now).code == .badSignature)
        }

        @Test func refusesExpiredAndNotYetValidKeys() {
            let accessKey = AccessKey.issue(Fixtures.license(), signedWith: signingKey)
            #expect(verifier.verify(accessKey, now: Timestamp.parse("2025-12-31T23:59:59Z")!).code == .notYetValid)
            #expect(verifier.verify(accessKey, now: Timestamp.parse("2026-01-01T00:00:00Z")!).code == .valid)
            #expect(verifier.verify(accessKey, now: Timestamp.parse("2026-12-31T23:59:59Z")!).code == .valid)
            let expired = verifier.verify(accessKey, now: Timestamp.parse("2027-01-01T00:00:00Z")!)
            #expect(expired.code == .expired)
            #expect(expired.license?.serial == "KW-0000-0000-0000-0001")
        }

        @Test func refusesAKeyOfAnotherOrganizationWhenOneIsExpected() {
            let other = Organization(id: "globex", legalName: "Globex Corporation")
            let accessKey = AccessKey.issue(Fixtures.license(organization: other), signedWith: signingKey)
            #expect(verifier.verify(accessKey, organization: "acme", now: Fixtures.now).code == .wrongOrganization)
            #expect(verifier.verify(accessKey, organization: "globex", now: Fixtures.now).code == .valid)
            #expect(verifier.verify(accessKey, now: Fixtures.now).code == .valid)
        }

        // MARK: The order of the checks.

        @Test func checksInTheDocumentedOrder() {
            let stranger = AuthoritySigningKey()
            let expiredOther = Fixtures.license(
                organization: Organization(id: "globex", legalName: "Globex"),
                validFrom: Timestamp.parse("2020-01-01T00:00:00Z")!, expiresAt: Timestamp.parse("2021-01-01T00:00:00Z")!)
            // Unknown kid wins over a bad signature, the wrong organization and expiry.
            let unknown = AccessKey.issue(expiredOther, signedWith: stranger)
            #expect(verifier.verify(unknown + "", organization: "acme", now: Fixtures.now).code == .unknownSigningKey)
            // A bad signature wins over the wrong organization and expiry.
            let signed = AccessKey.issue(expiredOther, signedWith: signingKey)
            let tampered = Fixtures.sign(json: Fixtures.payloadJSON(of: signed), with: stranger)
            #expect(verifier.verify(tampered, organization: "acme", now: Fixtures.now).code == .badSignature)
            // The wrong organization wins over expiry.
            #expect(verifier.verify(signed, organization: "acme", now: Fixtures.now).code == .wrongOrganization)
            #expect(verifier.verify(signed, organization: "globex", now: Fixtures.now).code == .expired)
            // Version is judged before the kid.
            #expect(verifier.verify(Fixtures.sign(json: #"{"v":9,"kid":"nobody"}"#, with: stranger), now: Fixtures.now).code == .unsupportedVersion)
            // Malformed is judged first of all.
            #expect(verifier.verify(Fixtures.sign(json: #"{"v":"one"}"#, with: stranger), now: Fixtures.now).code == .malformed)
        }

        // MARK: Property: random mutations of a valid key are never VALID and never crash.

        @Test func randomMutationsAreNeverValid() {
            let accessKey = AccessKey.issue(Fixtures.license(), signedWith: signingKey)
            let original = Array(accessKey.utf8)
            let symbols = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=./+ \n{}\"".utf8)
            var generator = SeededGenerator(seed: 0x6B65_7977_6172_64)
            var judged = 0
            for _ in 0..<5_000 {
                var mutated = original
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let index = Int.random(in: 0..<mutated.count, using: &generator)
                    switch Int.random(in: 0..<5, using: &generator) {
                    case 0: mutated[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                    case 1: mutated[index] = symbols.randomElement(using: &generator)!
                    case 2: mutated.remove(at: index)
                    case 3: mutated.insert(symbols.randomElement(using: &generator)!, at: index)
                    default: mutated = Array(mutated.prefix(index))
                    }
                    if mutated.isEmpty { mutated = [UInt8(ascii: "k")] }
                }
                // White space and padding are not part of a key: a mutation that only moved them is the same key.
                guard Self.canonical(mutated) != Self.canonical(original) else { continue }
                judged += 1
                let text = String(decoding: mutated, as: UTF8.self)
                #expect(verifier.verify(text, now: Fixtures.now).code != .valid, "mutation accepted: \(text)")
            }
            #expect(judged > 4_500)
        }

        private static func canonical(_ bytes: [UInt8]) -> [UInt8] {
            bytes.filter { ![0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "=")].contains($0) }
        }
    }
}
