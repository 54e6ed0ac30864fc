import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// The feed registries synchronize from, and activations.
struct FeedController: Sendable {
    let authority: Authority

    struct ActivationInput: Decodable {
        let installationId: String
        let environment: InstallationEnvironment
        let serials: [String]
        let promote: Bool?
        let reason: String?
    }

    struct ActivationResponse: ResponseCodable {
        let certificate: SignedDocument
        let installationId: String
        let environment: InstallationEnvironment
        /// The keys the certificate covers: those requested, less the revoked ones.
        let serials: [String]
        /// Keys the request named that are revoked, with the reason (the certificate carries them too).
        let revoked: [FeedEnvelope.Revoked]
        /// Installations this activation moved from production to test.
        let demoted: [String]
    }

    struct PromoteInput: Decodable {
        let reason: String
    }

    /// What a promotion did: the installations' environments now, and the month's changes used.
    struct PromotionResponse: ResponseCodable {
        let installationId: String
        let environment: InstallationEnvironment
        /// Installations the promotion moved from production to test.
        let demoted: [String]
        let environmentChangesThisMonth: Int
        let environmentChangesAllowed: Int
    }

    /// An activation request names every key of an installation: 100,000 serials are about 2.5 MiB.
    static let maximumActivationSize = 16 << 20

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group(authorizedBy: AuthorityRole.organization)
            .get(":id/feed", use: feed)
            .post(":id/activations", use: activate)
        routes.group(authorizedBy: AuthorityRole.operator)
            .get(":id/activations", use: installations)
            .post(":id/installations/:installationId/promote", use: promote)
        return routes
    }

    /// The organization's feed, or `304` when the registry has it already.
    @Sendable func feed(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let organizationId = try context.parameters.require("id")
        let presented = request.headers[values: .ifNoneMatch].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .map { $0.hasPrefix("W/") ? String($0.dropFirst(2)) : $0 }  // If-None-Match compares weakly
        if !presented.isEmpty {
            // The cheap path: one indexed read of the revision, no feed built.
            let etag = authority.etag(revision: try await authority.feedRevision(organizationId))
            if presented.contains(etag) || presented.contains("*") {
                return Response(status: .notModified, headers: [.eTag: etag])
            }
        }
        let feed = try await authority.feed(organizationId)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .eTag: feed.etag, .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: feed.body))
        )
    }

    /// Activates an installation: the certificate for the keys it names.
    @Sendable func activate(_ request: Request, context: AuthorityRequestContext) async throws -> EditedResponse<ActivationResponse> {
        let organizationId = try context.parameters.require("id")
        let input = try await request.decodeJSON(as: ActivationInput.self, context: context, limit: Self.maximumActivationSize)
        let file = ActivationRequestFile(
            organizationId: organizationId, installationId: input.installationId, environment: input.environment,
            serials: input.serials, promote: input.promote ?? false, reason: input.reason)
        let result = try await authority.activate(file, actor: context.actor)
        let revoked = Set(result.revoked.map(\.serial))
        return created(
            ActivationResponse(
                certificate: result.certificate, installationId: file.installationId, environment: file.environment,
                serials: Array(Set(file.serials)).filter { !revoked.contains($0) }.sorted(), revoked: result.revoked,
                demoted: result.changes.filter { $0.installationId != file.installationId }.map(\.installationId)
            ))
    }

    /// The organization's installations and their environments.
    @Sendable func installations(_ request: Request, context: AuthorityRequestContext) async throws -> ItemsResponse<InstallationResponse> {
        ItemsResponse(items: try await authority.store.installations(of: try context.parameters.require("id")).map(InstallationResponse.init))
    }

    /// Makes an installation production outside an activation, for a reason; the current one becomes test.
    @Sendable func promote(_ request: Request, context: AuthorityRequestContext) async throws -> PromotionResponse {
        let input = try await request.decodeJSON(as: PromoteInput.self, context: context)
        let installationId = try context.parameters.require("installationId")
        let promotion = try await authority.promote(
            organizationId: try context.parameters.require("id"), installationId: installationId, reason: input.reason, actor: context.actor)
        return PromotionResponse(
            installationId: installationId, environment: .production, demoted: promotion.demoted,
            environmentChangesThisMonth: promotion.changesThisMonth, environmentChangesAllowed: ActivationRules.monthlyEnvironmentChanges)
    }
}
