import Foundation
import KeywardHTTP
import KeywardOIDC

extension Settings {
    /// `secureCookies`: `auto` (Secure when the request came over HTTPS), `always` or `never`.
    public func secureCookies() throws -> SecureCookies {
        let text = string("secureCookies") ?? SecureCookies.auto.rawValue
        guard let policy = SecureCookies(rawValue: text) else { throw SettingError("--secure-cookies", "\"\(text)\" is not auto, always or never.") }
        return policy
    }

    /// Sign-in with an identity provider set by the configuration (`oidc.*`), checked; `nil` when no issuer is set, and
    /// then (on the registry) the settings page may set it.
    public func oidc() throws -> (settings: OIDCClientSettings, secret: String)? {
        guard let issuer = string("oidc.issuer") else { return nil }
        // A JSON array in the file, or one string of scopes separated by spaces.
        let scopes = strings("oidc.scopes")
        let form = OIDCSettingsForm(
            issuer: issuer, clientId: string("oidc.clientId"), scopes: scopes.isEmpty ? string("oidc.scopes").map { [$0] } : scopes,
            userClaim: string("oidc.userClaim"),
            providerName: string("oidc.providerName"), audiences: strings("oidc.audiences"),
            requireProvider: try bool("oidc.requireProvider", name: "oidc.requireProvider"))
        let settings: OIDCClientSettings
        do {
            settings = try OIDCClientSettings.checked(form)
        } catch {
            throw SettingError("oidc.\(error.field)", error.message)
        }
        guard let secret = try secret(file: "oidc.clientSecretFile", flag: "oidc.clientSecretFile", value: "oidc.clientSecret") else {
            throw SettingError(
                "oidc.clientSecretFile",
                "the identity provider's client \(settings.clientId) needs its secret: a file (oidc.clientSecretFile) or KEYWARD_OIDC_CLIENT_SECRET.")
        }
        return (settings, secret)
    }

    /// `oidc.redirectURI`, checked: the site's https:// address ending in `/login/oidc/callback`; `nil` when not set
    /// (the address is then the one each request reached).
    public func signInRedirectURI(site: String) throws -> String? {
        guard let uri = string("oidc.redirectURI") else { return nil }
        guard OIDCRelyingParty.isAllowedEndpoint(uri), uri.hasSuffix(SignInRedirect.path) else {
            throw SettingError(
                "oidc.redirectURI",
                "\"\(uri)\" is not this \(site)'s https:// address ending in \(SignInRedirect.path), as registered with the provider.")
        }
        return uri
    }
}
