import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardWeb

/// `/signing-keys`: the active key and the trusted ones, and their public halves (hex and PEM) to send to customers.
struct SigningKeyPages: Sendable {
    let console: AuthorityConsole

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group().add(middleware: ConsoleAuthorization(console: console, change: [.admin]))
            .get("", use: list)
            .get("public-keys.pem", use: pem)
            .get("public-keys.txt", use: hex)
            .post("rotate", use: rotate)
            .post(":kid/retire", use: retire)
        return routes
    }

    /// Every key, newest first, with its public half.
    func keys() -> [(entry: AuthorityKeyring.Entry, key: AuthorityPublicKey)] {
        let keyring = console.authority.keyring
        return keyring.entries.reversed().compactMap { entry in keyring.publicKeys.first { $0.kid == entry.kid }.map { (entry, $0) } }
    }

    @Sendable func list(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        try await listPage(request, session: try context.authorizedSession)
    }

    /// The keys, with how many live keys each signs; a refused rotation or retirement is shown above them.
    func listPage(_ request: Request, session: ConsoleSession, errors: [String: String] = [:]) async throws -> Response {
        var values = console.layout(session, request: request, nav: "signing-keys")
        let live = try await console.authority.store.liveKeyCounts(now: console.authority.now())
        values["keys"] = keys().map { entry, key in
            [
                "kid": key.kid, "hex": key.hex, "pem": key.pem, "active": entry.active, "created": WebFormatting.time(entry.createdAt),
                "liveKeys": live[key.kid] ?? 0,
            ] as [String: Any]
        }
        values["retired"] = console.authority.keyring.retired.reversed().map { entry in
            var item: [String: Any] = ["kid": entry.kid, "created": WebFormatting.time(entry.createdAt)]
            if let retiredAt = entry.retiredAt { item["retiredAt"] = WebFormatting.time(retiredAt) }
            return item
        }
        values["hasRetired"] = !console.authority.keyring.retired.isEmpty
        values["errorList"] = errors.sorted { $0.key < $1.key }.map(\.value)
        return console.page("signing-keys", values)
    }

    /// A new active key; the old ones stay trusted.
    @Sendable func rotate(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await console.form(request, context: context, session: session)
        guard fields["confirm"] == "yes" else {
            return try await listPage(request, session: session, errors: ["rotate": "Tick the box to confirm the rotation."])
        }
        _ = try await console.authority.rotateSigningKey(actor: session.account.actor)
        return WebPages.redirect("/signing-keys?flash=rotated")
    }

    /// An old key no longer trusted; refused for the active key, and for one that still signs live keys unless forced.
    @Sendable func retire(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let kid = try context.parameters.require("kid")
        let fields = try await console.form(request, context: context, session: session)
        guard fields["confirm"] == "yes" else {
            return try await listPage(request, session: session, errors: ["retire-\(kid)": "Tick the box to confirm that \(kid) is retired."])
        }
        do {
            _ = try await console.authority.retireSigningKey(kid: kid, force: fields["force"] == "yes", actor: session.account.actor)
        } catch let error as StoreError where error.kind == .conflict {
            return try await listPage(request, session: session, errors: ["retire-\(kid)": error.message])
        }
        return WebPages.redirect("/signing-keys?flash=retired")
    }

    /// The trusted public keys as PEM, the active one first: what a customer's `trust.publicKeys` file holds.
    @Sendable func pem(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        WebPages.download(
            console.authority.keyring.publicKeys.map(\.pem).joined(separator: "\n"), name: "keyward-authority-public-keys.pem",
            contentType: "application/x-pem-file")
    }

    /// The trusted public keys in hex, one `kid hex` per line.
    @Sendable func hex(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        WebPages.download(
            console.authority.keyring.publicKeys.map { "\($0.kid) \($0.hex)" }.joined(separator: "\n") + "\n",
            name: "keyward-authority-public-keys.txt")
    }
}
