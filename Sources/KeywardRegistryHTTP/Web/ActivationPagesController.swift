import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// The Activation page: state, online activation, offline request and certificate upload.
extension WebUI {
    func activationPage(_ session: WebSessions.Session, _ request: Request, certificateError: String? = nil, activationError: RegistryError? = nil)
        async throws -> Response
    {
        let state = try await registry.activationState()
        var values = try await layout(session, request: request, nav: "activation")
        values["installationId"] = registry.installation.installationId
        values["environment"] = registry.installation.environment.rawValue
        values["statusText"] = state.status.rawValue
        values["statusClass"] = state.status.rawValue
        values["authorityConfigured"] = registry.authority != nil
        if let current = state.current {
            values["current"] = [
                "keyCount": current.certificate.serials.count,
                "issuedAt": Timestamp.parse(current.certificate.issuedAt).map { WebFormatting.time($0) } ?? [
                    "iso": current.certificate.issuedAt, "text": current.certificate.issuedAt,
                ],
                "installedAt": WebFormatting.time(current.installedAt), "method": current.method.rawValue,
            ]
            if let revoked = current.certificate.revoked, !revoked.isEmpty {
                let names = KeyNames(try await registry.store.keys())
                values["revokedKeys"] = revoked.map { names.values($0.serial).merging(["reason": $0.reason ?? "revoked"]) { a, _ in a } }
                values["hasRevokedKeys"] = true
            }
        }
        values["isProduction"] = registry.installation.environment == .production
        let change = state.change
        values["hasChange"] = !change.isEmpty
        let names = KeyNames(try await registry.store.keys())
        values["addedKeys"] = change.addedKeys.map { names.values($0) }
        values["removedKeys"] = change.removedKeys.map { names.values($0) }
        values["addedComponents"] = change.addedComponents
        values["removedComponents"] = change.removedComponents
        values["seats"] = change.seats.sorted { $0.key < $1.key }.map { type, seats in
            ["kind": seats > 0 ? "plus" : "minus", "text": "\(seats > 0 ? "+" : "−")\(abs(seats)) \(type) seats"]
        }
        if let certificateError { values["certificateError"] = certificateError }
        if let activationError {
            values["activationError"] = "\(activationError.code): \(activationError.message)"
            if activationError.code == "OVER_ALLOCATED" {
                values["canForce"] = true
                values["overAllocated"] = try await registry.overAllocation(serials: try await registry.activationState().serials).map {
                    [
                        "keySerial": $0.keySerial, "keyName": names.idNumber($0.keySerial), "limit": $0.limit, "inUse": $0.inUse,
                        "users": $0.overLimit.joined(separator: ", "),
                    ]
                }
            }
        }
        return page("activation", values)
    }

    /// The flash after an activation: a warning, never a success, when the vendor revoked some of the keys.
    static func activatedFlash(_ activation: StoredActivation) -> String {
        (activation.certificate.revoked ?? []).isEmpty ? "activated" : "activated-with-revoked"
    }
}

/// The Activation page, mounted at `/activation`.
struct ActivationPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.licenseKey))
            .get(use: showActivation)
            .post(use: activate)
            .get("request", use: downloadRequest)
            .post("certificate", use: installCertificate)
        return routes
    }

    /// The activation's state and what an activation would change.
    @Sendable func showActivation(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        return try await web.activationPage(try context.authorizedSession, request)
    }

    /// Activates online; a refusal shows on the page.
    @Sendable func activate(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        do {
            let activation = try await web.registry.activateOnline(
                promote: fields["promote"] == "on", reason: fields["reason"], force: fields["force"] == "true",
                actor: "user:\(session.user.login)")
            return WebUI.redirect("/activation?flash=\(WebUI.activatedFlash(activation))")
        } catch let error as RegistryError {
            return try await web.activationPage(session, request, activationError: error)
        }
    }

    /// The offline activation request, as a file to save.
    @Sendable func downloadRequest(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        return try await ActivationController.requestDownload(
            web.registry, promote: query.get("promote") == "on", reason: query.get("reason").map { String($0.prefix(500)) })
    }

    /// Installs an uploaded activation certificate.
    @Sendable func installCertificate(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let body = Array(buffer: try await request.body.collect(upTo: StoredActivation.maximumCertificateSize))
        guard let parts = MultipartForm.parse(body, contentType: request.headers[.contentType] ?? ""),
            let token = parts["_csrf"].map({ String(decoding: $0.data, as: UTF8.self) }), token == session.csrf
        else { throw WebUI.csrfRefusal }
        guard let file = parts["certificate"], !file.data.isEmpty else {
            return try await web.activationPage(
                session, request,
                certificateError: "No file was chosen: choose the certificate file (JSON) the vendor sent, then Install certificate.")
        }
        // Read strictly (a member named twice is refused), as the API reads it.
        guard let document = try? SignedDocument.read(Data(file.data)) else {
            return try await web.activationPage(
                session, request,
                certificateError: "This file is not an activation certificate: it is not the signed JSON document the vendor sends. "
                    + "Choose the certificate file the vendor returned for your activation request (not the request itself).")
        }
        do {
            let force = parts["force"].map { String(decoding: $0.data, as: UTF8.self) } == "on"
            let activation = try await web.registry.install(document, method: .offline, force: force, actor: "user:\(session.user.login)")
            return WebUI.redirect("/activation?flash=\(WebUI.activatedFlash(activation))")
        } catch let error as RegistryError {
            return try await web.activationPage(session, request, certificateError: error.message)
        }
    }
}
