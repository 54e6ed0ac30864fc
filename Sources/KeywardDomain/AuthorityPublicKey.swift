import Crypto
import CryptoExtras
import Foundation

/// One of the authority's Ed25519 public keys, as a registry trusts it.
public struct AuthorityPublicKey: Sendable, Hashable {
    private let key: Curve25519.Signing.PublicKey
    /// The raw 32 bytes.
    public let rawRepresentation: [UInt8]
    /// The key id written into every access key it signs: 16 hex characters of SHA-256 of the raw key.
    public let kid: String

    /// A public key from its 32 raw bytes.
    public init(rawRepresentation: [UInt8]) throws(KeyEncodingError) {
        guard rawRepresentation.count == 32,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)
        else { throw .invalidPublicKey }
        self.key = key
        self.rawRepresentation = rawRepresentation
        self.kid = Self.kid(of: rawRepresentation)
    }

    /// A public key from 64 hex characters.
    public init(hex: String) throws(KeyEncodingError) {
        let text = hex.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.utf8.count == 64, let bytes = Hex.decode(text) else { throw .invalidPublicKey }
        try self.init(rawRepresentation: bytes)
    }

    /// A public key from a PEM `PUBLIC KEY` block.
    public init(pem: String) throws(KeyEncodingError) {
        guard let der = PEM.first("PUBLIC KEY", in: pem) else { throw .invalidPublicKey }
        try self.init(der: der)
    }

    /// A public key from its DER `SubjectPublicKeyInfo`: only the DER CryptoExtras writes for an Ed25519 key is taken.
    init(der: [UInt8]) throws(KeyEncodingError) {
        guard let key = try? Curve25519.Signing.PublicKey(derRepresentation: der), key.derRepresentation == Data(der) else {
            throw .invalidPublicKey
        }
        try self.init(rawRepresentation: Array(key.rawRepresentation))
    }

    /// 64 lowercase hex characters.
    public var hex: String { Hex.encode(rawRepresentation) }

    /// A PEM `PUBLIC KEY` (SubjectPublicKeyInfo) document.
    public var pem: String { key.pemRepresentation + "\n" }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    public func isValidSignature<Signature: DataProtocol, Message: DataProtocol>(_ signature: Signature, for message: Message) -> Bool {
        key.isValidSignature(signature, for: message)
    }

    /// The kid of a raw public key.
    static func kid(of raw: [UInt8]) -> String {
        Hex.encode(SHA256.hash(data: raw).prefix(8))
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.rawRepresentation == rhs.rawRepresentation }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawRepresentation) }
}

/// Why a key could not be read.
public enum KeyEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidPublicKey
    case invalidPrivateKey

    public var description: String {
        switch self {
        case .invalidPublicKey:
            "not an Ed25519 public key: give 64 hex characters or a PEM \"PUBLIC KEY\" block"
        case .invalidPrivateKey:
            "not an Ed25519 private key: expected a PEM \"PRIVATE KEY\" (PKCS #8) block"
        }
    }
}
