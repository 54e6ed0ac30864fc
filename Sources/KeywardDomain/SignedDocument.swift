import Foundation

/// A JSON document signed by the authority: the feed envelope, the activation certificate and the catalog.
///
///     {"kid": "...", "payload": "<base64url(JSON)>", "signature": "<base64url(Ed25519)>"}
///
/// The signature covers the ASCII bytes `<purpose>/<payload>`, so a signature made for one purpose
/// (a feed) can never be replayed as another (a certificate), nor as an access key (`key/`). The document and its
/// payload are strict JSON that names each member once, as an access key payload is: with a member named twice,
/// readers that keep the first and readers that keep the last would read two different documents.
public struct SignedDocument: Codable, Sendable, Hashable {
    public var kid: String
    public var payload: String
    public var signature: String

    /// What a signed document is for; the prefix of the signed bytes.
    public enum Purpose: String, Sendable {
        case feed
        case certificate
        /// The solutions catalog: which menus each profile opens, so whoever answers at the authority's address
        /// cannot rewrite them.
        case catalog
    }

    /// Signs `payload` JSON for `purpose` with `key`.
    public static func sign(_ payload: Data, for purpose: Purpose, with key: AuthoritySigningKey) -> SignedDocument {
        let encoded = Base64URL.encode(payload)
        let signature = key.signature(for: Array("\(purpose.rawValue)/\(encoded)".utf8))
        return SignedDocument(kid: key.kid, payload: encoded, signature: Base64URL.encode(signature))
    }

    /// Why a signed document was refused.
    public enum Failure: String, Error, Sendable {
        case malformed = "MALFORMED"
        case unknownSigningKey = "UNKNOWN_SIGNING_KEY"
        case badSignature = "BAD_SIGNATURE"
    }

    /// Reads a signed document's JSON; `MALFORMED` when it is not one, or names a member twice.
    public static func read(_ json: Data) throws(Failure) -> SignedDocument {
        guard JSONScanner.isUniquelyNamed(Array(json)), let document = try? JSONDecoder().decode(SignedDocument.self, from: json) else {
            throw .malformed
        }
        return document
    }

    /// Whether `json` is strict JSON whose objects, at every depth, name each member once: what a signed document and
    /// its payload must be.
    public static func isUniquelyNamed(_ json: some Collection<UInt8>) -> Bool {
        JSONScanner.isUniquelyNamed(Array(json))
    }

    /// A verified payload read as `T` (a feed envelope, a certificate); `MALFORMED` when it is not strict JSON, names a
    /// member twice however well signed, or is not a `T`.
    public static func decode<T: Decodable>(_ type: T.Type, payload: Data) throws(Failure) -> T {
        guard JSONScanner.isUniquelyNamed(Array(payload)), let value = try? JSONDecoder().decode(T.self, from: payload) else { throw .malformed }
        return value
    }

    /// The payload JSON, once the signature checks out with a trusted key for `purpose`.
    public func verifiedPayload(for purpose: Purpose, trust: TrustStore) throws(Failure) -> Data {
        guard let payloadBytes = Base64URL.decode(Array(payload.utf8)),
            let signatureBytes = Base64URL.decode(Array(signature.utf8)), signatureBytes.count == 64
        else { throw .malformed }
        guard let key = trust.key(for: kid) else { throw .unknownSigningKey }
        // The canonical padded form is what was signed, whatever padding the sender kept.
        let signed = "\(purpose.rawValue)/\(Base64URL.encode(payloadBytes))"
        guard key.isValidSignature(signatureBytes, for: Array(signed.utf8)) else { throw .badSignature }
        return Data(payloadBytes)
    }
}
