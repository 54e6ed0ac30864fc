import Foundation
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// A key may carry no more users than the authority issues; keys already stored with more never bring the registry down.
    @Suite struct SeatCountTests {
        @Test(arguments: Backend.services)
        func aKeyWithMoreUsersThanTheAuthorityIssuesIsRefusedAndNothingIsWritten(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let before = try await harness.fingerprint()
                    let refused = try await api.register("Huge", harness.accessKey(users: 999_999_999_999_999_999))
                    #expect(refused.status == .unprocessableContent)
                    #expect(refused.errorCode == "MALFORMED")
                    #expect(try await harness.fingerprint() == before)
                    #expect(try await api.register("Most", harness.accessKey(users: LicenseKeySpecification.maximumUsers)).status == .created)
                }
            }
        }

        /// Keys stored before the cap: the activation state and its page add their seats up without trapping.
        @Test(arguments: Backend.services)
        func keysStoredWithHugeSeatCountsStillShowTheActivation(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                for number in 1...3 {
                    let serial = "KW-HUGE-000\(number)"
                    let license = LicenseKey(
                        serial: serial, organization: harness.registry.installation.organization, profile: .manager, useType: .nominative,
                        users: Int.max / 2, purchaseType: .sale, suiteVersion: "2.1", validFrom: Timestamp.parse("2026-01-01T00:00:00Z")!,
                        expiresAt: nil, components: ["DOC"], issuedAt: Timestamp.parse("2025-12-01T00:00:00Z")!)
                    try await harness.store.register(
                        RegisteredKey(
                            license: license, accessKey: harness.accessKey(serial: serial), kid: harness.signingKey.kid, idNumber: serial,
                            source: .manual, registeredAt: harness.clock.now, registeredBy: "test"),
                        actor: "test", now: harness.clock.now)
                }
                let state = try await harness.registry.activationState()
                #expect(state.change.seats == ["nominative": Int.max])
                try await harness.withAPI { api in
                    let reply = try await api.activation.state()
                    #expect(reply.status == .ok)
                    #expect(try reply.value.change.seats == ["nominative": Int.max])
                }
            }
        }
    }
}
