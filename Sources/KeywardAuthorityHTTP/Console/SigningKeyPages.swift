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
        routes.group().add(middleware: ConsoleAuthorization(console: console))
            .get("", use: list)
            .get("public-keys.pem", use: pem)
            .get("public-keys.txt", use: hex)
        return routes
    }

    /// Every key, newest first, with its public half.
    func keys() -> [(entry: AuthorityKeyring.Entry, key: AuthorityPublicKey)] {
        let keyring = console.authority.keyring
        return keyring.entries.reversed().compactMap { entry in keyring.publicKeys.first { $0.kid == entry.kid }.map { (entry, $0) } }
    }

    @Sendable func list(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        var values = console.layout(try context.authorizedSession, request: request, nav: "signing-keys")
        values["keys"] = keys().map { entry, key in
            ["kid": key.kid, "hex": key.hex, "pem": key.pem, "active": entry.active, "created": WebFormatting.time(entry.createdAt)] as [String: Any]
        }
        return console.page("signing-keys", values)
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
