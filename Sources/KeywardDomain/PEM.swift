import Foundation

/// Finds PEM blocks in text; CryptoExtras (`Curve25519.Signing.PrivateKey(derRepresentation:)`, `.pemRepresentation`)
/// reads and writes the Ed25519 keys in them.
///
/// The block scanner stays hand-written because CryptoExtras' PEM reader (swift-asn1's `PEMDocument`) takes a text that
/// is exactly one block of 64-character lines: a trust file mixes hex lines, comments and several `PUBLIC KEY` blocks,
/// and a key pasted or saved on Windows may have CRLF or trailing spaces, all of which Keyward has always accepted.
enum PEM {
    /// The DER bytes of the first `label` block in `text`, or `nil` if there is none.
    static func first(_ label: String, in text: String) -> [UInt8]? {
        documents(in: text).first(where: { $0.label == label })?.der
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
