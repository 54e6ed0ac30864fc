import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Testing

extension RegistryTests {
    /// A pasted key the vendor revokes or switches no longer blocks activation: synchronizing revokes it whatever its
    /// source, and an installation that never synchronizes learns it from its next certificate, online or offline.
    @Suite struct RevocationTests {
        static let spec = SynchronizationTests.spec

        /// A registry connected to a real authority, with one key issued for each ID # and pasted under it (manual keys).
        static func withPastedKeys(
            _ idNumbers: [String], backend: Backend,
            _ body: @escaping @Sendable (Authority, RegistryHarness, [IssuedKeyRecord]) async throws -> Void
        ) async throws {
            try await SynchronizationTests.withAuthority { authority, url, token in
                var keys: [IssuedKeyRecord] = []
                for _ in idNumbers { keys.append(try await authority.issue(Self.spec, organizationId: "acme", actor: "test")) }
                let issued = keys
                try await RegistryHarness.run(
                    backend, authority: AuthorityClient(baseURL: url, token: token, http: .forTests),
                    trusting: authority.keyring.publicKeys
                ) { harness in
                    harness.clock.set(Date())
                    for (id, key) in zip(idNumbers, issued) {
                        try await harness.registry.register(idNumber: id, accessKey: key.accessKey, actor: "test")
                    }
                    try await body(authority, harness, issued)
                }
            }
        }

        @Test(arguments: Backend.services)
        func pastedKeysTheVendorSwitchesOrRevokesAreRevokedAtTheNextSynchronization(backend: Backend) async throws {
            try await Self.withPastedKeys(["Engineering", "SOX"], backend: backend) { authority, harness, keys in
                do {
                    let switched = keys[0]
                    let cancelled = keys[1]
                    _ = try await harness.registry.activateOnline(actor: "test")
                    let replacement = try await authority.switchKey(switched.license.serial, to: Self.spec, actor: "test").issued
                    _ = try await authority.revoke(cancelled.license.serial, reason: "contract ended", actor: "test")

                    let run = try await Synchronizer(registry: harness.registry).run(trigger: .manual, actor: "user:admin")
                    #expect((run.added, run.revoked) == (1, 2))
                    #expect(run.activationError == nil, "\(run.activationError ?? "")")
                    let engineering = try #require(try await harness.store.key(switched.license.serial))
                    #expect(engineering.status(at: harness.clock.now) == .revoked)
                    #expect(engineering.revocationReason == "switched to \(replacement.license.serial)")
                    #expect(try await harness.store.key(cancelled.license.serial)?.revocationReason == "contract ended")
                    // The synchronization activated for what is valid: the replacement, not the revoked keys.
                    let state = try await harness.registry.activationState()
                    #expect(state.status == .active)
                    #expect(state.current?.certificate.serials == [replacement.license.serial])
                }
            }
        }

        @Test(arguments: Backend.services)
        func anInstallationThatNeverSynchronizesLearnsOfARevocationFromItsCertificate(backend: Backend) async throws {
            try await Self.withPastedKeys(["Kept", "Online", "Offline"], backend: backend) { authority, harness, keys in
                do {
                    let kept = keys[0]
                    let online = keys[1]
                    let offline = keys[2]
                    _ = try await harness.registry.activateOnline(actor: "test")

                    // Online: the next activation's certificate leaves the revoked key out and names it.
                    _ = try await authority.revoke(online.license.serial, reason: "contract ended", actor: "test")
                    let activation = try await harness.registry.activateOnline(actor: "user:admin")
                    #expect(activation.certificate.serials == [kept.license.serial, offline.license.serial].sorted())
                    #expect(activation.certificate.revoked?.map(\.serial) == [online.license.serial])
                    #expect(try await harness.store.key(online.license.serial)?.status(at: harness.clock.now) == .revoked)
                    #expect(try await harness.store.key(online.license.serial)?.revocationReason == "contract ended")
                    #expect(try await harness.registry.activationState().status == .active)

                    // Offline: the vendor answers the request file with a certificate that carries the revocation.
                    _ = try await authority.revoke(offline.license.serial, reason: "unpaid", actor: "test")
                    harness.clock.advance(by: 1)
                    let request = try await harness.registry.activationRequest()
                    #expect(request.serials.contains(offline.license.serial), "the registry does not know yet")
                    let answer = try await authority.activate(request, actor: "operator:offline")
                    #expect(answer.revoked.map(\.serial) == [offline.license.serial])
                    let installed = try await harness.registry.install(answer.certificate, method: .offline, actor: "user:admin")
                    #expect(installed.certificate.serials == [kept.license.serial])
                    #expect(try await harness.store.key(offline.license.serial)?.revocationReason == "unpaid")
                    #expect(try await harness.registry.activationState().status == .active)
                    let entitled = harness.registry.access.snapshot.check(login: "nobody", component: "DOC", menu: "DC021", at: harness.clock.now)
                    #expect(!entitled.allowed)
                }
            }
        }

        @Test(arguments: Backend.services)
        func theActivationPageWarnsInsteadOfCelebratingWhenKeysWereLeftOut(backend: Backend) async throws {
            try await Self.withPastedKeys(["Kept", "Gone"], backend: backend) { authority, harness, keys in
                do {
                    let gone = keys[1]
                    _ = try await authority.revoke(gone.license.serial, reason: "contract ended", actor: "test")
                    try await WebUITests().withBrowser(harness) { browser in
                        _ = try await browser.logIn()
                        let page = try await browser.request(.get, "/activation")
                        let activated = try await browser.request(.post, "/activation", form: ["_csrf": WebUITests.Browser.csrf(in: page) ?? ""])
                        #expect(activated.status == .seeOther)
                        let location = try #require(activated.headers[.location])
                        #expect(location == "/activation?flash=activated-with-revoked")
                        let shown = String(buffer: try await browser.request(.get, location).body)
                        #expect(shown.contains("flash-warning") && !shown.contains("flash-ok"))
                        #expect(shown.contains("Migrate their accesses"))
                        #expect(shown.contains(">Gone</a>") && shown.contains("contract ended"))
                    }
                }
            }
        }
    }
}

extension RegistryTests {
    /// A synchronization that brought keys but could not activate is shown as a warning that says what to do.
    @Suite struct PartialOutcomeTests {
        @Test(arguments: Backend.services)
        func aSynchronizationWhoseActivationWasRefusedIsAWarningNotASuccess(backend: Backend) async throws {
            try await SynchronizationTests.withAuthority { authority, url, token in
                let key = try await authority.issue(SynchronizationTests.spec, organizationId: "acme", actor: "test")
                // Another installation of acme is production: this one's activation is refused (PRODUCTION_EXISTS).
                _ = try await authority.activate(
                    ActivationRequestFile(
                        organizationId: "acme", installationId: "inst-other", environment: .production,
                        serials: [key.license.serial], promote: false), actor: "test")
                try await RegistryHarness.run(
                    backend, authority: AuthorityClient(baseURL: url, token: token, http: .forTests),
                    trusting: authority.keyring.publicKeys
                ) { harness in
                    harness.clock.set(Date())
                    let run = try await Synchronizer(registry: harness.registry).run(trigger: .manual, actor: "user:admin")
                    #expect(run.outcome == .succeeded)
                    #expect(run.activationError?.contains("PRODUCTION_EXISTS") == true)
                    try await WebUITests().withBrowser(harness) { browser in
                        _ = try await browser.logIn()
                        let page = String(buffer: try await browser.request(.get, "/license-keys?synchronization=\(run.id)").body)
                        #expect(page.contains("flash-warning"))
                        #expect(!page.contains("flash-ok"))
                        #expect(page.contains("Activation is still required") && page.contains("Open Activation"))
                    }
                }
            }
        }
    }
}
