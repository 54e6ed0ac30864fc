import Foundation
import KeywardDomain

/// The claim of an ID token that names the local account: the one the provider lets people choose and keeps stable.
public enum OIDCUserClaim: String, Codable, Sendable, CaseIterable {
    /// Entra ID's user principal name, Okta's and Keycloak's login.
    case preferredUsername = "preferred_username"
    case email
    /// The provider's own id for the person: stable, but opaque (it names nobody an administrator would recognise).
    case sub
}

/// What a relying party needs from an administrator to sign people in with an OpenID Connect provider (DESIGN.md
/// section 10). The client secret is kept apart and never shown again.
public struct OIDCClientSettings: Codable, Sendable, Hashable {
    /// The provider's issuer URL, as its discovery document names it (e.g. `https://login.microsoftonline.com/<tenant>/v2.0`).
    public var issuer: String
    public var clientId: String
    public var scopes: [String]
    public var userClaim: OIDCUserClaim
    /// The name on the "Sign in with …" button; the issuer's host when none is set.
    public var providerName: String?
    /// Other client ids whose ID tokens may open sessions (the suite's modules registered apart): the client id always may.
    public var audiences: [String]
    /// Every user but the built-in administrator signs in with the provider only (no password sign-in).
    public var requireProvider: Bool

    public init(
        issuer: String, clientId: String, scopes: [String] = Self.defaultScopes, userClaim: OIDCUserClaim = .preferredUsername,
        providerName: String? = nil, audiences: [String] = [], requireProvider: Bool = false
    ) {
        self.issuer = issuer
        self.clientId = clientId
        self.scopes = scopes
        self.userClaim = userClaim
        self.providerName = providerName
        self.audiences = audiences
        self.requireProvider = requireProvider
    }

    public static let defaultScopes = ["openid", "profile", "email"]

    /// The button's name: the one set, or the issuer's host.
    public var displayName: String {
        if let providerName, !providerName.isEmpty { return providerName }
        return URLComponents(string: issuer)?.host ?? issuer
    }

    /// The audiences an ID token presented to open a session may name.
    public var acceptedAudiences: Set<String> { Set([clientId] + audiences) }

    /// Settings as typed (a page, an API body, the config file), checked; each refusal names its field.
    public static func checked(_ form: OIDCSettingsForm) throws(FieldError) -> OIDCClientSettings {
        func text(_ value: String?) -> String { value?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" }
        let issuer = text(form.issuer)
        guard issuer.count <= 2048, OIDCRelyingParty.isAllowedEndpoint(issuer), URLComponents(string: issuer)?.query == nil else {
            throw FieldError(
                field: "issuer", code: "INVALID_ISSUER",
                message:
                    "The issuer is the provider's https:// URL without a query, as its discovery document names it, e.g. https://login.microsoftonline.com/TENANT/v2.0 (http:// only on this machine's loopback)."
            )
        }
        let clientId = text(form.clientId)
        guard (1...255).contains(clientId.count), !clientId.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else {
            throw FieldError(
                field: "clientId", code: "INVALID_CLIENT_ID",
                message: "The client id is the one the provider gave when Keyward was registered there: 1 to 255 characters, no spaces.")
        }
        let typedScopes = (form.scopes ?? []).flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "," || $0.isNewline }).map(String.init) }
        let scopes = typedScopes.isEmpty ? defaultScopes : typedScopes
        guard scopes.contains("openid"), scopes.count <= 20,
            scopes.allSatisfy({ (1...64).contains($0.count) && $0.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" } })
        else {
            throw FieldError(
                field: "scopes", code: "INVALID_SCOPES",
                message: "The scopes must include openid, e.g. openid profile email: at most 20, each of printable ASCII without spaces.")
        }
        var claim = OIDCUserClaim.preferredUsername
        if let typed = form.userClaim.map({ text($0) }), !typed.isEmpty {
            guard let chosen = OIDCUserClaim(rawValue: typed) else {
                throw FieldError(
                    field: "userClaim", code: "INVALID_USER_CLAIM",
                    message: "The user claim is preferred_username, email or sub: the claim whose value is a registry login.")
            }
            claim = chosen
        }
        let name = text(form.providerName)
        guard name.count <= 64, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw FieldError(field: "providerName", code: "INVALID_NAME", message: "The provider's name is at most 64 characters, e.g. Entra ID.")
        }
        let audiences = (form.audiences ?? []).map { text($0) }.filter { !$0.isEmpty }
        guard audiences.count <= 20, audiences.allSatisfy({ $0.count <= 255 && !$0.contains(where: \.isWhitespace) }) else {
            throw FieldError(
                field: "audiences", code: "INVALID_AUDIENCE",
                message: "Other audiences are client ids, one per line, at most 20, each without spaces.")
        }
        return OIDCClientSettings(
            issuer: issuer, clientId: clientId, scopes: scopes, userClaim: claim, providerName: name.isEmpty ? nil : name,
            audiences: audiences, requireProvider: form.requireProvider ?? false)
    }
}

/// The sign-in settings as typed: every field optional, so a page or an API says which one is missing. A blank
/// client secret keeps the saved one.
public struct OIDCSettingsForm: Codable, Sendable, Hashable {
    public var issuer: String?
    public var clientId: String?
    public var clientSecret: String?
    /// Space- or comma-separated in a form field; a JSON array or one string in an API body.
    public var scopes: [String]?
    public var userClaim: String?
    public var providerName: String?
    public var audiences: [String]?
    public var requireProvider: Bool?

    public init(
        issuer: String? = nil, clientId: String? = nil, clientSecret: String? = nil, scopes: [String]? = nil, userClaim: String? = nil,
        providerName: String? = nil, audiences: [String]? = nil, requireProvider: Bool? = nil
    ) {
        self.issuer = issuer
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.scopes = scopes
        self.userClaim = userClaim
        self.providerName = providerName
        self.audiences = audiences
        self.requireProvider = requireProvider
    }

    /// Whether nothing is typed in it: saved, it turns sign-in with a provider off; tested, it tests the saved settings.
    public var isBlank: Bool {
        func blank(_ text: String?) -> Bool { (text ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        return [issuer, clientId, clientSecret, userClaim, providerName].allSatisfy(blank) && (scopes ?? []).allSatisfy(blank)
            && (audiences ?? []).allSatisfy(blank) && requireProvider != true
    }

    /// The form showing `settings` (without the secret).
    public init(_ settings: OIDCClientSettings) {
        self.init(
            issuer: settings.issuer, clientId: settings.clientId, scopes: settings.scopes, userClaim: settings.userClaim.rawValue,
            providerName: settings.providerName, audiences: settings.audiences, requireProvider: settings.requireProvider)
    }

    enum CodingKeys: String, CodingKey {
        case issuer, clientId, clientSecret, scopes, userClaim, providerName, audiences, requireProvider
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        issuer = try container.decodeIfPresent(String.self, forKey: .issuer)
        clientId = try container.decodeIfPresent(String.self, forKey: .clientId)
        clientSecret = try container.decodeIfPresent(String.self, forKey: .clientSecret)
        if let list = try? container.decodeIfPresent([String].self, forKey: .scopes) {
            scopes = list
        } else {
            scopes = try container.decodeIfPresent(String.self, forKey: .scopes).map { [$0] }
        }
        userClaim = try container.decodeIfPresent(String.self, forKey: .userClaim)
        providerName = try container.decodeIfPresent(String.self, forKey: .providerName)
        audiences = try container.decodeIfPresent([String].self, forKey: .audiences)
        requireProvider = try container.decodeIfPresent(Bool.self, forKey: .requireProvider)
    }
}
