import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistry
@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// A production installation the vendor demotes learns it from the feed at its next synchronization, and says so
    /// on every page and in the activation state (DESIGN.md section 6); promoted back, the notice goes.
    @Suite struct DemotionTests {
        @Test(arguments: Backend.services)
        func aDemotedProductionInstallationLearnsItAtItsNextSynchronization(backend: Backend) async throws {
            try await SynchronizationTests.withAuthority { authority, url, token in
                let key = try await authority.issue(SynchronizationTests.spec, organizationId: "acme", actor: "test")
                try await RegistryHarness.run(
                    backend, authority: AuthorityClient(baseURL: url, token: token, http: .forTests), trusting: authority.keyring.publicKeys
                ) { harness in
                    harness.clock.set(Date())
                    let synchronizer = Synchronizer(registry: harness.registry, autoActivate: true)
                    // The first synchronization activates this installation (inst-test-1) as production: a new feed revision.
                    let first = try await synchronizer.run(trigger: .manual, actor: "user:admin")
                    #expect(first.outcome == .succeeded && first.activationError == nil, "\(first.summary) \(first.activationError ?? "")")
                    let revision = try #require(try await authority.store.revision(of: "acme"))
                    _ = try await synchronizer.run(trigger: .manual, actor: "user:admin")
                    #expect(try await harness.registry.environmentNotice() == nil, "the feed names this installation")
                    let production = try await authority.store.installations(of: "acme").filter { $0.environment == .production }
                    #expect(production.map(\.installationId) == ["inst-test-1"])

                    // The vendor promotes another installation: this one is demoted, and the feed's revision rises.
                    _ = try await authority.activate(
                        ActivationRequestFile(
                            organizationId: "acme", installationId: "inst-new-dc", environment: .production, serials: [key.serial], promote: true,
                            reason: "Moved to the new data center"), actor: "operator:clara")
                    #expect(try await authority.store.revision(of: "acme")! > revision)
                    let feed = try SignedDocument.decode(
                        FeedEnvelope.self,
                        payload: try KeywardJSON.decoder.decode(SignedDocument.self, from: Data(try await authority.feed("acme").body))
                            .verifiedPayload(for: .feed, trust: authority.keyring.trustStore))
                    #expect(feed.productionInstallationId == "inst-new-dc", "the feed names the production installation")
                    _ = try await synchronizer.run(trigger: .manual, actor: "user:admin")
                    let notice = try #require(try await harness.registry.environmentNotice())
                    #expect(notice.contains("no longer the production installation") && notice.contains("inst-new-dc"))

                    // Every page says so, and so does the activation state of the API.
                    let app = Application(
                        router: buildRegistryRouter(
                            try await RegistryDependencies(registry: harness.registry, metrics: .init(), throttle: harness.throttle)))
                    try await app.test(.router) { client in
                        var browser = TestBrowser(client: client)
                        _ = try await browser.logIn()
                        let page = String(buffer: try await browser.request(.get, "/license-keys").body)
                        #expect(page.contains(#"id="environment-banner""#) && page.contains("inst-new-dc"))
                    }
                    try await harness.withAPI { api in
                        let state = try await api.activation.state().value
                        #expect(state.environmentNotice?.contains("inst-new-dc") == true)
                    }

                    // Promoted back by the vendor: the notice goes at the next synchronization.
                    _ = try await authority.promote(organizationId: "acme", installationId: "inst-test-1", reason: "Back", actor: "operator:clara")
                    _ = try await synchronizer.run(trigger: .manual, actor: "user:admin")
                    #expect(try await harness.registry.environmentNotice() == nil)
                }
            }
        }

        @Test func aTestInstallationTheVendorPromotedIsToldToChangeItsEnvironment() async throws {
            try await RegistryHarness.run(.sqliteFile, environment: .test) { harness in
                try await harness.registry.noteProductionInstallation("inst-test-1")
                let notice = try #require(try await harness.registry.environmentNotice())
                #expect(notice.contains("configured as a test installation"))
                try await harness.registry.noteProductionInstallation("inst-other")
                #expect(try await harness.registry.environmentNotice() == nil, "a test installation while another is production is as it should be")
            }
        }
    }
}
