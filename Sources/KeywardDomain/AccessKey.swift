import Foundation

/// The signed text that carries a license key: `key/<base64url(payload JSON)>.<base64url(signature)>`.
///
/// The signature is Ed25519 over the ASCII bytes `key/<base64url(payload JSON)>`, the layout of the
/// widely used `ED25519_SIGN` scheme, so any Ed25519 verifier can check a key with the public key alone.
public enum AccessKey {
    /// Every access key starts with this.
    public static let prefix = "key/"
    /// Larger input is `MALFORMED` without being decoded.
    public static let maximumSize = 16 * 1024

    /// Signs `license` with `signingKey` and returns the access key text.
    public static func issue(_ license: LicenseKey, signedWith signingKey: AuthoritySigningKey) -> String {
        let payload = AccessKeyPayload(kid: signingKey.kid, license: license)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, numbers and arrays cannot fail.
        let json = try! encoder.encode(payload)
        let signedText = prefix + Base64URL.encode(json)
        let signature = signingKey.signature(for: Array(signedText.utf8))
        return signedText + "." + Base64URL.encode(signature)
    }

    /// An access key split into what was signed and the signature, before the payload is trusted.
    public struct Parts: Sendable {
        /// `key/<padded base64url payload>`: the exact bytes the signature covers.
        public let signedText: String
        /// The payload JSON.
        public let payload: [UInt8]
        /// The 64-byte Ed25519 signature.
        public let signature: [UInt8]
    }

    /// Splits pasted text into its parts, ignoring white space and line breaks and accepting missing padding;
    /// `nil` when it is too large or not shaped like an access key.
    public static func split(_ text: String) -> Parts? {
        guard text.utf8.count <= maximumSize else { return nil }
        var compact = [UInt8]()
        compact.reserveCapacity(text.utf8.count)
        for byte in text.utf8 where !(byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D) {
            compact.append(byte)
        }
        let prefixBytes = Array(prefix.utf8)
        guard compact.starts(with: prefixBytes) else { return nil }
        let body = compact[prefixBytes.count...]
        guard let dot = body.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        let payloadText = body[body.startIndex..<dot]
        let signatureText = body[(dot + 1)...]
        guard let payload = Base64URL.decode(payloadText),
              let signature = Base64URL.decode(signatureText), signature.count == 64
        else { return nil }
        let paddedPayload = Base64URL.padded(payloadText)
        return Parts(signedText: prefix + paddedPayload, payload: payload, signature: signature)
    }
}
