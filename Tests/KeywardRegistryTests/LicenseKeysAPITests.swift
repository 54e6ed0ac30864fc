import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    @Suite struct RegistryLicenseKeysTests {
        /// The tests read answers through the DTOs' decoders, two of them written by hand: decoding an answer and
        /// encoding it again gives back the very bytes the API sent, so nothing is lost or read differently.
        @Test func theKeyDTOsDecodeExactlyWhatTheAPIEncodes() async throws {
            try await RegistryHarness.run(.sqliteMemory) { harness in
                try await harness.withAPI { api in
                    let forever = harness.accessKey(serial: "KW-AAAA-0002", expiresAt: nil)
                    #expect(
                        try await api.keys.register(idNumber: "Engineering", accessKey: harness.accessKey(serial: "KW-AAAA-0001")).status == .created)
                    #expect(try await api.keys.register(idNumber: "Forever", accessKey: forever).status == .created)
                    let detail = try await api.call(.get, "/api/v1/license-keys/KW-AAAA-0001")
                    #expect(try KeywardJSON.encoder.encode(detail.decode(KeyDetail.self)) == detail.body)
                    let list = try await api.call(.get, "/api/v1/license-keys")
                    #expect(try KeywardJSON.encoder.encode(ItemsResponse(items: list.decode(Page<KeySummary>.self).items)) == list.body)
                }
            }
        }

        @Test(arguments: Backend.services)
        func registersListsShowsRenamesAndRemovesKeys(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    var wrapped = ""
                    let accessKey = harness.accessKey(serial: "KW-AAAA-0001")
                    for (index, character) in accessKey.enumerated() {
                        if index > 0 && index % 64 == 0 { wrapped += "\r\n" }
                        wrapped.append(character)
                    }
                    let created = try await api.keys.register(idNumber: "Engineering", accessKey: wrapped.replacingOccurrences(of: "=", with: ""))
                    #expect(created.status == .created)
                    #expect(try created.value.summary.status == .valid)
                    #expect(try created.value.components.map(\.name) == ["Document", "Workflow"])

                    let list = try await api.keys.list().value.items
                    #expect(list.count == 1)
                    let item = try #require(list.first)
                    #expect(item.serial == "KW-AAAA-0001")
                    #expect(item.idNumber == "Engineering")
                    #expect(item.source == .manual)
                    #expect(item.expiresInDays == 213)
                    #expect(item.componentCount == 2)
                    #expect(item.activated == false)
                    #expect(item.useType == .nominative)

                    let renamed = try await api.keys.rename("KW-AAAA-0001", to: "SOX")
                    #expect(try renamed.value.summary.idNumber == "SOX")
                    #expect(try await api.keys.show("KW-AAAA-0001").value.summary.idNumber == "SOX")
                    #expect(try await api.call(.delete, "/api/v1/license-keys/KW-AAAA-0001").status == .noContent)
                    #expect(try await api.keys.show("KW-AAAA-0001").errorCode == "UNKNOWN_KEY")
                    let audit = try await api.audit.events("target=license-key:KW-AAAA-0001").value.items.map(\.action)
                    #expect(audit == ["license-key.removed", "license-key.renamed", "license-key.registered"])
                }
            }
        }

        @Test(arguments: Backend.services)
        func everyRefusedRegistrationLeavesTheStoreAsItWas(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    #expect(try await api.register("Taken", harness.accessKey(serial: "KW-AAAA-0001")).status == .created)
                    let before = try await harness.fingerprint()
                    let stranger = AuthoritySigningKey()
                    let good = harness.accessKey(serial: "KW-AAAA-0002")
                    let parts = good.split(separator: ".")
                    var flipped = Array(parts[1])
                    flipped[10] = flipped[10] == "A" ? "B" : "A"
                    let v2 = harness.signingKey.signature(for: Array(("key/" + Base64URL.encode(Array(#"{"v":2,"kid":"x"}"#.utf8))).utf8))
                    let cases: [(String, String, String)] = [
                        ("Fine", "not a key", "MALFORMED"),
                        ("Fine", "key/" + Base64URL.encode(Array(#"{"v":2,"kid":"x"}"#.utf8)) + "." + Base64URL.encode(v2), "UNSUPPORTED_VERSION"),
                        ("Fine", harness.accessKey(serial: "KW-AAAA-0003", signedWith: stranger), "UNKNOWN_SIGNING_KEY"),
                        ("Fine", parts[0] + "." + String(flipped), "BAD_SIGNATURE"),
                        ("Fine", harness.accessKey(serial: "KW-AAAA-0004", organization: "globex"), "WRONG_ORGANIZATION"),
                        ("Fine", harness.accessKey(serial: "KW-AAAA-0005", validFrom: "2026-09-01T00:00:00Z"), "NOT_YET_VALID"),
                        ("Fine", harness.accessKey(serial: "KW-AAAA-0006", expiresAt: "2026-05-01T00:00:00Z"), "EXPIRED"),
                        ("Fine", harness.accessKey(serial: "KW-AAAA-0001"), "DUPLICATE_KEY"),
                        ("taken", harness.accessKey(serial: "KW-AAAA-0007"), "DUPLICATE_ID_NUMBER"),
                        ("", good, "INVALID_ID_NUMBER"),
                        ("   ", good, "INVALID_ID_NUMBER"),
                        (String(repeating: "x", count: 51), good, "INVALID_ID_NUMBER"),
                        // 17 letters with two marks each: 51 Unicode scalars, as the API description counts.
                        (String(repeating: "x\u{301}\u{302}", count: 17), good, "INVALID_ID_NUMBER"),
                        ("Tab\there", good, "INVALID_ID_NUMBER"),
                    ]
                    for (idNumber, accessKey, code) in cases {
                        let reply = try await api.register(idNumber, accessKey)
                        #expect(reply.errorCode == code, "expected \(code)")
                        #expect(reply.status == (code.hasPrefix("DUPLICATE") ? .conflict : .unprocessableContent), "\(code)")
                    }
                    #expect(try await api.call(.post, "/api/v1/license-keys", json: #"{"idNumber":"x"}"#).errorCode == "INVALID_FIELD")
                    #expect(try await api.call(.post, "/api/v1/license-keys", json: "[]").errorCode == "INVALID_JSON")
                    #expect(try await harness.fingerprint() == before)
                    #expect(
                        try await api.call(.patch, "/api/v1/license-keys/KW-AAAA-0001", json: #"{"idNumber":""}"#).errorCode == "INVALID_ID_NUMBER")
                    #expect(try await api.call(.patch, "/api/v1/license-keys/KW-NONE", json: #"{"idNumber":"x"}"#).errorCode == "UNKNOWN_KEY")
                    #expect(try await api.call(.delete, "/api/v1/license-keys/KW-NONE").errorCode == "UNKNOWN_KEY")
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }

        @Test(arguments: Backend.services)
        func twoConcurrentRegistrationsOfOneKeyGiveOneCreatedAndOneDuplicate(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    for round in 0..<5 {
                        let accessKey = harness.accessKey(serial: "KW-RACE-000\(round)")
                        async let first = api.register("First \(round)", accessKey)
                        async let second = api.register("Second \(round)", accessKey)
                        let outcomes = try await [first, second].map { $0.status == .created ? "201" : ($0.errorCode ?? "?") }.sorted()
                        #expect(outcomes == ["201", "DUPLICATE_KEY"], "round \(round)")
                    }
                    #expect(try await api.keys.list().value.items.count == 5)
                }
            }
        }
    }
}

extension RegistryTests {
    @Suite struct RegistryActivationTests {
        @Test(arguments: Backend.services)
        func aKeyAddedAfterTheActivationMakesItRequired(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    #expect(try await api.activation.state().value.status == .never)
                    _ = try await api.register("One", harness.accessKey(serial: "KW-AAAA-0001", users: 10))
                    let request = try await api.call(.get, "/api/v1/activation/request")
                    let file = try JSONDecoder().decode(ActivationRequestFile.self, from: request.body)
                    #expect(file.serials == ["KW-AAAA-0001"])
                    #expect(file.installationId == "inst-test-1")

                    let certificate = String(decoding: try JSONEncoder().encode(harness.certificate(serials: ["KW-AAAA-0001"])), as: UTF8.self)
                    let installed = try await api.call(
                        .post, "/api/v1/activation/certificate", json: certificate, as: ActivationController.StateResponse.self)
                    #expect(try installed.value.status == .active)
                    #expect(try await api.keys.list().value.items.first?.activated == true)

                    _ = try await api.register("Two", harness.accessKey(serial: "KW-AAAA-0002", users: 5, useType: .floating, components: ["AUD"]))
                    let state = try await api.activation.state().value
                    #expect(state.status == .required)
                    let change = state.change
                    #expect(change.addedKeys == ["KW-AAAA-0002"])
                    #expect(change.addedComponents == ["AUD"])
                    #expect(change.seats == ["floating": 5])
                    let keys = try await api.keys.list().value.items
                    #expect(keys.first { $0.serial == "KW-AAAA-0002" }?.activated == false)

                    // Removing a key is a change too.
                    _ = try await api.call(.delete, "/api/v1/license-keys/KW-AAAA-0001")
                    let afterRemoval = try await api.activation.state().value.change
                    #expect(afterRemoval.removedKeys == ["KW-AAAA-0001"])
                    #expect(afterRemoval.seats == ["floating": 5, "nominative": -10])
                }
            }
        }

        @Test(arguments: Backend.services)
        func refusesCertificatesThatAreNotForThisInstallation(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    _ = try await api.register("One", harness.accessKey(serial: "KW-AAAA-0001"))
                    let before = try await harness.fingerprint()
                    func install(_ document: SignedDocument) async throws -> RegistryAPI.Reply {
                        try await api.call(
                            .post, "/api/v1/activation/certificate", json: String(decoding: try JSONEncoder().encode(document), as: UTF8.self))
                    }
                    #expect(
                        try await install(harness.certificate(serials: ["KW-AAAA-0001"], signedWith: AuthoritySigningKey())).errorCode
                            == "UNTRUSTED_CERTIFICATE")
                    #expect(
                        try await install(harness.certificate(serials: ["KW-AAAA-0001"], installationId: "inst-other")).errorCode
                            == "WRONG_INSTALLATION")
                    #expect(
                        try await install(harness.certificate(serials: ["KW-AAAA-0001"], organization: "globex")).errorCode == "WRONG_INSTALLATION")
                    let testCertificate = ActivationCertificate(
                        installationId: "inst-test-1", organization: Organization(id: "acme", legalName: "ACME"),
                        environment: .test, serials: ["KW-AAAA-0001"], issuedAt: harness.clock.now
                    ).signed(with: harness.signingKey)
                    #expect(try await install(testCertificate).errorCode == "WRONG_INSTALLATION")
                    var tampered = harness.certificate(serials: ["KW-AAAA-0001"])
                    tampered.payload = Base64URL.encode(Array(#"{"v":1}"#.utf8))
                    #expect(try await install(tampered).errorCode == "UNTRUSTED_CERTIFICATE")
                    // A feed's signature is not a certificate's.
                    let feed = FeedEnvelope(
                        organization: Organization(id: "acme", legalName: "ACME"), revision: 1, issuedAt: harness.clock.now, keys: [], revoked: []
                    )
                    .signed(with: harness.signingKey)
                    #expect(try await install(feed).errorCode == "UNTRUSTED_CERTIFICATE")
                    #expect(try await api.call(.post, "/api/v1/activation/certificate", json: #"{"kid":1}"#).errorCode == "INVALID_FIELD")
                    #expect(try await api.call(.post, "/api/v1/activation").errorCode == "NO_AUTHORITY")
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }
    }
}

extension RegistryTests {
    @Suite struct RegistryAuthTests {
        @Test func logsInThrottlesGuessingAndRevokesTokens() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    let anonymous = RegistryAPI(client: api.client, token: nil)
                    #expect(try await anonymous.call(.get, "/api/v1/license-keys").status == .unauthorized)
                    #expect(try await anonymous.call(.get, "/api/v1/license-keys", token: "kw_bogus").status == .unauthorized)
                    for _ in 0..<3 {
                        let wrong = try await anonymous.call(.post, "/api/v1/auth/token", json: #"{"login":"admin","password":"guess"}"#)
                        #expect(wrong.status == .unauthorized)
                        #expect(wrong.errorCode == "INVALID_CREDENTIALS")
                    }
                    let throttled = try await anonymous.call(
                        .post, "/api/v1/auth/token", json: #"{"login":"admin","password":"\#(RegistryHarness.password)"}"#)
                    #expect(throttled.status == .tooManyRequests)
                    #expect(Int(throttled.headers[.retryAfter] ?? "") ?? 0 > 0)
                    #expect(
                        try await anonymous.call(.post, "/api/v1/auth/token", json: #"{"login":"nobody","password":"x"}"#).errorCode
                            == "INVALID_CREDENTIALS")

                    // The token from before the guessing still works until revoked.
                    #expect(try await api.call(.get, "/api/v1/license-keys").status == .ok)
                    #expect(try await api.call(.delete, "/api/v1/auth/token").status == .noContent)
                    #expect(try await api.call(.get, "/api/v1/license-keys").status == .unauthorized)
                }
            }
        }

        @Test func aTokenExpires() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api async throws in
                    #expect(try await api.call(.get, "/api/v1/license-keys").status == .ok)
                    harness.clock.advance(by: 13 * 3600)
                    #expect(try await api.call(.get, "/api/v1/license-keys").status == .unauthorized)
                }
            }
        }
    }
}
