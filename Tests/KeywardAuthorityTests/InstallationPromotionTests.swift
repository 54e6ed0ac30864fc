import Foundation
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardAuthorityHTTP

extension AuthorityTests {
    /// `POST /v1/organizations/{id}/installations/{installationId}/promote`: the vendor makes an installation
    /// production outside an activation, under the activation's rules.
    @Suite struct InstallationPromotionTests {
        static func promote(_ api: API, _ installation: String, reason: String = "The new data centre goes live.", token: String?? = .none)
            async throws -> Answer<FeedController.PromotionResponse>
        {
            try await api.call(
                .post, "/v1/organizations/acme/installations/\(installation)/promote", token: token, json: #"{"reason":"\#(reason)"}"#,
                as: FeedController.PromotionResponse.self)
        }

        /// acme with a production installation `inst-a` and a test installation `inst-b`: no change made yet.
        static func activateTwo(_ api: API) async throws {
            try await api.createOrganization("acme")
            let serial = try await api.issue("acme")
            for (installation, environment) in [("inst-a", "production"), ("inst-b", "test")] {
                let reply = try await api.activations.activate(
                    "acme", json: ActivationAPITests.request(installation, environment, serials: [serial]))
                #expect(reply.status == .created)
            }
        }

        @Test(arguments: Backend.services)
        func promotingDemotesTheOldProductionInstallationAndIsAudited(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await Self.activateTwo(api)
                    let revision = try #require(try await harness.store.revision(of: "acme"))
                    let clerk = try await harness.operatorToken("clerk.one", role: .clerk)
                    let promoted = try await Self.promote(api, "inst-b", token: clerk)
                    #expect(promoted.status == .ok, "\(promoted.reply.text)")
                    let result = try promoted.value
                    #expect(result.demoted == ["inst-a"])
                    #expect(result.environmentChangesThisMonth == 2 && result.environmentChangesAllowed == 3)
                    let environments = try await api.activations.list("acme").value.items
                    #expect(environments.map { "\($0.installationId)=\($0.environment.rawValue)" } == ["inst-a=test", "inst-b=production"])
                    let events = try await api.audit.events("action=installation.promoted").value.items
                    #expect(events.count == 1)
                    #expect(events.first?.actor == "operator:clerk.one" && events.first?.target == "installation:inst-b")
                    #expect(events.first?.details["reason"] == .string("The new data centre goes live."))
                    #expect(events.first?.details["demoted"] == .array([.string("inst-a")]))
                    // The feed names the production installation (DESIGN.md section 6): a promotion is a new revision, so the
                    // demoted registry learns it at its next synchronization.
                    #expect(try await harness.store.revision(of: "acme") == revision + 1)
                    let feed = try SignedDocument.decode(
                        FeedEnvelope.self,
                        payload: try KeywardJSON.decoder.decode(SignedDocument.self, from: Data(try await harness.authority.feed("acme").body))
                            .verifiedPayload(for: .feed, trust: harness.trust))
                    #expect(feed.productionInstallationId == "inst-b")
                }
            }
        }

        @Test(arguments: Backend.services)
        func aPromotionBeyondTheMonthsChangesIsRefusedSayingWhenTheNextIsPossible(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await Self.activateTwo(api)
                    #expect(try await Self.promote(api, "inst-b").status == .ok)  // 2 changes of 3
                    let before = try await harness.fingerprint()
                    let refused = try await Self.promote(api, "inst-a")  // 2 more
                    #expect(refused.status == .conflict)
                    #expect(refused.errorCode == "ENVIRONMENT_CHANGE_LIMIT")
                    #expect(refused.error?.details["nextChangeAt"] == .string("2026-04-01T00:00:00Z"))
                    #expect(refused.error?.message?.contains("possible from 2026-04-01T00:00:00Z") == true, "\(refused.reply.text)")
                    #expect(try await harness.fingerprint() == before, "a refused promotion writes nothing")
                    // Next month the organization may change again.
                    harness.clock.set(Timestamp.parse("2026-04-01T00:00:00Z")!)
                    #expect(try await Self.promote(api, "inst-a").value.demoted == ["inst-b"])
                }
            }
        }

        @Test func badPromotionsAreRefusedAndWriteNothing() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    try await Self.activateTwo(api)
                    let auditor = try await harness.operatorToken("auditor.one", role: .auditor)
                    let before = try await harness.fingerprint()
                    #expect(try await Self.promote(api, "inst-a").errorCode == "ALREADY_PRODUCTION")
                    #expect(try await Self.promote(api, "inst-z").errorCode == "UNKNOWN_INSTALLATION")
                    let blank = try await Self.promote(api, "inst-b", reason: "   ")
                    #expect(blank.status == .unprocessableContent && blank.errorCode == "INVALID_REASON")
                    let noReason = try await api.call(.post, "/v1/organizations/acme/installations/inst-b/promote", json: "{}")
                    #expect(noReason.errorCode == "INVALID_FIELD")
                    #expect(
                        try await api.call(.post, "/v1/organizations/nobody/installations/inst-b/promote", json: #"{"reason":"r"}"#).errorCode
                            == "UNKNOWN_ORGANIZATION")
                    #expect(try await harness.fingerprint() == before)
                    // An auditor's refusal leaves only its own audit line.
                    #expect(try await Self.promote(api, "inst-b", token: auditor).status == .forbidden)
                    let environments = try await api.activations.list("acme").value.items
                    #expect(environments.map(\.environment) == [.production, .test])
                }
            }
        }
    }
}
