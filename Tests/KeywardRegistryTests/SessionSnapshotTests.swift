import Foundation
import KeywardDomain
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Testing

/// A login or heartbeat adds its own session to the snapshot instead of reloading every open session; these pin down
/// that shortcut against the writes it can interleave with.
@Suite struct SessionSnapshotTests {
    static let backends = Backend.available.filter { $0 != .sqliteMemory }

    /// Found in review: a heartbeat's late patch put back a session that a logout had ended in between (renew written,
    /// logout written and reloaded, then the heartbeat's patch), so the check allowed the user again for a lease.
    @Test(arguments: backends)
    func aLatePatchDoesNotBringBackAnEndedSession(backend: Backend) async throws {
        try await RegistryHarness.run(backend) { harness in
            let registry = harness.registry
            let key = try await harness.registerAndActivate(harness.accessKey(users: 5, useType: .floating, components: ["WF"]), idNumber: "Float")
            _ = try await registry.createUser(UserInput(login: "ann", name: "Ann", email: "ann@example.com"), actor: "test")
            _ = try await registry.createGroup(GroupInput(idNumber: "Writers", name: "Writers", keySerial: key.serial, component: "WF", menus: ["WF001"], users: ["ann"]),
                                               actor: "test")
            func allowed() -> Bool { registry.access.snapshot.check(login: "ann", component: "WF", menu: "WF001", at: harness.clock.now).allowed }

            let session = try await registry.openSession(login: "ann", ip: nil, actor: "test")
            #expect(allowed(), "an open session on the floating key gives access")
            // The heartbeat's write lands, then a logout is written and reloaded, then the heartbeat's patch arrives.
            _ = try await harness.store.renewSession(session.id, lease: Registry.sessionLease, now: harness.clock.now)
            _ = try await registry.endSession(session.id, reason: .logout, actor: "test")
            #expect(!allowed(), "the logout took the seat back")
            try await registry.access.sessionOpenedOrRenewed(session.id)
            #expect(!allowed(), "the late patch did not bring the session back")

            // A heartbeat on a live session keeps access past the first lease, without a reload.
            let again = try await registry.openSession(login: "ann", ip: nil, actor: "test")
            harness.clock.advance(by: Registry.sessionLease - 60)
            _ = try await registry.heartbeat(again.id)
            harness.clock.advance(by: 120)
            #expect(allowed(), "the renewed lease is in the snapshot")
        }
    }
}
