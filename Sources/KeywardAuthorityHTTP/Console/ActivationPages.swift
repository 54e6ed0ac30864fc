import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardWeb

/// `/activation`: offline activation. The clerk uploads a registry's request file, sees what it asks (organization,
/// installation, environment, keys, with any revoked or unknown key named), activates, and downloads the certificate
/// to send back.
struct ActivationPages: Sendable {
    let console: AuthorityConsole

    /// A request names at most 100,000 serials of 20 characters: about 2.5 MiB of JSON.
    static let maximumRequestSize = 4 << 20

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group().add(middleware: ConsoleAuthorization(console: console))
            .get("", use: uploadForm)
            .post("request", use: preview)
            .post("activate", use: activate)
            .post("certificate", use: download)
        return routes
    }

    @Sendable func uploadForm(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        uploadPage(request, session: try context.authorizedSession)
    }

    func uploadPage(_ request: Request, session: ConsoleSession, error: String? = nil) -> Response {
        var values = console.layout(session, request: request, nav: "activation")
        if let error { values["error"] = error }
        return console.page("activation", values)
    }

    /// Reads an uploaded request file; `nil` with the sentence to show when it is not one.
    static func requestFile(_ bytes: [UInt8]) -> (ActivationRequestFile?, String?) {
        guard !bytes.isEmpty else {
            return (nil, "Choose the request file the registry wrote (Activation > Download the request, or keyward activation request).")
        }
        guard let file = try? KeywardJSON.decoder.decode(ActivationRequestFile.self, from: Data(bytes)) else {
            return (nil, "This file is not an activation request: it should be the JSON file the registry wrote, unchanged.")
        }
        guard file.v == ActivationRequestFile.currentVersion else {
            return (
                nil, "This request has version \(file.v); this authority reads version \(ActivationRequestFile.currentVersion). Update the authority."
            )
        }
        return (file, nil)
    }

    /// What the uploaded request asks, before anything is written.
    @Sendable func preview(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let body = Array(buffer: try await request.body.collect(upTo: Self.maximumRequestSize))
        guard let parts = MultipartForm.parse(body, contentType: request.headers[.contentType] ?? "") else {
            return uploadPage(request, session: session, error: "Choose the request file, then press Read the request.")
        }
        guard let csrf = parts["_csrf"], String(decoding: csrf.data, as: UTF8.self) == session.csrf else { throw CSRF.refusal }
        let (file, problem) = Self.requestFile(parts["request"]?.data ?? [])
        guard let file else { return uploadPage(request, session: session, error: problem) }
        return try await previewPage(request, session: session, file: file)
    }

    func previewPage(_ request: Request, session: ConsoleSession, file: ActivationRequestFile, error: APIError? = nil) async throws -> Response {
        let store = console.authority.store
        var values = console.layout(session, request: request, nav: "activation")
        let organization = try await store.organization(file.organizationId)
        values["organizationId"] = file.organizationId
        values["legalName"] = organization?.legalName ?? ""
        values["knownOrganization"] = organization != nil
        values["installationId"] = file.installationId
        values["environment"] = file.environment.rawValue
        values["promote"] = file.promote
        values["typedReason"] = file.reason ?? ""
        if let reason = file.reason, !reason.isEmpty { values["reason"] = reason }
        let now = console.authority.now()
        var keys: [[String: Any]] = []
        var unknown = 0
        var revoked = 0
        for serial in file.serials.prefix(1000) {
            var item: [String: Any] = ["serial": serial]
            if let key = try await store.key(serial), key.license.organization.id == file.organizationId {
                item.merge(ConsoleValues.key(key, catalog: console.authority.catalog, now: now)) { _, key in key }
                item["known"] = true
                if key.isRevoked { revoked += 1 }
            } else {
                item["statusText"] = "Unknown: not issued to \(file.organizationId)"
                item["statusClass"] = "failed"
                unknown += 1
            }
            keys.append(item)
        }
        values["keys"] = keys
        values["keyCount"] = file.serials.count
        values["listedAll"] = file.serials.count <= 1000
        values["unknownCount"] = unknown
        values["revokedCount"] = revoked
        values["requestText"] = String(decoding: try KeywardJSON.encoder.encode(file), as: UTF8.self)
        if let error { values["error"] = error.message }
        return console.page("activation-request", values)
    }

    /// Activates the installation the request names (promoting it when asked here) and shows the certificate.
    @Sendable func activate(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try URLEncodedForm.parse(Array(buffer: try await request.body.collect(upTo: Self.maximumRequestSize)))
        guard CSRF.isValid(fields, expected: session.csrf) else { throw CSRF.refusal }
        let (given, problem) = Self.requestFile(Array((fields["request"] ?? "").utf8))
        guard var file = given else { return uploadPage(request, session: session, error: problem) }
        // Promoting is asking for production: the current production installation, if any, becomes test.
        if fields["promote"] == "yes" {
            file.promote = true
            file.environment = .production
        }
        if let reason = fields["reason"]?.trimmingCharacters(in: .whitespaces), !reason.isEmpty { file.reason = reason }
        let result: (certificate: SignedDocument, changes: [ActivationRules.Change], revoked: [FeedEnvelope.Revoked])
        do {
            result = try await console.authority.activate(file, actor: session.account.actor)
        } catch {
            guard let refusal = AuthorityConsole.refusal(error) else { throw error }
            return try await previewPage(request, session: session, file: file, error: refusal)
        }
        var values = console.layout(session, request: request, nav: "activation")
        values["installationId"] = file.installationId
        values["organizationId"] = file.organizationId
        values["environment"] = file.environment.rawValue
        values["certificate"] = String(decoding: try KeywardJSON.encoder.encode(result.certificate), as: UTF8.self)
        values["covered"] = file.serials.count - result.revoked.count
        values["revoked"] = result.revoked.map { ["serial": $0.serial, "reason": $0.reason ?? "no reason given"] }
        values["changes"] = result.changes.map { ["installationId": $0.installationId, "from": $0.from.rawValue, "to": $0.to.rawValue] }
        return console.page("activation-done", values)
    }

    /// The certificate just shown, as a file to send back: only a certificate this authority signed is answered.
    @Sendable func download(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try URLEncodedForm.parse(Array(buffer: try await request.body.collect(upTo: Self.maximumRequestSize)))
        guard CSRF.isValid(fields, expected: session.csrf) else { throw CSRF.refusal }
        let text = fields["certificate"] ?? ""
        guard let document = try? KeywardJSON.decoder.decode(SignedDocument.self, from: Data(text.utf8)),
            let payload = try? document.verifiedPayload(for: .certificate, trust: console.authority.keyring.trustStore),
            let certificate = try? KeywardJSON.decoder.decode(ActivationCertificate.self, from: payload)
        else {
            throw APIError(
                .unprocessableContent, code: "INVALID_CERTIFICATE", message: "This is not a certificate this authority signed. Activate again.")
        }
        return WebPages.download(text + "\n", name: "activation-\(certificate.installationId).json", contentType: "application/json")
    }
}
