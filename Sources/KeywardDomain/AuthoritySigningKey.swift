import Crypto
import Foundation

/// The authority's Ed25519 private key, which signs access keys.
public struct AuthoritySigningKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey
    /// The matching public key, whose kid names this signing key.
    public let publicKey: AuthorityPublicKey

    /// A new random signing key.
    public init() {
        self.init(key: Curve25519.Signing.PrivateKey())
    }

    /// A signing key from a PEM `PRIVATE KEY` (PKCS #8) document, as OpenSSL also writes it.
    public init(pem: String) throws(KeyEncodingError) {
        guard let seed = PEM.decode(label: "PRIVATE KEY", prefix: PEM.privateKeyPrefix, from: pem),
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        else { throw .invalidPrivateKey }
        self.init(key: key)
    }

    private init(key: Curve25519.Signing.PrivateKey) {
        self.key = key
        // A public key derived from a valid private key is always a valid public key.
        self.publicKey = try! AuthorityPublicKey(rawRepresentation: Array(key.publicKey.rawRepresentation))
    }

    /// The key id of this signing key.
    public var kid: String { publicKey.kid }

    /// The PEM `PRIVATE KEY` document to store (mode 0600).
    public var pem: String {
        PEM.encode(label: "PRIVATE KEY", prefix: PEM.privateKeyPrefix, key: Array(key.rawRepresentation))
    }

    /// The Ed25519 signature of `message`.
    public func signature<Message: DataProtocol>(for message: Message) -> [UInt8] {
        // Signing with a well-formed key cannot fail; BoringSSL reports no error for Ed25519 signing.
        Array(try! key.signature(for: message))
    }
}
