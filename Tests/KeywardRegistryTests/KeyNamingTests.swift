import Foundation
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// Keys are named by the ID # the administrator chose, and a revoked key is never bound to a group by mistake.
    @Suite struct KeyNamingTests {
        @Test func aSeatRefusalNamesTheKeyByItsIDNumber() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 1, components: ["DOC"]), idNumber: "Engineering")
                for login in ["ann", "bob"] {
                    _ = try await harness.registry.createUser(UserInput(login: login, name: login, email: "\(login)@example.com"), actor: "test")
                }
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(idNumber: "Docs", name: "Docs", keySerial: key.serial, component: "DOC", menus: ["DC021"], users: ["ann"]),
                    actor: "test")
                try await harness.withAPI { api in
                    let refused = try await api.groups.addUsers("Docs", ["bob"])
                    #expect(refused.errorCode == "SEAT_LIMIT_EXCEEDED")
                    let error = try #require(refused.error)
                    #expect(error.message?.hasPrefix("Key \u{201C}Engineering\u{201D} (\(key.serial)) has 1 seats") == true, "\(error)")
                    #expect(error.details["keyIdNumber"]?.string == "Engineering")
                    #expect(error.details["keySerial"]?.string == key.serial)
                }
            }
        }

        @Test func aGroupCannotBeBoundToARevokedKeyButOneAlreadyOnItCanBeEdited() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let verifier = AccessKeyVerifier(trustStore: harness.registry.trust)
                let text = harness.accessKey(serial: "KW-HDCX-SCMT-Q3F5-DM8X", users: 5, components: ["DOC"])
                let verified = verifier.verify(text, now: harness.clock.now)
                let feedKey = (license: try #require(verified.license), accessKey: text, kid: try #require(verified.kid))
                _ = try await harness.store.applyFeed(keys: [feedKey], revoked: [:], revision: 1, etag: nil, actor: "test", now: harness.clock.now)
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(idNumber: "Old", name: "Old", keySerial: feedKey.license.serial, component: "DOC", menus: ["DC021"]),
                    actor: "test")
                // The authority stops listing it: revoked.
                _ = try await harness.store.applyFeed(
                    keys: [], revoked: [feedKey.license.serial: "contract ended"], revision: 2, etag: nil, actor: "test",
                    now: harness.clock.now)
                let before = try await harness.fingerprint()
                await #expect(throws: RegistryError.self) {
                    _ = try await harness.registry.createGroup(
                        AccessGroupInput(
                            idNumber: "New", name: "New", keySerial: feedKey.license.serial, component: "DOC",
                            menus: ["DC021"]), actor: "test")
                }
                do {
                    _ = try await harness.registry.createGroup(
                        AccessGroupInput(
                            idNumber: "New", name: "New", keySerial: feedKey.license.serial, component: "DOC",
                            menus: ["DC021"]), actor: "test")
                } catch let error as RegistryError {
                    #expect(error.code == "KEY_REVOKED")
                    #expect(error.message.contains("contract ended") && error.message.contains("Choose another key"))
                }
                #expect(try await harness.fingerprint() == before)
                let renamed = try await harness.registry.updateGroup(
                    "Old",
                    AccessGroupInput(
                        idNumber: "Old", name: "Old, renamed", keySerial: feedKey.license.serial,
                        component: "DOC", menus: ["DC021"]), actor: "test")
                #expect(renamed.name == "Old, renamed")
                // Its data screen tells the truth: it grants nothing, and says what to do.
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let page = String(buffer: try await browser.request(.get, "/license-keys/\(feedKey.license.serial)").body)
                    #expect(page.contains("Grants nothing: the vendor revoked this key"))
                    #expect(!page.contains("Not covered yet"))
                    // Nor does the list suggest that activating would help it.
                    let list = String(buffer: try await browser.request(.get, "/license-keys").body)
                    #expect(list.contains(feedKey.license.serial) && !list.contains("badge-pending"))
                }
            }
        }
    }
}
