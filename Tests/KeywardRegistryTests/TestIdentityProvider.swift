import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import KeywardDomain
import KeywardOIDC
import NIOConcurrencyHelpers

/// An OpenID Connect provider on loopback, over real HTTP, for the refusals no well-behaved provider would cause: it
/// serves discovery and JWKS, checks the code exchange (one-time codes, the client's secret, the redirect URI and
/// PKCE's S256), and signs the ID token the test shapes: another nonce or audience, an expired one, `alg: none`, an
/// HMAC keyed with its public key, a key it does not publish. The browser's part (the authorization page) is done in
/// process by ``authorize(_:)``; the browser walk (scripts/browser-test.py) signs in through a real provider instead.
final class TestIdentityProvider: Sendable {
    static let clientId = "keyward-test"
    static let clientSecret = "provider-secret-for-tests"

    /// What the provider signs into the ID token, and how; a test changes it to forge or misdirect the token.
    struct Shape: Sendable {
        var issuer: String?
        var audience: [String]?
        var azp: String?
        var nonce: String??
        var issuedAt: Date?
        var expiresAt: Date?
        var subject = "subject-1"
        var preferredUsername: String? = "keeper"
        var email: String? = "keeper@example.com"
        var signing = Signing.current
    }

    enum Signing: Sendable {
        /// The provider's published key.
        case current
        /// `alg: none`, no signature.
        case none
        /// HS256 keyed with the published key's bytes: the classic confusion attack.
        case hmacWithPublicKey
        /// A key the provider never published, under a kid of its own.
        case unpublished
    }

    struct State: Sendable {
        var shape = Shape()
        /// Codes issued and not yet redeemed: what each was issued for.
        var codes: [String: (clientId: String, redirectURI: String, nonce: String?, challenge: String?)] = [:]
        var keyId = "key-1"
        var key = ES256PrivateKey()
        /// Keys still published beside the current one (after a rotation).
        var published: [(kid: String, key: ES256PrivateKey)] = []
        var jwksFetches = 0
        /// The issuer the discovery document names, when it lies.
        var discoveryIssuer: String?
        var lastAuthorization: [String: String] = [:]
    }

    let state = NIOLockedValueBox(State())
    /// The provider's clock: the registry's test clock, so a token's lifetime is measured as the registry measures it.
    let clock = NIOLockedValueBox<@Sendable () -> Date>({ Date() })
    let port: Int
    var issuer: String { "http://127.0.0.1:\(port)" }

    private init(port: Int) {
        self.port = port
    }

    /// Runs a provider for the length of `body`.
    static func run(_ body: @Sendable (TestIdentityProvider) async throws -> Void) async throws {
        let holder = NIOLockedValueBox<TestIdentityProvider?>(nil)
        let router = Router()
        router.get("/.well-known/openid-configuration") { _, _ -> Response in
            guard let provider = holder.withLockedValue({ $0 }) else { return Response(status: .serviceUnavailable) }
            return provider.discovery()
        }
        router.get("/jwks") { _, _ -> Response in
            guard let provider = holder.withLockedValue({ $0 }) else { return Response(status: .serviceUnavailable) }
            return await provider.jwks()
        }
        router.post("/token") { request, context -> Response in
            guard let provider = holder.withLockedValue({ $0 }) else { return Response(status: .serviceUnavailable) }
            let body = try await request.body.collect(upTo: 65536)
            return try await provider.token(String(buffer: body), authorization: request.headers[.authorization])
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let provider = TestIdentityProvider(port: client.port!)
            holder.withLockedValue { $0 = provider }
            try await body(provider)
        }
    }

    // MARK: The endpoints

    func discovery() -> Response {
        let base = issuer
        let document: [String: Any] = [
            "issuer": state.withLockedValue { $0.discoveryIssuer } ?? base, "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token", "jwks_uri": base + "/jwks", "end_session_endpoint": base + "/logout",
            "id_token_signing_alg_values_supported": ["ES256"], "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        ]
        return Self.json(document)
    }

    func jwks() async -> Response {
        let keys = state.withLockedValue { state -> [(String, ES256PrivateKey)] in
            state.jwksFetches += 1
            return [(state.keyId, state.key)] + state.published.map { ($0.kid, $0.key) }
        }
        return Self.json(["keys": keys.map { Self.jwk($0.0, $0.1) }])
    }

    static func jwk(_ kid: String, _ key: ES256PrivateKey) -> [String: Any] {
        let parameters = key.publicKey.parameters!
        return ["kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid, "x": parameters.x, "y": parameters.y]
    }

    /// The browser's visit to the authorization endpoint, approved at once: where the provider sends it back.
    func authorize(_ url: String) throws -> String {
        let query = Self.query(of: url)
        let code = OIDCRelyingParty.randomToken()
        state.withLockedValue { state in
            state.lastAuthorization = query
            state.codes[code] = (query["client_id"] ?? "", query["redirect_uri"] ?? "", query["nonce"], query["code_challenge"])
        }
        let redirect = query["redirect_uri"] ?? ""
        return redirect + (redirect.contains("?") ? "&" : "?") + "code=\(code)&state=\(query["state"] ?? "")"
    }

    func token(_ form: String, authorization: String?) async throws -> Response {
        let fields = Self.query(of: "?" + form)
        let expected = "Basic " + Data("\(Self.clientId):\(Self.clientSecret)".utf8).base64EncodedString()
        guard authorization == expected else { return Self.json(["error": "invalid_client"], status: .unauthorized) }
        let issued = state.withLockedValue { state in fields["code"].flatMap { state.codes.removeValue(forKey: $0) } }
        guard fields["grant_type"] == "authorization_code", let issued, issued.clientId == Self.clientId,
            issued.redirectURI == fields["redirect_uri"],
            let verifier = fields["code_verifier"], issued.challenge == OIDCRelyingParty.unpadded(Array(SHA256.hash(data: Data(verifier.utf8))))
        else {
            return Self.json(["error": "invalid_grant", "error_description": "unknown, used or mismatched code"], status: .badRequest)
        }
        return Self.json(["access_token": "at", "token_type": "Bearer", "id_token": try await idToken(nonce: issued.nonce)])
    }

    // MARK: Tokens

    struct Claims: JWTPayload {
        var iss: String
        var sub: String
        var aud: [String]
        var exp: Int
        var iat: Int
        var nonce: String?
        var azp: String?
        var preferredUsername: String?
        var email: String?

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, nonce, azp, email
            case preferredUsername = "preferred_username"
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// An ID token as the current shape says, for a sign-in with `nonce` (or for opening a session: no nonce).
    func idToken(nonce: String?) async throws -> String {
        let now = clock.withLockedValue { $0 }()
        let (shape, kid, key) = state.withLockedValue { ($0.shape, $0.keyId, $0.key) }
        let claims = Claims(
            iss: shape.issuer ?? issuer, sub: shape.subject, aud: shape.audience ?? [Self.clientId],
            exp: Int((shape.expiresAt ?? now.addingTimeInterval(300)).timeIntervalSince1970),
            iat: Int((shape.issuedAt ?? now).timeIntervalSince1970), nonce: shape.nonce ?? nonce, azp: shape.azp,
            preferredUsername: shape.preferredUsername, email: shape.email)
        switch shape.signing {
        case .current:
            return try await JWTKeyCollection().add(ecdsa: key, kid: JWKIdentifier(string: kid)).sign(claims, kid: JWKIdentifier(string: kid))
        case .unpublished:
            let other = ES256PrivateKey()
            return try await JWTKeyCollection().add(ecdsa: other, kid: "never-published").sign(claims, kid: "never-published")
        case .none:
            return Self.encoded(["alg": "none", "typ": "JWT"]) + "." + Self.encoded(claims) + "."
        case .hmacWithPublicKey:
            let input = Self.encoded(["alg": "HS256", "typ": "JWT", "kid": kid]) + "." + Self.encoded(claims)
            let secret = SymmetricKey(data: Data(key.publicKey.pemRepresentation.utf8))
            return input + "." + OIDCRelyingParty.unpadded(Array(HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: secret)))
        }
    }

    /// Publishes a new key and signs with it from now on; the old one stays published when `keepingOld`.
    func rotate(to kid: String, keepingOld: Bool = true) {
        state.withLockedValue { state in
            if keepingOld { state.published.append((state.keyId, state.key)) }
            state.keyId = kid
            state.key = ES256PrivateKey()
        }
    }

    func shape(_ change: (inout Shape) -> Void) { state.withLockedValue { change(&$0.shape) } }

    // MARK: Encoding

    static func encoded(_ value: some Encodable) -> String { OIDCRelyingParty.unpadded(Array(try! JSONEncoder().encode(value))) }

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = try! JSONSerialization.data(withJSONObject: object)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The query of `url`, decoded (`+` as a space, as forms send it).
    static func query(of url: String) -> [String: String] {
        guard let query = url.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).dropFirst().first else { return [:] }
        var fields: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            fields[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return fields
    }
}
