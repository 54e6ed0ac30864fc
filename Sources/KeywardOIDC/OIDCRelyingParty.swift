import AsyncHTTPClient
import Crypto
import Foundation
import JWTKit
import KeywardDomain
import NIOConcurrencyHelpers
import NIOCore
import NIOFoundationCompat

/// Why a sign-in, an ID token or a provider was refused: a stable code and a sentence a person can act on.
public struct OIDCFailure: Error, Sendable, Hashable {
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// What a provider's discovery document (`/.well-known/openid-configuration`) says, as far as a relying party needs it.
public struct OIDCProviderMetadata: Codable, Sendable, Hashable {
    public let issuer: String
    public let authorizationEndpoint: String
    public let tokenEndpoint: String
    public let jwksURI: String
    public let endSessionEndpoint: String?
    public let tokenEndpointAuthMethods: [String]?
    public let signingAlgorithms: [String]?

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizationEndpoint = "authorization_endpoint"
        case tokenEndpoint = "token_endpoint"
        case jwksURI = "jwks_uri"
        case endSessionEndpoint = "end_session_endpoint"
        case tokenEndpointAuthMethods = "token_endpoint_auth_methods_supported"
        case signingAlgorithms = "id_token_signing_alg_values_supported"
    }
}

/// The person an ID token names, once the token is verified.
public struct OIDCIdentity: Sendable, Hashable {
    public let issuer: String
    public let subject: String
    public let preferredUsername: String?
    public let email: String?
    public let name: String?
    public let expiresAt: Date

    /// The value of `claim`, if the token carries it.
    public func value(of claim: OIDCUserClaim) -> String? {
        switch claim {
        case .preferredUsername: preferredUsername
        case .email: email
        case .sub: subject
        }
    }
}

/// A sign-in under way: where to send the browser, and what the callback must match.
public struct OIDCAuthorization: Sendable, Hashable {
    public let url: String
    public let state: String
    public let nonce: String
    /// PKCE's code verifier (RFC 7636): sent with the code, never to the browser.
    public let codeVerifier: String
}

/// What "Test connection" found at a provider.
public struct OIDCTestResult: Sendable, Hashable {
    public let ok: Bool
    public let code: String
    public let message: String
    public let metadata: OIDCProviderMetadata?
    public let keyIds: [String]

    public init(ok: Bool, code: String, message: String, metadata: OIDCProviderMetadata?, keyIds: [String]) {
        self.ok = ok
        self.code = code
        self.message = message
        self.metadata = metadata
        self.keyIds = keyIds
    }
}

/// OpenID Connect's relying party: discovery, the authorization request (code flow with PKCE S256, `state` and
/// `nonce`), the code exchange, and ID tokens verified with jwt-kit against the provider's JWKS (RS256, ES256 or
/// EdDSA only: never `none`, never an HMAC), then `iss`, `aud`, `azp`, `exp`, `iat` and `nonce`, with 60 s of skew.
/// Discovery documents and key sets are cached for an hour; a token naming an unknown `kid` fetches the keys again, at
/// most once a minute (key rotation).
public final class OIDCRelyingParty: Sendable {
    public static let clockSkew: TimeInterval = 60
    public static let keyRefetchInterval: TimeInterval = 60
    public static let metadataLifetime: TimeInterval = 3600
    /// The algorithms an ID token may be signed with, and the key type each needs.
    static let algorithms: [String: JWK.KeyType] = ["RS256": .rsa, "ES256": .ecdsa, "EdDSA": .octetKeyPair]
    static let maximumDocumentSize = 1 << 20

    let http: HTTPClient
    let now: @Sendable () -> Date
    let timeout: TimeAmount
    private let cache = NIOLockedValueBox(Cache())

    struct Cache {
        var metadata: [String: (metadata: OIDCProviderMetadata, fetchedAt: Date)] = [:]
        var keys: [String: KeySet] = [:]
    }

    struct KeySet: Sendable {
        let jwks: [JWK]
        let collection: JWTKeyCollection
        let fetchedAt: Date

        func key(_ kid: String) -> JWK? { jwks.first { $0.keyIdentifier?.string == kid } }
        var keyIds: [String] { jwks.compactMap { $0.keyIdentifier?.string } }
    }

    public init(http: HTTPClient, timeout: TimeAmount = .seconds(10), now: @escaping @Sendable () -> Date = Date.init) {
        self.http = http
        self.timeout = timeout
        self.now = now
    }

    /// https, or http to this machine's loopback (a provider under test).
    public static func isAllowedEndpoint(_ text: String) -> Bool {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty,
            url.user == nil, url.password == nil, !text.contains(where: \.isWhitespace)
        else { return false }
        if scheme == "https" { return true }
        return scheme == "http" && ["localhost", "127.0.0.1", "[::1]", "::1"].contains(host)
    }

    // MARK: Discovery and keys

    /// The provider's discovery document, cached for an hour; refused when it names another issuer.
    public func metadata(issuer: String, refresh: Bool = false) async throws(OIDCFailure) -> OIDCProviderMetadata {
        let time = now()
        if !refresh, let cached = cache.withLockedValue({ $0.metadata[issuer] }), time.timeIntervalSince(cached.fetchedAt) < Self.metadataLifetime {
            return cached.metadata
        }
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let address = base + "/.well-known/openid-configuration"
        let body = try await fetch(address, what: "discovery document")
        let metadata: OIDCProviderMetadata
        do {
            metadata = try JSONDecoder().decode(OIDCProviderMetadata.self, from: body)
        } catch {
            throw OIDCFailure(
                code: "OIDC_DISCOVERY_INVALID",
                message: "\(address) is not an OpenID Connect discovery document: it lacks the issuer, an endpoint or jwks_uri.")
        }
        // The issuer a token must name is the document's; the configured one may differ by a trailing slash only.
        guard metadata.issuer == issuer || metadata.issuer == base || metadata.issuer == base + "/" else {
            throw OIDCFailure(
                code: "OIDC_ISSUER_MISMATCH",
                message:
                    "The discovery document at \(address) names the issuer \(metadata.issuer), not \(issuer): set the issuer to the provider's exact URL. A document for another issuer is never trusted."
            )
        }
        for (name, endpoint) in [
            ("authorization_endpoint", metadata.authorizationEndpoint), ("token_endpoint", metadata.tokenEndpoint), ("jwks_uri", metadata.jwksURI),
        ] where !Self.isAllowedEndpoint(endpoint) {
            throw OIDCFailure(
                code: "OIDC_DISCOVERY_INVALID",
                message: "The provider's \(name) \(endpoint) is not an https:// URL: Keyward does not send secrets there.")
        }
        cache.withLockedValue { $0.metadata[issuer] = (metadata, time) }
        return metadata
    }

    /// The cached discovery document, without asking the provider (for pages that must not wait on it).
    public func cachedMetadata(issuer: String) -> OIDCProviderMetadata? {
        cache.withLockedValue { $0.metadata[issuer]?.metadata }
    }

    func keySet(_ metadata: OIDCProviderMetadata, refresh: Bool = false) async throws(OIDCFailure) -> KeySet {
        // Fetched again after an hour too, so a key the provider withdrew (compromised, retired) stops being trusted.
        if !refresh, let cached = cache.withLockedValue({ $0.keys[metadata.jwksURI] }),
            now().timeIntervalSince(cached.fetchedAt) < Self.metadataLifetime
        {
            return cached
        }
        let body = try await fetch(metadata.jwksURI, what: "key set (JWKS)")
        let jwks: JWKS
        do {
            jwks = try JSONDecoder().decode(JWKS.self, from: body)
        } catch {
            throw OIDCFailure(code: "OIDC_JWKS_INVALID", message: "\(metadata.jwksURI) is not a JSON Web Key Set.")
        }
        // Only signing keys of the allowed kinds, each under its kid; others (encryption keys, odd curves) are left out.
        let collection = JWTKeyCollection()
        var usable: [JWK] = []
        for key in jwks.keys where key.keyIdentifier != nil && Self.algorithms.values.contains(key.keyType) {
            if let algorithm = key.algorithm, Self.algorithms[algorithm.rawValue] == nil { continue }
            do {
                try await collection.add(jwk: key)
                usable.append(key)
            } catch {
                continue
            }
        }
        let set = KeySet(jwks: usable, collection: collection, fetchedAt: now())
        cache.withLockedValue { $0.keys[metadata.jwksURI] = set }
        return set
    }

    private func fetch(_ address: String, what: String) async throws(OIDCFailure) -> Data {
        let response: HTTPClientResponse
        var request = HTTPClientRequest(url: address)
        request.headers.add(name: "Accept", value: "application/json")
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw OIDCFailure(
                code: "OIDC_PROVIDER_UNREACHABLE",
                message:
                    "The provider's \(what) at \(address) could not be fetched (\(Self.describe(error))). Check the issuer URL and that this server reaches it."
            )
        }
        guard response.status == .ok else {
            throw OIDCFailure(
                code: "OIDC_DISCOVERY_INVALID",
                message:
                    "The provider's \(what) at \(address) answered \(response.status.code) \(response.status.reasonPhrase): check the issuer URL.")
        }
        do {
            return Data(buffer: try await response.body.collect(upTo: Self.maximumDocumentSize))
        } catch {
            throw OIDCFailure(code: "OIDC_DISCOVERY_INVALID", message: "The provider's \(what) at \(address) is over 1 MiB or was cut off.")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError, error == .deadlineExceeded { return "no answer in time" }
        let text = String(describing: error)
        if text.contains("refused") { return "connection refused" }
        return text.count > 160 ? String(text.prefix(160)) + "…" : text
    }

    // MARK: The code flow

    /// Where to send the browser to sign in, with a fresh `state`, `nonce` and PKCE verifier.
    public func authorization(_ settings: OIDCClientSettings, metadata: OIDCProviderMetadata, redirectURI: String) -> OIDCAuthorization {
        let state = Self.randomToken()
        let nonce = Self.randomToken()
        let verifier = Self.randomToken()
        let query = [
            ("response_type", "code"), ("client_id", settings.clientId), ("redirect_uri", redirectURI),
            ("scope", settings.scopes.joined(separator: " ")),
            ("state", state), ("nonce", nonce), ("code_challenge", Self.codeChallenge(verifier)), ("code_challenge_method", "S256"),
        ]
        let separator = metadata.authorizationEndpoint.contains("?") ? "&" : "?"
        return OIDCAuthorization(
            url: metadata.authorizationEndpoint + separator + Self.formEncoded(query), state: state, nonce: nonce, codeVerifier: verifier)
    }

    /// RFC 7636's S256: BASE64URL(SHA-256(verifier)).
    public static func codeChallenge(_ verifier: String) -> String { unpadded(Array(SHA256.hash(data: Data(verifier.utf8)))) }

    /// 256 random bits, base64url: a state, a nonce, a code verifier (43 characters, as RFC 7636 wants).
    public static func randomToken() -> String { unpadded(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }) }

    /// base64url without padding, as JOSE and PKCE write it.
    public static func unpadded(_ bytes: [UInt8]) -> String {
        var text = Base64URL.encode(bytes)
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// The ID token the provider gives for `code` (client_secret_basic, or client_secret_post when that is all it takes).
    public func redeem(
        code: String, codeVerifier: String, redirectURI: String, settings: OIDCClientSettings, secret: String, metadata: OIDCProviderMetadata
    ) async throws(OIDCFailure) -> String {
        var fields = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", codeVerifier)]
        var request = HTTPClientRequest(url: metadata.tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let methods = metadata.tokenEndpointAuthMethods ?? ["client_secret_basic"]
        if !methods.contains("client_secret_basic") && methods.contains("client_secret_post") {
            fields += [("client_id", settings.clientId), ("client_secret", secret)]
        } else {
            // RFC 6749 section 2.3.1: each part form-encoded before the Basic encoding.
            let credentials = Self.formComponent(settings.clientId) + ":" + Self.formComponent(secret)
            request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
            fields.append(("client_id", settings.clientId))
        }
        request.body = .bytes(ByteBuffer(string: Self.formEncoded(fields)))
        let response: HTTPClientResponse
        let body: Data
        do {
            response = try await http.execute(request, timeout: timeout)
            body = Data(buffer: try await response.body.collect(upTo: Self.maximumDocumentSize))
        } catch {
            throw OIDCFailure(
                code: "OIDC_PROVIDER_UNREACHABLE",
                message:
                    "The provider's token endpoint \(metadata.tokenEndpoint) could not be reached (\(Self.describe(error))). Try again in a moment.")
        }
        struct Answer: Decodable {
            let idToken: String?
            let error: String?
            let errorDescription: String?
            enum CodingKeys: String, CodingKey {
                case idToken = "id_token"
                case error
                case errorDescription = "error_description"
            }
        }
        let answer = try? JSONDecoder().decode(Answer.self, from: body)
        guard response.status == .ok, let idToken = answer?.idToken else {
            if answer?.error == "invalid_grant" {
                throw OIDCFailure(
                    code: "OIDC_CODE_REFUSED",
                    message: "The identity provider refused the sign-in code: it was used already or has expired. Sign in again from the login page.")
            }
            if answer?.error == "invalid_client" || response.status == .unauthorized {
                throw OIDCFailure(
                    code: "OIDC_CLIENT_REFUSED",
                    message:
                        "The identity provider refused Keyward's client id or secret. An administrator should check them in Settings > Sign-in.")
            }
            let said = [answer?.error, answer?.errorDescription].compactMap { $0 }.joined(separator: ": ")
            throw OIDCFailure(
                code: "OIDC_PROVIDER_ERROR",
                message:
                    "The identity provider answered the code exchange with \(response.status.code)\(said.isEmpty ? " and no ID token" : " (\(String(said.prefix(200))))"). Sign in again, or ask an administrator to check the provider."
            )
        }
        return idToken
    }

    // MARK: ID tokens

    /// The identity in `token`, once its signature, issuer, audience, authorized party, lifetime and (when given) nonce
    /// are verified.
    public func verify(
        _ token: String, metadata: OIDCProviderMetadata, audiences: Set<String>, nonce: String?
    ) async throws(OIDCFailure) -> OIDCIdentity {
        let (header, keyType) = try Self.header(of: token)
        var keys = try await keySet(metadata)
        let key: JWK
        if let kid = header.kid {
            if keys.key(kid) == nil, now().timeIntervalSince(keys.fetchedAt) >= Self.keyRefetchInterval {
                keys = try await keySet(metadata, refresh: true)
            }
            guard let found = keys.key(kid) else {
                throw OIDCFailure(
                    code: "OIDC_UNKNOWN_KEY",
                    message:
                        "The ID token is signed with the key \(kid), which the provider does not publish at \(metadata.jwksURI) (it has \(keys.keyIds.isEmpty ? "none" : keys.keyIds.joined(separator: ", "))). Sign in again in a minute if the provider has just rotated its keys."
                )
            }
            key = found
        } else {
            guard keys.jwks.count == 1, let only = keys.jwks.first else {
                throw OIDCFailure(
                    code: "OIDC_UNKNOWN_KEY",
                    message: "The ID token names no key (kid), and the provider publishes \(keys.jwks.count): it cannot be told which.")
            }
            key = only
        }
        guard key.keyType == keyType, key.algorithm == nil || key.algorithm?.rawValue == header.alg else {
            throw OIDCFailure(
                code: "OIDC_ALGORITHM_REFUSED",
                message:
                    "The ID token says \(header.alg), but the provider's key \(key.keyIdentifier?.string ?? "") is for \(key.algorithm?.rawValue ?? key.keyType.rawValue)."
            )
        }
        let claims: IDTokenClaims
        do {
            claims = try await keys.collection.verify(token, as: IDTokenClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw OIDCFailure(
                code: "OIDC_SIGNATURE_INVALID",
                message: "The ID token's signature does not match the provider's key \(key.keyIdentifier?.string ?? ""): it was altered or forged.")
        } catch {
            throw OIDCFailure(code: "OIDC_TOKEN_INVALID", message: "The ID token could not be read: its claims are not those of an ID token.")
        }
        return try check(claims, metadata: metadata, audiences: audiences, nonce: nonce)
    }

    /// The token's header and the key type its algorithm needs, or why it is no ID token this relying party verifies:
    /// checked before anything is fetched, so a malformed token costs nothing.
    public static func checkShape(_ token: String) throws(OIDCFailure) { _ = try header(of: token) }

    static func header(of token: String) throws(OIDCFailure) -> (Header, JWK.KeyType) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 16384, parts.count == 3, let headerBytes = Base64URL.decode(parts[0].utf8),
            let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes))
        else {
            throw OIDCFailure(code: "OIDC_TOKEN_INVALID", message: "The ID token is not a signed JSON Web Token.")
        }
        guard let keyType = algorithms[header.alg] else {
            let why =
                header.alg.lowercased() == "none"
                ? "is not signed (alg none)"
                : header.alg.uppercased().hasPrefix("HS")
                    ? "is signed with a shared secret (\(header.alg)), which anyone holding the provider's public key could forge"
                    : "is signed with \(header.alg)"
            throw OIDCFailure(
                code: "OIDC_ALGORITHM_REFUSED",
                message: "The ID token \(why): Keyward accepts only RS256, ES256 and EdDSA signatures from the provider's keys.")
        }
        return (header, keyType)
    }

    func check(_ claims: IDTokenClaims, metadata: OIDCProviderMetadata, audiences: Set<String>, nonce: String?) throws(OIDCFailure) -> OIDCIdentity {
        guard claims.iss == metadata.issuer else {
            throw OIDCFailure(
                code: "OIDC_ISSUER_MISMATCH",
                message: "The ID token was issued by \(claims.iss ?? "nobody"), not by \(metadata.issuer): it is refused.")
        }
        let audience = claims.aud?.value ?? []
        guard !audience.isEmpty, !audiences.isDisjoint(with: audience) else {
            throw OIDCFailure(
                code: "OIDC_AUDIENCE_MISMATCH",
                message:
                    "The ID token is for \(audience.isEmpty ? "no audience" : audience.joined(separator: ", ")), not for this registry (\(audiences.sorted().joined(separator: ", "))): a token meant for another application is refused."
            )
        }
        if let azp = claims.azp {
            guard audiences.contains(azp) else {
                throw OIDCFailure(
                    code: "OIDC_AUDIENCE_MISMATCH", message: "The ID token was requested by \(azp) (azp), not by this registry: it is refused.")
            }
        } else if audience.count > 1 {
            throw OIDCFailure(
                code: "OIDC_AUDIENCE_MISMATCH", message: "The ID token names several audiences but no authorized party (azp): it is refused.")
        }
        let time = now()
        guard let exp = claims.exp, let iat = claims.iat, let subject = claims.sub, !subject.isEmpty else {
            throw OIDCFailure(code: "OIDC_TOKEN_INVALID", message: "The ID token lacks sub, exp or iat: it is not an OpenID Connect ID token.")
        }
        let expiresAt = Date(timeIntervalSince1970: exp)
        guard expiresAt.addingTimeInterval(Self.clockSkew) > time else {
            throw OIDCFailure(
                code: "OIDC_TOKEN_EXPIRED",
                message: "The ID token expired at \(Timestamp.format(expiresAt)). Sign in again; if it keeps happening, check this server's clock.")
        }
        guard Date(timeIntervalSince1970: iat).addingTimeInterval(-Self.clockSkew) <= time else {
            throw OIDCFailure(
                code: "OIDC_TOKEN_INVALID",
                message:
                    "The ID token says it was issued at \(Timestamp.format(Date(timeIntervalSince1970: iat))), in the future: check this server's clock."
            )
        }
        if let nonce {
            guard let said = claims.nonce, said == nonce else {
                throw OIDCFailure(
                    code: "OIDC_NONCE_MISMATCH",
                    message: "The ID token does not carry the nonce of this sign-in: it belongs to another sign-in and is refused. Sign in again.")
            }
        }
        return OIDCIdentity(
            issuer: metadata.issuer, subject: subject, preferredUsername: claims.preferredUsername, email: claims.email, name: claims.name,
            expiresAt: expiresAt)
    }

    struct Header: Decodable {
        let alg: String
        let kid: String?
    }

    /// An ID token's claims: checked by ``check(_:metadata:audiences:nonce:)``, with the clock skew, not by jwt-kit.
    struct IDTokenClaims: JWTPayload {
        var iss: String?
        var sub: String?
        var aud: AudienceClaim?
        var exp: Double?
        var iat: Double?
        var nonce: String?
        var azp: String?
        var preferredUsername: String?
        var email: String?
        var name: String?

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, nonce, azp, email, name
            case preferredUsername = "preferred_username"
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    // MARK: Test connection

    /// Fetches the discovery document and the key set, and says what it found, or why it failed.
    public func test(_ settings: OIDCClientSettings) async -> OIDCTestResult {
        do throws(OIDCFailure) {
            let metadata = try await metadata(issuer: settings.issuer, refresh: true)
            let keys = try await keySet(metadata, refresh: true)
            guard !keys.jwks.isEmpty else {
                return OIDCTestResult(
                    ok: false, code: "OIDC_JWKS_INVALID",
                    message: "\(metadata.jwksURI) publishes no RS256, ES256 or EdDSA signing key: Keyward could verify no ID token.",
                    metadata: metadata, keyIds: [])
            }
            let kinds = keys.jwks.map { "\($0.keyIdentifier?.string ?? "") (\($0.algorithm?.rawValue ?? $0.keyType.rawValue))" }
            let signOut = metadata.endSessionEndpoint.map { ", signs out at \($0)" } ?? ", publishes no sign-out endpoint"
            return OIDCTestResult(
                ok: true, code: "CONNECTED",
                message:
                    "Found \(metadata.issuer): it signs in at \(metadata.authorizationEndpoint), gives tokens at \(metadata.tokenEndpoint)\(signOut), and publishes the key\(kinds.count == 1 ? "" : "s") \(kinds.joined(separator: ", ")).",
                metadata: metadata, keyIds: keys.keyIds)
        } catch {
            return OIDCTestResult(ok: false, code: error.code, message: error.message, metadata: nil, keyIds: [])
        }
    }

    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): where to send a browser after the registry's own
    /// sign-out, if the provider publishes an end-session endpoint.
    public func endSessionURL(_ settings: OIDCClientSettings, postLogoutRedirectURI: String) -> String? {
        guard let endpoint = cachedMetadata(issuer: settings.issuer)?.endSessionEndpoint else { return nil }
        let separator = endpoint.contains("?") ? "&" : "?"
        return endpoint + separator + Self.formEncoded([("client_id", settings.clientId), ("post_logout_redirect_uri", postLogoutRedirectURI)])
    }

    // MARK: Encoding

    static func formEncoded(_ fields: [(String, String)]) -> String {
        fields.map { formComponent($0.0) + "=" + formComponent($0.1) }.joined(separator: "&")
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func formComponent(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "" }
}
