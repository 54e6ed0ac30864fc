import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Prometheus
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// A delegated manager cannot climb to menus they do not hold: a user manager (CM011) cannot take over a License key
    /// administrator by setting their password, and a group manager (CM010) cannot add themselves to a License key group.
    @Suite struct DelegationTests {
        static let password = "a long enough password"

        /// Keepers hold CM009 (License key), userAdmin holds CM011 only, groupAdmin holds CM010 only, on one manager key.
        static func setUp(_ harness: RegistryHarness) async throws -> String {
            let key = try await harness.registerAndActivate(
                harness.accessKey(users: 20, profile: .manager, components: ["CFG", "DOC"]), idNumber: "Admins")
            for login in ["keeper", "useradmin", "groupadmin", "plain", "docs"] {
                _ = try await harness.registry.createUser(
                    UserInput(login: login, name: login, email: "\(login)@example.com", password: Self.password), actor: "test")
            }
            for (id, menus, users) in [
                ("Keepers", ["CM009"], ["keeper"]), ("UserAdmins", ["CM011"], ["useradmin"]), ("GroupAdmins", ["CM010"], ["groupadmin"]),
            ] {
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(idNumber: id, name: id, keySerial: key.serial, component: "CFG", menus: menus, users: users), actor: "test")
            }
            _ = try await harness.registry.createGroup(
                AccessGroupInput(idNumber: "Writers", name: "Writers", keySerial: key.serial, component: "DOC", menus: ["DC021"], users: ["docs"]),
                actor: "test")
            return key.serial
        }

        static func token(_ api: RegistryAPI, _ login: String) async throws -> RegistryAPI {
            let reply = try await RegistryAPI(client: api.client, token: nil).auth.logIn(login: login, password: Self.password)
            return RegistryAPI(client: api.client, token: try reply.value.token)
        }

        @Test(arguments: Backend.services)
        func aUserManagerCannotChangeAUserWhoHoldsMoreThanThey(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                _ = try await Self.setUp(harness)
                try await harness.withAPI { admin in
                    let manager = try await Self.token(admin, "useradmin")
                    let before = try await harness.fingerprint()
                    let hashBefore = try await harness.store.user("keeper")?.passwordHash
                    for (method, path, body) in [
                        (HTTPRequest.Method.patch, "/api/v1/users/keeper", #"{"password":"taken over at last!"}"#),
                        (.patch, "/api/v1/users/keeper", #"{"name":"Keeper"}"#), (.post, "/api/v1/users/keeper/disable", "{}"),
                        (.patch, "/api/v1/users/docs", #"{"password":"taken over at last!"}"#),
                    ] {
                        let refused = try await manager.call(method, path, json: body)
                        #expect(refused.status == .forbidden, "\(method) \(path)")
                        #expect(refused.errorCode == "FORBIDDEN", "\(method) \(path)")
                    }
                    #expect(try await harness.store.user("keeper")?.passwordHash == hashBefore)
                    #expect(try await harness.fingerprint() == before)
                    // A user who holds nothing beyond the manager, and the manager's own account, may still be changed.
                    #expect(try await manager.call(.patch, "/api/v1/users/plain", json: #"{"name":"Plain"}"#).status == .ok)
                    #expect(try await manager.call(.patch, "/api/v1/users/useradmin", json: #"{"name":"Me"}"#).status == .ok)
                    // The built-in administrator is not limited.
                    #expect(try await admin.call(.patch, "/api/v1/users/keeper", json: #"{"name":"Keeper"}"#).status == .ok)
                }
            }
        }

        @Test(arguments: Backend.services)
        func aGroupManagerCannotGrantAMenuTheyDoNotHold(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let serial = try await Self.setUp(harness)
                try await harness.withAPI { admin in
                    let manager = try await Self.token(admin, "groupadmin")
                    let before = try await harness.fingerprint()
                    let attempts: [(HTTPRequest.Method, String, String)] = [
                        (.post, "/api/v1/access-groups/Keepers/users", #"{"logins":["groupadmin"]}"#),
                        (.delete, "/api/v1/access-groups/Keepers/users", #"{"logins":["keeper"]}"#),
                        (
                            .post, "/api/v1/access-groups",
                            #"{"idNumber":"Mine","name":"Mine","keySerial":"\#(serial)","component":"CFG","menus":["CM009"],"users":["groupadmin"]}"#
                        ),
                        (
                            .put, "/api/v1/access-groups/GroupAdmins",
                            #"{"idNumber":"GroupAdmins","name":"G","keySerial":"\#(serial)","component":"CFG","menus":["CM010","CM009"]}"#
                        ),
                        (.delete, "/api/v1/access-groups/Keepers", ""),
                    ]
                    for (method, path, body) in attempts {
                        let refused = try await manager.call(method, path, json: body.isEmpty ? nil : body)
                        #expect(refused.status == .forbidden, "\(method) \(path)")
                        #expect(refused.errorCode == "FORBIDDEN", "\(method) \(path)")
                    }
                    #expect(try await harness.fingerprint() == before)
                    #expect(
                        !harness.registry.access.snapshot.check(login: "groupadmin", component: "CFG", menu: "CM009", at: harness.clock.now).allowed)
                    // Moving a group onto another key gives its menus back: not for someone who lacks them.
                    let spare = try await harness.registerAndActivate(
                        harness.accessKey(users: 20, profile: .manager, components: ["CFG", "DOC"]), idNumber: "Spare")
                    let moved = try await manager.call(
                        .post, "/api/v1/access-migrations",
                        json: #"{"from":"\#(serial)","to":"\#(spare.serial)","groups":["Keepers"]}"#)
                    #expect(moved.status == .forbidden)
                    #expect(moved.errorCode == "FORBIDDEN")
                    #expect(try await harness.store.group("Keepers")?.keySerial == serial)
                    // Granting what they hold is still theirs to do.
                    let own =
                        #"{"idNumber":"Helpers","name":"Helpers","keySerial":"\#(serial)","component":"CFG","menus":["CM010"],"users":["plain"]}"#
                    #expect(try await manager.call(.post, "/api/v1/access-groups", json: own).status == .created)
                }
            }
        }
    }
}
