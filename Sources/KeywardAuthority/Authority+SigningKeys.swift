import Foundation
import KeywardDomain
import KeywardStore
import NIOConcurrencyHelpers

/// The signing keys as a running authority changes them: rotation (a new active key, the old ones still trusted) and
/// retirement (an old key no longer trusted), each audited, each seen by every copy of the authority at once.
extension Authority {
    /// Adds a new active signing key; the old ones stay trusted, so the keys they signed keep verifying. New keys,
    /// renewals, feeds (whose entity tag names the kid), certificates and the catalog are signed with it from now on.
    /// Audited as `signing-key.rotated`.
    public func rotateSigningKey(actor: String) async throws -> AuthorityKeyring.Entry {
        let time = now()
        let previous = keyring.activeKey.kid
        let rotated = try signing.change { try AuthorityKeyring.create(in: $0.dataDirectory, rotate: true, now: time) }
        let entry = rotated.entries.first(where: \.active)!
        _ = try await AuditLog(database: store.database).append(
            .init(
                actor: actor, action: "signing-key.rotated", target: "signing-key:\(entry.kid)",
                details: ["previous": .string(previous), "publicKey": .string(rotated.activeKey.publicKey.hex)]), at: time)
        return entry
    }

    /// Retires an old signing key: it leaves the keys registries are told to trust (`GET /v1/signing-keys`,
    /// `keyward authority public-key`), and its PEM file moves to `retired/` in the data directory.
    ///
    /// Refused, with nothing changed: the active key (`SIGNING_KEY_ACTIVE`: rotate first), and a key that still signs
    /// live keys, neither revoked nor expired (`SIGNING_KEY_IN_USE`, naming them: renew or switch them first, which
    /// re-signs them with the active key), unless `force` (for a compromised key: the keys it signed stop verifying
    /// wherever it is no longer trusted). Audited as `signing-key.retired`.
    public func retireSigningKey(kid: String, force: Bool = false, actor: String) async throws -> AuthorityKeyring.Entry {
        let time = now()
        // The cheap refusals first, so an active or unknown key is named as such rather than as "in use".
        if let refusal = keyring.retireRefusal(kid) { throw Self.storeError(refusal) }
        let live = try await store.liveKeyCounts(now: time)[kid] ?? 0
        if live > 0, !force {
            let serials = try await store.liveKeySerials(signedBy: kid, now: time)
            throw StoreError(
                code: "SIGNING_KEY_IN_USE",
                message:
                    "Signing key \(kid) still signs \(live) live key\(live == 1 ? "" : "s") (\(serials.joined(separator: ", "))\(live > serials.count ? ", ..." : "")): registries that stop trusting it would refuse them. Renew or switch them first (they are re-signed with the active key), or retire with force if the key is compromised.",
                kind: .conflict, details: ["liveKeys": .int(live), "serials": .array(serials.map(JSONValue.string))])
        }
        let retired: AuthorityKeyring
        do {
            retired = try signing.change { try AuthorityKeyring.retire(kid, in: $0.dataDirectory, now: time) }
        } catch let error as AuthorityKeyringError {
            throw Self.storeError(error)
        }
        _ = try await AuditLog(database: store.database).append(
            .init(
                actor: actor, action: "signing-key.retired", target: "signing-key:\(kid)",
                details: ["liveKeys": .int(live), "force": .bool(force)]), at: time)
        return retired.retired.last { $0.kid == kid }!
    }

    /// A keyring refusal as the store's, so the API and the command line answer it like any other (404, 409).
    static func storeError(_ error: AuthorityKeyringError) -> any Error {
        switch error.code {
        case "UNKNOWN_SIGNING_KEY": StoreError(code: error.code, message: error.message, kind: .notFound)
        case "SIGNING_KEY_ACTIVE", "SIGNING_KEY_RETIRED": StoreError(code: error.code, message: error.message, kind: .conflict)
        default: error
        }
    }
}

/// The keyring a running authority signs with, and the catalog signed with its active key. Readers take the current
/// pair under a short lock; a change (rotation, retirement) writes the files and swaps the pair under a second lock, so
/// two changes in one process never interleave their file writes and no reader waits on the disk.
final class SigningKeys: Sendable {
    struct Current: Sendable {
        let keyring: AuthorityKeyring
        let signedCatalog: SignedDocument
    }

    private let state: NIOLockedValueBox<Current>
    private let changing = NIOLock()
    private let catalog: Catalog

    init(keyring: AuthorityKeyring, catalog: Catalog) {
        self.catalog = catalog
        state = NIOLockedValueBox(Current(keyring: keyring, signedCatalog: catalog.signed(with: keyring.activeKey)))
    }

    var current: Current { state.withLockedValue { $0 } }

    /// Runs `body` on the current keyring (it writes the files and returns the keyring they now hold) and makes its
    /// result current.
    func change(_ body: (AuthorityKeyring) throws -> AuthorityKeyring) throws -> AuthorityKeyring {
        try changing.withLock {
            let changed = try body(current.keyring)
            let signedCatalog =
                changed.activeKey.kid == current.keyring.activeKey.kid ? current.signedCatalog : catalog.signed(with: changed.activeKey)
            state.withLockedValue { $0 = Current(keyring: changed, signedCatalog: signedCatalog) }
            return changed
        }
    }
}
