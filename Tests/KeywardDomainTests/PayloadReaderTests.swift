import Foundation
import KeywardDomain
import KeywardTestSupport
import Testing

extension DomainTests {
    /// The hand-written payload reader must read exactly what JSON allows, nothing more.
    @Suite struct PayloadReaderTests {
        let signingKey = AuthoritySigningKey()
        var verifier: AccessKeyVerifier { AccessKeyVerifier(trustStore: TrustStore([signingKey.publicKey])) }

        func verify(_ json: String) -> AccessKeyVerification {
            verifier.verify(Fixtures.sign(json: json, with: signingKey), now: Fixtures.now)
        }

        var base: String { Fixtures.payloadJSON(of: AccessKey.issue(Fixtures.license(), signedWith: signingKey)) }

        @Test func readsEscapesAndNonASCIIText() {
            let json = base.replacingOccurrences(
                of: #""legalName":"ACME Industries Ltd.""#,
                with: #""legalName":"Caf\u00e9 \"Zo\u00eb\" \ud83d\ude80 \\ \/ Ltd. – Ünïcode""#)
            let result = verify(json)
            #expect(result.code == .valid)
            #expect(result.license?.organization.legalName == "Café \"Zoë\" 🚀 \\ / Ltd. – Ünïcode")
        }

        @Test func readsPrettyPrintedJSONAndNullExpiry() {
            let sale = Fixtures.license(purchaseType: .sale, expiresAt: nil)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted]
            var json = String(decoding: try! encoder.encode(sale), as: UTF8.self)
            json = "{\n  \"v\" : 1, \"kid\" : \"\(signingKey.kid)\", \"expiresAt\": null," + json.dropFirst()
            let result = verify(json)
            #expect(result.code == .valid)
            #expect(result.license == sale)
        }

        @Test func roundTripsWhatTheIssuerWrites() {
            var generator = SeededGenerator(seed: 42)
            for index in 0..<300 {
                let purchase = PurchaseType.allCases.randomElement(using: &generator)!
                let license = LicenseKey(
                    serial: Serial.generate(using: &generator),
                    organization: Organization(id: "org-\(index)", legalName: "Org \(index) “quoted” \u{1F600}"),
                    profile: Profile.allCases.randomElement(using: &generator)!,
                    useType: UseType.allCases.randomElement(using: &generator)!,
                    users: Int.random(in: 1...1_000_000, using: &generator),
                    purchaseType: purchase, suiteVersion: "\(index % 5).\(index % 7)",
                    validFrom: Date(timeIntervalSince1970: Double(Int.random(in: 0...1_700_000_000, using: &generator))),
                    expiresAt: purchase == .sale && index.isMultiple(of: 2) ? nil : Date(timeIntervalSince1970: 1_800_000_000 + Double(index)),
                    components: Array(["DOC", "WF", "AUD", "CFG", "QA", "RSK"].shuffled(using: &generator).prefix(1 + index % 6)),
                    issuedAt: Date(timeIntervalSince1970: 1_750_000_000)
                )
                let result = verifier.verify(AccessKey.issue(license, signedWith: signingKey), now: Date(timeIntervalSince1970: 1_790_000_000))
                #expect(result.license == license)
            }
        }

        /// One edit of the issued payload: replace `find` with `replace`; `^` and `$` stand for its start and end.
        struct Edit: Sendable, CustomTestStringConvertible {
            let name: String
            let find: String
            let replace: String
            var testDescription: String { name }

            func apply(to json: String) -> String {
                switch find {
                case "^": replace + json.dropFirst()
                case "$": json + replace
                default: json.replacingOccurrences(of: find, with: replace)
                }
            }
        }

        @Test(arguments: [
            Edit(name: "a duplicate key", find: #""users":25"#, replace: #""users":25,"users":2"#),
            Edit(name: "trailing garbage", find: "$", replace: "x"),
            Edit(name: "two documents", find: "$", replace: "{}"),
            Edit(name: "a fractional user count", find: #""users":25"#, replace: #""users":25.0"#),
            Edit(name: "an exponent user count", find: #""users":25"#, replace: #""users":2.5e1"#),
            Edit(name: "a string user count", find: #""users":25"#, replace: #""users":"25""#),
            Edit(name: "a leading zero", find: #""users":25"#, replace: #""users":025"#),
            Edit(name: "a huge number", find: #""users":25"#, replace: #""users":99999999999999999999999"#),
            Edit(name: "a raw control character", find: "ACME Industries", replace: "ACME\u{01}Industries"),
            Edit(name: "a bad escape", find: "ACME Industries", replace: #"ACME\qIndustries"#),
            Edit(name: "a lone surrogate", find: "ACME Industries", replace: #"ACME\ud83dIndustries"#),
            Edit(name: "a missing comma", find: #","users""#, replace: #" "users""#),
            Edit(name: "a trailing comma", find: #"["DOC","WF"]"#, replace: #"["DOC","WF",]"#),
            Edit(name: "a component that is not a string", find: #"["DOC","WF"]"#, replace: #"["DOC",7]"#),
            Edit(name: "a single-quoted string", find: #""profile":"manager""#, replace: #""profile":'manager'"#),
            Edit(name: "an organization that is a string", find: #"{"id":"acme","legalName":"ACME Industries Ltd."}"#, replace: #""acme""#),
            Edit(
                name: "a deeply nested unknown field", find: "^",
                replace: "{\"deep\":" + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + ","),
            Edit(name: "a byte order mark", find: "^", replace: "\u{FEFF}{"),
        ])
        func refusesWhatIsNotStrictJSON(edit: Edit) {
            let edited = edit.apply(to: base)
            #expect(edited != base, "the edit changed nothing")
            #expect(verify(edited).code == .malformed)
        }

        @Test func acceptsShallowNestingOfUnknownFields() {
            let json =
                "{\"deep\":" + String(repeating: "[", count: 20) + "{\"a\":[true,false,null,-1.5e-3]}" + String(repeating: "]", count: 20) + ","
                + base.dropFirst()
            #expect(verify(json).code == .valid)
        }
    }
}
