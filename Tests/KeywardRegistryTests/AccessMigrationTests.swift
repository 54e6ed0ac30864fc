import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Testing

extension RegistryTests {
    /// Migrate accesses, and activation of keys that cannot hold their users.
    @Suite struct AccessMigrationTests {
        static func users(_ harness: RegistryHarness, _ logins: [String]) async throws {
            for login in logins {
                _ = try await harness.registry.createUser(
                    UserInput(login: login, name: login.capitalized, email: "\(login)@example.com"), actor: "test")
            }
        }

        @Test(arguments: Backend.services)
        func accessesMoveToANewKeyAsAWholeWithinItsSeatsAndProfile(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let old = try await harness.registerAndActivate(harness.accessKey(users: 5, profile: .manager, components: ["DOC"]), idNumber: "Old")
                let new = try await harness.registerAndActivate(harness.accessKey(users: 3, profile: .staff, components: ["DOC"]), idNumber: "New")
                let other = try await harness.registerAndActivate(harness.accessKey(users: 9, components: ["WF"]), idNumber: "Workflow")
                try await Self.users(harness, ["ann", "bob", "cyd", "dee"])
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(
                        idNumber: "Managers", name: "Managers", keySerial: old.serial, component: "DOC",
                        menus: ["DC021", "DC030"], users: ["ann", "bob"]), actor: "test")
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(
                        idNumber: "Readers", name: "Readers", keySerial: old.serial, component: "DOC",
                        menus: ["DC021"], users: ["cyd", "dee"]), actor: "test")
                try await harness.withAPI { api in
                    func migrate(_ fields: [String: Any]) async throws -> Answer<AccessMigrationPlan> {
                        try await api.accessMigrations.migrate(json: jsonObject(["from": old.serial, "to": new.serial].merging(fields) { $1 }))
                    }
                    let before = try await harness.fingerprint()
                    let dry = try await migrate(["dryRun": true]).value
                    #expect(dry.canMove == false)
                    let reasons = dry.reasons
                    #expect(reasons.contains { $0.hasPrefix("Managers: MENU_NOT_ALLOWED_FOR_PROFILE") })
                    #expect(reasons.contains { $0.hasPrefix("SEAT_LIMIT_EXCEEDED") })
                    #expect(dry.to.after == 4)
                    #expect(dry.from.after == 0)

                    let refused = try await migrate([:])
                    #expect(refused.status == .conflict)
                    #expect(refused.errorCode == "MIGRATION_REFUSED")
                    #expect(try await migrate(["to": other.serial]).error.map { "\($0)" }?.contains("COMPONENT_NOT_IN_KEY") == true)
                    #expect(try await migrate(["groups": ["Nobody"]]).errorCode == "UNKNOWN_GROUP")
                    #expect(try await migrate(["to": old.serial]).errorCode == "SAME_KEY")
                    #expect(try await harness.fingerprint() == before, "no refusal and no dry run wrote anything")
                    #expect(try await harness.store.groups().allSatisfy { $0.keySerial == old.serial })

                    // One group, dropping the menu the staff key cannot give: it fits.
                    let plan = try await migrate(["groups": ["managers"], "dropDisallowedMenus": true, "dryRun": true]).value
                    #expect(plan.canMove == true)
                    #expect(plan.groups.first?.droppedMenus == ["DC030"])
                    #expect(plan.to.after == 2)
                    let applied = try await migrate(["groups": ["managers"], "dropDisallowedMenus": true])
                    #expect(try applied.value.applied == true)
                    let moved = try #require(try await harness.store.group("Managers"))
                    #expect(moved.keySerial == new.serial)
                    #expect(moved.menus == ["DC021"])
                    let check = try await api.entitlements.check(login: "ann", component: "DOC", menu: "DC021").value
                    #expect(check.keySerial == new.serial)
                    #expect(check.profile == "staff")
                }
            }
        }

        @Test(arguments: Backend.services)
        func activatingAKeyThatCannotHoldItsUsersIsRefusedUnlessForced(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let verifier = AccessKeyVerifier(trustStore: harness.registry.trust)
                func feedKey(users: Int) throws -> (license: LicenseKey, accessKey: String, kid: String) {
                    let text = harness.accessKey(serial: "KW-HDCX-SCMT-Q3F5-DM8X", users: users, components: ["DOC"])
                    let verified = verifier.verify(text, now: harness.clock.now)
                    return (try #require(verified.license), text, try #require(verified.kid))
                }
                // A synchronized key of 3 seats, fully assigned in order ann, bob, cyd.
                _ = try await harness.store.applyFeed(
                    keys: [try feedKey(users: 3)], revoked: [:], revision: 1, etag: nil, actor: "test", now: harness.clock.now)
                try await harness.registry.install(harness.certificate(serials: ["KW-HDCX-SCMT-Q3F5-DM8X"]), method: .offline, actor: "test")
                try await Self.users(harness, ["ann", "bob", "cyd"])
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(
                        idNumber: "Docs", name: "Docs", keySerial: "KW-HDCX-SCMT-Q3F5-DM8X", component: "DOC",
                        menus: ["DC021"], users: ["ann", "bob"]), actor: "test")
                _ = try await harness.registry.changeMembers("Docs", add: true, logins: ["cyd"], actor: "test")
                // The authority renews it with 2 seats.
                _ = try await harness.store.applyFeed(
                    keys: [try feedKey(users: 2)], revoked: [:], revision: 2, etag: nil, actor: "test", now: harness.clock.now)
                try await harness.registry.access.refresh()

                try await harness.withAPI { api in
                    let certificate = String(
                        decoding: try JSONEncoder().encode(harness.certificate(serials: ["KW-HDCX-SCMT-Q3F5-DM8X"])), as: UTF8.self)
                    let refused = try await api.call(.post, "/api/v1/activation/certificate", json: certificate)
                    #expect(refused.status == .conflict)
                    #expect(refused.errorCode == "OVER_ALLOCATED")
                    let keys = try #require(refused.error?.details["keys"]?.array)
                    #expect(keys.first?["limit"] == 2)
                    #expect(keys.first?["inUse"] == 3)
                    #expect(keys.first?["overLimit"]?.strings == ["cyd"], "the most recently assigned user is the one over the limit")

                    #expect(try await api.call(.post, "/api/v1/activation/certificate?force=true", json: certificate).status == .ok)
                    func check(_ login: String) async throws -> String? {
                        try await api.entitlements.check(login: login, component: "DOC", menu: "DC021").value.code
                    }
                    #expect(try await check("ann") == "ALLOWED")
                    #expect(try await check("cyd") == "OVER_LIMIT")
                    // The UI shows who is over the limit: on the group's page and on the dashboard.
                    try await WebUITests().withBrowser(harness) { browser in
                        _ = try await browser.logIn()
                        let group = String(buffer: try await browser.request(.get, "/access-groups/Docs").body)
                        #expect(group.contains(#"value="cyd"> cyd <span class="badge badge-overlimit""#))
                        #expect(!group.contains(#"value="ann"> ann <span class="badge badge-overlimit""#))
                        let dashboard = String(buffer: try await browser.request(.get, "/dashboard").body)
                        #expect(dashboard.contains("Over the limit on") && dashboard.contains(#"<strong class="over-limit-users">cyd</strong>"#))
                    }
                    // A seat frees up: cyd regains access by itself.
                    #expect(
                        try await api.call(.delete, "/api/v1/access-groups/Docs/users", json: AccessAPITests.json(["logins": ["bob"]])).status == .ok)
                    #expect(try await check("cyd") == "ALLOWED")
                }
            }
        }
    }
}
