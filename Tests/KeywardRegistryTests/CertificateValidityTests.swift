import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// The certificate in force only gives way to a newer one, and stops granting anything once it expires.
    @Suite struct CertificateValidityTests {

        /// A certificate for this installation signed as the authority signs one, with `expiresAt` when given.
        static func certificate(_ harness: RegistryHarness, serials: [String], issuedAt: Date, expiresAt: Date?) -> SignedDocument {
            let list = serials.sorted().map { "\"\($0)\"" }.joined(separator: ",")
            let expiry = expiresAt.map { #""expiresAt":"\#(Timestamp.format($0))","# } ?? ""
            let json =
                #"{"environment":"production",\#(expiry)"installationId":"inst-test-1","issuedAt":"\#(Timestamp.format(issuedAt))","#
                + #""organization":{"id":"acme","legalName":"ACME"},"serials":[\#(list)],"v":1}"#
            return SignedDocument.sign(Data(json.utf8), for: .certificate, with: harness.signingKey)
        }

        static func install(_ api: RegistryAPI, _ document: SignedDocument) async throws -> RegistryAPI.Reply {
            try await api.call(.post, "/api/v1/activation/certificate", json: String(decoding: try JSONEncoder().encode(document), as: UTF8.self))
        }

        @Test(arguments: Backend.services)
        func aCertificateIssuedBeforeTheOneInForceIsRefusedAndNothingIsWritten(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    _ = try await api.register("One", harness.accessKey(serial: "KW-AAAA-0001"))
                    _ = try await api.register("Two", harness.accessKey(serial: "KW-AAAA-0002"))
                    let older = harness.certificate(serials: ["KW-AAAA-0001", "KW-AAAA-0002"])
                    harness.clock.advance(by: 3600)
                    let newer = harness.certificate(serials: ["KW-AAAA-0001"])
                    #expect(try await Self.install(api, newer).status == .ok)

                    let before = try await harness.fingerprint()
                    let refused = try await Self.install(api, older)
                    #expect(refused.status == .unprocessableContent)
                    #expect(refused.errorCode == "CERTIFICATE_OUTDATED")
                    #expect(refused.error?.message?.contains(Timestamp.format(harness.clock.now)) == true)
                    await #expect(throws: RegistryError.self) { try await harness.registry.install(older, method: .offline, actor: "test") }
                    #expect(try await harness.fingerprint() == before)
                    #expect(try await harness.store.activation()?.certificate.serials == ["KW-AAAA-0001"])

                    // The one in force again, and a newer one, are taken.
                    #expect(try await Self.install(api, newer).status == .ok)
                    harness.clock.advance(by: 60)
                    #expect(try await Self.install(api, harness.certificate(serials: ["KW-AAAA-0001", "KW-AAAA-0002"])).status == .ok)
                    #expect(try await harness.store.activation()?.certificate.serials == ["KW-AAAA-0001", "KW-AAAA-0002"])
                }
            }
        }

        @Test(arguments: Backend.services)
        func anExpiredCertificateIsRefusedAndNothingIsWritten(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    _ = try await api.register("One", harness.accessKey(serial: "KW-AAAA-0001"))
                    let before = try await harness.fingerprint()
                    let now = harness.clock.now
                    let expired = Self.certificate(harness, serials: ["KW-AAAA-0001"], issuedAt: now.addingTimeInterval(-30 * 86_400), expiresAt: now)
                    let refused = try await Self.install(api, expired)
                    #expect(refused.status == .unprocessableContent)
                    #expect(refused.errorCode == "CERTIFICATE_EXPIRED")
                    #expect(try await harness.fingerprint() == before)
                    #expect(try await api.activation.state().value.status == .never)
                }
            }
        }

        @Test(arguments: Backend.services)
        func anExpiredCertificateInForceGrantsNothingFromThenOn(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let key = try await harness.registry.register(
                        idNumber: "One", accessKey: harness.accessKey(serial: "KW-AAAA-0001"), actor: "test")
                    let now = harness.clock.now
                    let certificate = Self.certificate(harness, serials: [key.serial], issuedAt: now, expiresAt: now.addingTimeInterval(6 * 3600))
                    #expect(try await Self.install(api, certificate).status == .ok)
                    #expect(
                        try await api.call(
                            .post, "/api/v1/users", json: AccessAPITests.json(["login": "ann", "name": "Ann", "email": "ann@example.com"])
                        ).status == .created)
                    let group: [String: Any] = [
                        "idNumber": "Writers", "name": "Writers", "keySerial": key.serial, "component": "DOC", "menus": ["DC021"], "users": ["ann"],
                    ]
                    #expect(try await api.call(.post, "/api/v1/access-groups", json: AccessAPITests.json(group)).status == .created)
                    #expect(
                        harness.registry.access.snapshot.check(login: "ann", component: "DOC", menu: "DC021", at: harness.clock.now).code == .allowed)
                    #expect(try await api.activation.state().value.status == .active)

                    harness.clock.advance(by: 6 * 3600 - 1)
                    #expect(
                        harness.registry.access.snapshot.check(login: "ann", component: "DOC", menu: "DC021", at: harness.clock.now).code == .allowed)
                    harness.clock.advance(by: 1)  // the API token, good for 12 hours, still is
                    #expect(
                        harness.registry.access.snapshot.check(login: "ann", component: "DOC", menu: "DC021", at: harness.clock.now).code
                            == .keyNotActivated)
                    try await harness.registry.access.refresh()
                    #expect(
                        harness.registry.access.snapshot.check(login: "ann", component: "DOC", menu: "DC021", at: harness.clock.now).code
                            == .keyNotActivated)
                    #expect(try await api.activation.state().value.status == .required)
                    #expect(try await harness.registry.activationState().status == .required)
                }
            }
        }
    }
}
