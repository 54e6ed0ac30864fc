import Crypto
import CryptoExtras
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
        // CryptoExtras also reads an X25519 key as a signing key, and PKCS #8 version 2: only the DER it writes itself
        // for an Ed25519 key is taken.
        guard let der = PEM.first("PRIVATE KEY", in: pem), let key = try? Curve25519.Signing.PrivateKey(derRepresentation: der),
            key.derRepresentation == Data(der)
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
        key.pemRepresentation + "\n"
    }

    /// The Ed25519 signature of `message`.
    public func signature<Message: DataProtocol>(for message: Message) -> [UInt8] {
        // Signing with a well-formed key cannot fail; BoringSSL reports no error for Ed25519 signing.
        Array(try! key.signature(for: message))
    }
}
