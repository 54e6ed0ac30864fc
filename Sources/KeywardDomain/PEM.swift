import Foundation

/// The two PEM documents an Ed25519 authority key needs (RFC 8410), written and read without ASN.1 machinery:
/// for Ed25519 both DER structures are fixed byte prefixes followed by the 32 key bytes.
enum PEM {
    /// PKCS #8 `PrivateKeyInfo` for Ed25519, up to the 32-byte seed.
    static let privateKeyPrefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
    /// X.509 `SubjectPublicKeyInfo` for Ed25519, up to the 32-byte public key.
    static let publicKeyPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]

    static func encode(label: String, prefix: [UInt8], key: [UInt8]) -> String {
        let body = Data(prefix + key).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(body)\n-----END \(label)-----\n"
    }

    /// The 32 key bytes of the first `label` block in `text`, or `nil` if there is none or it is not Ed25519.
    static func decode(label: String, prefix: [UInt8], from text: String) -> [UInt8]? {
        guard let der = documents(in: text).first(where: { $0.label == label })?.der,
              der.count == prefix.count + 32, der.starts(with: prefix)
        else { return nil }
        return Array(der.dropFirst(prefix.count))
    }

    /// Every PEM block in `text`, with its label and DER bytes; blocks whose body is not base64 are skipped.
    static func documents(in text: String) -> [(label: String, der: [UInt8])] {
        var result: [(String, [UInt8])] = []
        var label: String?
        var body = ""
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                label = String(line.dropFirst(11).dropLast(5))
                body = ""
            } else if line.hasPrefix("-----END "), line.hasSuffix("-----"), let open = label {
                if String(line.dropFirst(9).dropLast(5)) == open, let der = Data(base64Encoded: body) {
                    result.append((open, Array(der)))
                }
                label = nil
            } else if label != nil {
                body += line
            }
        }
        return result
    }
}
