import Foundation
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import Logging
import Testing

extension RegistryTests {
    /// Whatever the log level, the store never logs a secret: SQLKit logs bind values with each query, and these hold
    /// token hashes, password hashes, CSRF tokens and the organization token.
    @Suite struct SecretsInLogsTests {
        @Test(arguments: Backend.services)
        func noSecretReachesTheLogsAtTraceLevel(backend: Backend) async throws {
            let records = CapturingLogHandler.Records()
            let logger = Logger.capturing(records)
            try await withFreshDatabase(backend, logger: logger) { database, _ in
                try await Migrator(Schema.registry).migrate(database, logger: logger)
                let store = RegistryStore(database: database)
                let now = Date()
                let made = try await database.write { sql in
                    try await TokenStore.create(
                        kind: RegistryTokenKind.user, name: RegistryTokenKind.administratorRole, subject: "admin", now: now, on: sql)
                }
                #expect(try await TokenStore(database: database).authenticate(made.token.text, now: now) != nil)
                let passwordHash = "$2b$12$abcdefghijklmnopqrstuu5Hq8GnfW0tRg3cZ1lJ0zv1mJbJ6Rk2"
                _ = try await store.createAdministrator(login: "admin", passwordHash: passwordHash, now: now)
                let organizationToken = APIToken.generate().text
                try await store.saveSettings(
                    [.authorityURL: "https://licensing.example.com", .syncToken: organizationToken], actor: "test", now: now)
                let csrf = "csrf-" + UUID().uuidString
                let sessionHash = "session-" + UUID().uuidString
                try await store.createWebSession(
                    idHash: sessionHash, login: "admin", csrfToken: csrf, now: now, expiresAt: now.addingTimeInterval(3600))
                let clientSecret = "oidc-client-secret-" + UUID().uuidString
                try await store.saveSettings([.signInSecret: clientSecret], actor: "test", now: now)
                // A sign-in under way: its nonce and PKCE verifier are secrets until the callback takes them.
                let started = Date(storedMilliseconds: now.storedMilliseconds)  // as stored: to the millisecond
                let pending = PendingSignIn(
                    stateHash: "state-" + UUID().uuidString, browserHash: "browser-" + UUID().uuidString, nonce: "nonce-" + UUID().uuidString,
                    codeVerifier: "verifier-" + UUID().uuidString, redirectURI: "https://keyward.example.com/login/oidc/callback", createdAt: started,
                    expiresAt: started.addingTimeInterval(600))
                try await store.savePendingSignIn(pending, now: now)
                #expect(try await store.takePendingSignIn(stateHash: pending.stateHash, now: now) == pending)
                _ = try await store.settings()

                let lines = records.all
                for secret in [
                    made.token.text, made.token.secret, made.token.secretHash, passwordHash, organizationToken, csrf, sessionHash, clientSecret,
                    pending.stateHash, pending.browserHash, pending.nonce, pending.codeVerifier,
                ] {
                    #expect(!lines.contains { $0.contains(secret) }, "\(secret.prefix(12))… was logged")
                }
            }
        }
    }
}
