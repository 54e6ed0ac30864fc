import Foundation
import Hummingbird
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
    }

    struct ActivationResponse: ResponseEncodable {
        let certificate: SignedDocument
        let installationId: String
        let environment: InstallationEnvironment
        let serials: [String]
        /// Installations this activation moved from production to test.
        let demoted: [String]
    }

    func add(to router: Router<AuthorityRequestContext>) {
        router.get("/v1/organizations/:id/feed") { request, context in
            let organizationId = try context.parameters.require("id")
            try context.requireAccess(to: organizationId)
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
        router.post("/v1/organizations/:id/activations") { request, context in
            let organizationId = try context.parameters.require("id")
            try context.requireAccess(to: organizationId)
            let input = try await request.decodeJSON(as: ActivationInput.self, context: context)
            let file = ActivationRequestFile(organizationId: organizationId, installationId: input.installationId, environment: input.environment,
                                             serials: input.serials, promote: input.promote ?? false)
            let result = try await authority.activate(file, actor: context.actor)
            return created(ActivationResponse(
                certificate: result.certificate, installationId: file.installationId, environment: file.environment,
                serials: Array(Set(file.serials)).sorted(),
                demoted: result.changes.filter { $0.installationId != file.installationId }.map(\.installationId)
            ))
        }
        router.get("/v1/organizations/:id/activations") { _, context in
            try context.requireOperator()
            return ItemsResponse(items: try await authority.store.installations(of: try context.parameters.require("id")))
        }
    }
}
