import Foundation
import KeywardDomain

/// The authority's signing keys on disk: one PEM file (mode 0600) per key, and a manifest naming the active one.
///
///     DIR/signing-keys.json         {"keys": [{"kid": ..., "createdAt": ..., "active": true}, ...], "retired": [...]}
///     DIR/signing-keys/<kid>.pem    PKCS #8 Ed25519 private key
///     DIR/retired/<kid>.pem         a retired key, kept (never deleted) but no longer loaded or trusted
///
/// Rotation adds a new active key and keeps the old ones, whose public halves still verify older access keys.
/// Retiring an old key takes it out of the keys a registry should trust.
public struct AuthorityKeyring: Sendable {
    /// One key of the manifest.
    public struct Entry: Codable, Sendable, Hashable {
        public let kid: String
        public let createdAt: Date
        public var active: Bool
        /// When the key was retired; `nil` for a key still trusted.
        public var retiredAt: Date? = nil
    }

    private struct Manifest: Codable {
        var keys: [Entry]
        /// Absent in manifests written before keys could be retired.
        var retired: [Entry]?
    }

    public let dataDirectory: URL
    /// Every trusted key (the active one and those kept after rotations), oldest first.
    public let entries: [Entry]
    /// The retired keys, in the order they were retired; their PEM files are under `DIR/retired/`.
    public let retired: [Entry]
    /// The key that signs new access keys.
    public let activeKey: AuthoritySigningKey
    private let keys: [String: AuthoritySigningKey]

    /// The public keys, the active one first: what a registry should trust.
    public var publicKeys: [AuthorityPublicKey] {
        [activeKey.publicKey] + entries.reversed().filter { !$0.active }.compactMap { keys[$0.kid]?.publicKey }
    }

    /// A trust store holding every public key of this keyring.
    public var trustStore: TrustStore { TrustStore(publicKeys) }

    static func manifestURL(_ dataDirectory: URL) -> URL { dataDirectory.appendingPathComponent("signing-keys.json") }
    static func keyDirectory(_ dataDirectory: URL) -> URL { dataDirectory.appendingPathComponent("signing-keys", isDirectory: true) }
    /// Where retired keys' PEM files are moved: out of the keyring, not deleted, should an old signature need checking.
    public static func retiredDirectory(_ dataDirectory: URL) -> URL { dataDirectory.appendingPathComponent("retired", isDirectory: true) }

    /// Whether `dataDirectory` already holds a keyring.
    public static func exists(in dataDirectory: URL) -> Bool {
        FileManager.default.fileExists(atPath: manifestURL(dataDirectory).path)
    }

    /// Creates the first signing key in `dataDirectory`, or with `rotate` adds a new active one beside the old.
    ///
    /// Without `rotate` an existing keyring is never touched: `KEYRING_EXISTS`.
    @discardableResult
    public static func create(in dataDirectory: URL, rotate: Bool, now: Date) throws(AuthorityKeyringError) -> AuthorityKeyring {
        var manifest = Manifest(keys: [], retired: nil)
        if exists(in: dataDirectory) {
            let current = try load(from: dataDirectory)
            guard rotate else {
                throw AuthorityKeyringError(
                    code: "KEYRING_EXISTS",
                    message:
                        "\(dataDirectory.path) already holds an authority signing key (kid \(current.activeKey.kid)); nothing was changed. Use --rotate to add a new active key, or choose another --data-dir."
                )
            }
            manifest.keys = current.entries.map { Entry(kid: $0.kid, createdAt: $0.createdAt, active: false) }
            manifest.retired = current.retired.isEmpty ? nil : current.retired
        }
        let key = AuthoritySigningKey()
        manifest.keys.append(Entry(kid: key.kid, createdAt: now, active: true))
        do {
            let keyDirectory = keyDirectory(dataDirectory)
            try FileManager.default.createDirectory(at: keyDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try SecretFile.write(key.pem, to: keyDirectory.appendingPathComponent("\(key.kid).pem"))
            try write(manifest, in: dataDirectory)
        } catch {
            throw AuthorityKeyringError(
                code: "KEYRING_WRITE_FAILED", message: "Could not write the signing key under \(dataDirectory.path): \(error.localizedDescription)")
        }
        return try load(from: dataDirectory)
    }

    /// Retires `kid`: it is no longer loaded, so no longer among the ``publicKeys`` registries trust. Its PEM file moves
    /// to `DIR/retired/` (copied there first, then taken out of the keyring, so a crash never loses it). The active
    /// key cannot be retired (`SIGNING_KEY_ACTIVE`: rotate first); an unknown kid is `UNKNOWN_SIGNING_KEY`.
    @discardableResult
    public static func retire(_ kid: String, in dataDirectory: URL, now: Date) throws(AuthorityKeyringError) -> AuthorityKeyring {
        let current = try load(from: dataDirectory)
        if let refusal = current.retireRefusal(kid) { throw refusal }
        let entry = current.entries.first { $0.kid == kid }!
        var retiredEntry = entry
        retiredEntry.retiredAt = now
        let manifest = Manifest(keys: current.entries.filter { $0.kid != kid }, retired: current.retired + [retiredEntry])
        let file = keyDirectory(dataDirectory).appendingPathComponent("\(kid).pem")
        let kept = retiredDirectory(dataDirectory).appendingPathComponent("\(kid).pem")
        do {
            try FileManager.default.createDirectory(
                at: retiredDirectory(dataDirectory), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let pem = try String(contentsOf: file, encoding: .utf8)
            // A copy left by an interrupted retirement is the same key: keep it rather than refuse.
            if (try? String(contentsOf: kept, encoding: .utf8)) != pem { try SecretFile.write(pem, to: kept) }
            try write(manifest, in: dataDirectory)
            try FileManager.default.removeItem(at: file)
        } catch {
            throw AuthorityKeyringError(
                code: "KEYRING_WRITE_FAILED",
                message: "Could not retire signing key \(kid) under \(dataDirectory.path): \(error.localizedDescription)")
        }
        return try load(from: dataDirectory)
    }

    /// Why `kid` cannot be retired from this keyring, or `nil` when it can.
    public func retireRefusal(_ kid: String) -> AuthorityKeyringError? {
        guard let entry = entries.first(where: { $0.kid == kid }) else {
            return retired.contains(where: { $0.kid == kid })
                ? AuthorityKeyringError(code: "SIGNING_KEY_RETIRED", message: "Signing key \(kid) is retired already; nothing was changed.")
                : AuthorityKeyringError(
                    code: "UNKNOWN_SIGNING_KEY", message: "There is no signing key \(kid). The keys: keyward authority signing-key list.")
        }
        guard !entry.active else {
            return AuthorityKeyringError(
                code: "SIGNING_KEY_ACTIVE",
                message:
                    "Signing key \(kid) is the active key, which signs every new key; it cannot be retired. Rotate first (keyward authority signing-key rotate), then retire it."
            )
        }
        return nil
    }

    /// Replaces the manifest atomically: a crash leaves the old keyring or the new one, never half.
    private static func write(_ manifest: Manifest, in dataDirectory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(manifest).write(to: manifestURL(dataDirectory), options: .atomic)
    }

    /// Loads the keyring of `dataDirectory`.
    public static func load(from dataDirectory: URL) throws(AuthorityKeyringError) -> AuthorityKeyring {
        guard exists(in: dataDirectory) else {
            throw AuthorityKeyringError(
                code: "NO_KEYRING",
                message:
                    "\(dataDirectory.path) holds no authority signing key. Create one with: keyward authority init --data-dir \(dataDirectory.path)"
            )
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let data = try? Data(contentsOf: manifestURL(dataDirectory)),
            let manifest = try? decoder.decode(Manifest.self, from: data)
        else {
            throw AuthorityKeyringError(code: "KEYRING_DAMAGED", message: "\(manifestURL(dataDirectory).path) cannot be read as a keyring manifest.")
        }
        var keys: [String: AuthoritySigningKey] = [:]
        for entry in manifest.keys {
            let file = keyDirectory(dataDirectory).appendingPathComponent("\(entry.kid).pem")
            guard let pem = try? String(contentsOf: file, encoding: .utf8), let key = try? AuthoritySigningKey(pem: pem), key.kid == entry.kid else {
                throw AuthorityKeyringError(code: "KEYRING_DAMAGED", message: "\(file.path) is missing or is not the Ed25519 key \(entry.kid).")
            }
            keys[entry.kid] = key
        }
        let active = manifest.keys.filter(\.active)
        guard active.count == 1, let activeKey = keys[active[0].kid] else {
            throw AuthorityKeyringError(code: "KEYRING_DAMAGED", message: "\(manifestURL(dataDirectory).path) must name exactly one active key.")
        }
        return AuthorityKeyring(
            dataDirectory: dataDirectory, entries: manifest.keys, retired: manifest.retired ?? [], activeKey: activeKey, keys: keys)
    }
}

/// Why the keyring could not be created or read: a stable code and what to do about it.
public struct AuthorityKeyringError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    public let message: String

    public var description: String { message }
}
