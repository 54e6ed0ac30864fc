import Foundation
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import Testing

extension RegistryTests {
    /// A login or heartbeat adds its own session to the snapshot, and a logout sets its user's lease on the key from the
    /// store, instead of reloading every open session; these pin down those shortcuts against the writes they can
    /// interleave with.
    @Suite struct SessionSnapshotTests {

        /// A floating key of 5 seats for WF, and ann in a group granting WF001 on it; returns the key.
        static func annInAGroupOnAFloatingKey(_ harness: RegistryHarness) async throws -> RegisteredKey {
            let key = try await harness.registerAndActivate(harness.accessKey(users: 5, useType: .floating, components: ["WF"]), idNumber: "Float")
            _ = try await harness.registry.createUser(UserInput(login: "ann", name: "Ann", email: "ann@example.com"), actor: "test")
            _ = try await harness.registry.createGroup(
                AccessGroupInput(
                    idNumber: "Writers", name: "Writers", keySerial: key.serial, component: "WF", menus: ["WF001"],
                    users: ["ann"]), actor: "test")
            return key
        }

        /// Found in review: a heartbeat's late patch put back a session that a logout had ended in between (renew written,
        /// logout written and reloaded, then the heartbeat's patch), so the check allowed the user again for a lease.
        @Test(arguments: Backend.services)
        func aLatePatchDoesNotBringBackAnEndedSession(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let registry = harness.registry
                let key = try await Self.annInAGroupOnAFloatingKey(harness)
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

        /// A logout keeps the user's other sessions on the same key, and only them: the lease left is the latest of theirs,
        /// not the ended session's.
        @Test(arguments: Backend.services)
        func aLogoutLeavesTheUsersOtherSessionsOnTheKey(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let registry = harness.registry
                let key = try await Self.annInAGroupOnAFloatingKey(harness)
                func allowed() -> Bool { registry.access.snapshot.check(login: "ann", component: "WF", menu: "WF001", at: harness.clock.now).allowed }

                let first = try await registry.openSession(login: "ann", ip: nil, actor: "test")
                harness.clock.advance(by: 10 * 60)
                let second = try await registry.openSession(login: "ann", ip: nil, actor: "test")
                #expect(first.keySerial == key.serial && second.keySerial == key.serial)
                _ = try await registry.endSession(second.id, reason: .logout, actor: "test")
                #expect(allowed(), "the first session still gives access")
                harness.clock.advance(by: 6 * 60)
                #expect(!allowed(), "the lease kept is the first session's (run out now), not the ended second's")

                let third = try await registry.openSession(login: "ann", ip: nil, actor: "test")
                #expect(allowed())
                _ = try await registry.endSession(third.id, reason: .logout, actor: "test")
                #expect(!allowed(), "no open session is left")
                _ = try await registry.endSession(third.id, reason: .logout, actor: "test")
                #expect(!allowed(), "ending an ended session changes nothing")
            }
        }

        /// Property: after concurrent logins, heartbeats and logouts of several users on two floating keys, with time
        /// passing, the patched snapshot answers every check as one reloaded from every open session does.
        @Test(arguments: Backend.services)
        func patchedSessionsAnswerAsAReload(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let registry = harness.registry
                let logins = ["ann", "bob", "cy", "dee"]
                var serials: [String] = []
                for (number, component) in ["WF", "DOC"].enumerated() {
                    let key = try await harness.registerAndActivate(
                        harness.accessKey(users: 3, useType: .floating, components: [component]), idNumber: "Float\(number)")
                    serials.append(key.serial)
                }
                for login in logins {
                    _ = try await registry.createUser(UserInput(login: login, name: login, email: "\(login)@example.com"), actor: "test")
                }
                let menus = [("WF", "WF001"), ("DOC", "DC021")]
                for (number, (component, menu)) in menus.enumerated() {
                    _ = try await registry.createGroup(
                        AccessGroupInput(
                            idNumber: "G\(number)", name: "G\(number)", keySerial: serials[number], component: component,
                            menus: [menu], users: logins), actor: "test")
                }
                func answers() -> [String] {
                    let snapshot = registry.access.snapshot
                    return logins.flatMap { login in
                        menus.map { component, menu in
                            "\(login) \(menu): \(snapshot.check(login: login, component: component, menu: menu, at: harness.clock.now).code)"
                        }
                    }
                }

                var random = SeededGenerator(seed: 6)
                var open: [String] = []
                var checked = 0
                for _ in 0..<25 {
                    // A batch of operations at once; sessions that ran out or were ended answer errors, which are expected.
                    let batch = (0..<8).map { _ in
                        (Int.random(in: 0..<3, using: &random), logins.randomElement(using: &random)!, open.randomElement(using: &random))
                    }
                    let opened = await withTaskGroup(of: String?.self) { group in
                        for (operation, login, session) in batch {
                            group.addTask {
                                switch (operation, session) {
                                case (0, _): return try? await registry.openSession(login: login, ip: nil, actor: "test").id
                                case (1, let id?): _ = try? await registry.heartbeat(id)
                                case (2, let id?): _ = try? await registry.endSession(id, reason: .logout, actor: "test")
                                default: break
                                }
                                return nil
                            }
                        }
                        return await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
                    }
                    open += opened
                    harness.clock.advance(by: TimeInterval(Int.random(in: 0...(8 * 60), using: &random)))
                    let patched = answers()
                    try await registry.access.refreshSessions()
                    #expect(patched == answers())
                    checked += patched.filter { $0.hasSuffix("allowed") }.count
                }
                #expect(checked > 0, "some checks were allowed through a session, so the comparison covered open sessions")
            }
        }
    }
}
