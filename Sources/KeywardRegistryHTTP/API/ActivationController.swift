import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// `/api/v1/activation`: the state, online activation, the offline request and certificate, for administrators of
/// the License key menu.
struct ActivationController: Sendable {
    let registry: Registry

    struct StateResponse: ResponseCodable {
        struct Current: Codable, Sendable {
            let installationId: String
            let environment: InstallationEnvironment
            let serials: [String]
            let issuedAt: String
            /// When the certificate stops covering anything; absent when it never does.
            let expiresAt: String?
            let installedAt: Date
            let method: StoredActivation.Method
            /// Keys the request named that the vendor revoked: left out of the certificate, and revoked here too.
            let revoked: [FeedEnvelope.Revoked]
        }

        let status: Registry.ActivationStatus
        let installationId: String
        let environment: InstallationEnvironment
        let current: Current?
        let change: ActivationChange
        let authorityConfigured: Bool
        /// Set when the authority's feed names another production installation than this one thinks it is.
        let environmentNotice: String?
    }

    struct ActivateInput: Decodable {
        /// Make this installation production; the organization's current production installation becomes test.
        let promote: Bool?
        /// Why, for the vendor's environment history.
        let reason: String?
        /// Activate even when a key cannot hold its assigned users (`OVER_ALLOCATED`): the most recent ones go over the limit.
        let force: Bool?
    }

    func state() async throws -> StateResponse {
        let state = try await registry.activationState()
        return StateResponse(
            status: state.status, installationId: registry.installation.installationId, environment: registry.installation.environment,
            current: state.current.map {
                .init(
                    installationId: $0.certificate.installationId, environment: $0.certificate.environment, serials: $0.certificate.serials,
                    issuedAt: $0.certificate.issuedAt, expiresAt: $0.certificate.expiresAt, installedAt: $0.installedAt, method: $0.method,
                    revoked: $0.certificate.revoked ?? [])
            },
            change: state.change, authorityConfigured: registry.authority != nil, environmentNotice: try await registry.environmentNotice()
        )
    }

    /// The offline activation request as a file to save, for the API and the web UI alike.
    static func requestDownload(_ registry: Registry, promote: Bool = false, reason: String? = nil) async throws -> Response {
        let file = try await registry.activationRequest(promote: promote, reason: reason)
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/json",
                .contentDisposition: "attachment; filename=\"keyward-activation-request-\(file.installationId).json\"",
            ],
            body: .init(byteBuffer: ByteBuffer(string: try KeywardJSON.pretty(file)))
        )
    }

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.administrator(registry.access))
            .get(use: show)
            .post(use: activate)
            .get("request", use: downloadRequest)
            .post("certificate", use: installCertificate)
        return routes
    }

    /// The activation's state and what an activation would change.
    @Sendable func show(_ request: Request, context: RegistryRequestContext) async throws -> StateResponse {
        try await state()
    }

    /// Activates online, through the licensing authority.
    @Sendable func activate(_ request: Request, context: RegistryRequestContext) async throws -> StateResponse {
        let input = try await request.decodeJSONIfPresent(as: ActivateInput.self, context: context)
        try await registry.activateOnline(promote: input?.promote ?? false, reason: input?.reason, force: input?.force ?? false, actor: context.actor)
        return try await state()
    }

    /// The offline activation request, as a file to take to the vendor.
    @Sendable func downloadRequest(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        return try await Self.requestDownload(
            registry, promote: query.get("promote") == "true", reason: query.get("reason").map { String($0.prefix(500)) })
    }

    /// Installs the certificate the vendor returned for an offline request.
    @Sendable func installCertificate(_ request: Request, context: RegistryRequestContext) async throws -> StateResponse {
        let document = try await request.decodeJSON(
            as: SignedDocument.self, context: context, limit: StoredActivation.maximumCertificateSize,
            uniqueMembers: true)
        try await registry.install(document, method: .offline, force: request.uri.queryParameters.get("force") == "true", actor: context.actor)
        return try await state()
    }
}
