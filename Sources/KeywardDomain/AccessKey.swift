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
        public let signedBytes: [UInt8]
        /// The payload JSON.
        public let payload: [UInt8]
        /// The 64-byte Ed25519 signature.
        public let signature: [UInt8]

        /// The signed bytes as text.
        public var signedText: String { String(decoding: signedBytes, as: UTF8.self) }
    }

    /// Splits pasted text into its parts, ignoring white space and line breaks and accepting missing padding;
    /// `nil` when it is too large or not shaped like an access key.
    public static func split(_ text: String) -> Parts? {
        var text = text
        return text.withUTF8 { bytes -> Parts? in
            guard bytes.count <= maximumSize else { return nil }
            if bytes.contains(where: isWhiteSpace) {
                return [UInt8](bytes.filter { !isWhiteSpace($0) }).withUnsafeBufferPointer(parts(of:))
            }
            return parts(of: bytes)
        }
    }

    private static func isWhiteSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func parts(of bytes: UnsafeBufferPointer<UInt8>) -> Parts? {
        guard bytes.count > 4, bytes[0] == UInt8(ascii: "k"), bytes[1] == UInt8(ascii: "e"),
            bytes[2] == UInt8(ascii: "y"), bytes[3] == UInt8(ascii: "/"),
            let dot = bytes.firstIndex(of: UInt8(ascii: "."))
        else { return nil }
        guard let payload = Base64URL.decode(UnsafeBufferPointer(rebasing: bytes[4..<dot])),
            let signature = Base64URL.decode(UnsafeBufferPointer(rebasing: bytes[(dot + 1)...])), signature.count == 64
        else { return nil }
        // The signature covers the padded form, whether or not the pasted text kept its padding.
        var end = dot
        while bytes[end - 1] == UInt8(ascii: "=") { end -= 1 }
        let padding = (4 - (end - 4) % 4) % 4
        var signed = [UInt8]()
        signed.reserveCapacity(end + padding)
        signed.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[..<end]))
        for _ in 0..<padding { signed.append(UInt8(ascii: "=")) }
        return Parts(signedBytes: signed, payload: payload, signature: signature)
    }
}
