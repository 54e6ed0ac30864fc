/// License key serials: `KW-` and four groups of four Crockford base32 characters (80 random bits).
public enum Serial {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A new random serial.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// A new serial drawn from `generator`, so tests can make them reproducibly.
    public static func generate(using generator: inout some RandomNumberGenerator) -> String {
        let groups = (0..<4).map { _ in
            String((0..<4).map { _ in alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))] })
        }
        return "KW-" + groups.joined(separator: "-")
    }

    /// Whether `text` has the shape of a serial (any authority's): `KW`, then 1 to 7 groups of 1 to 8 base32 characters.
    public static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        guard bytes.count <= 3 + 7 * 9, bytes.starts(with: "KW-".utf8) else { return false }
        var groups = 1
        var groupLength = 0
        for byte in bytes.dropFirst(3) {
            if byte == UInt8(ascii: "-") {
                guard groupLength > 0 else { return false }
                groups += 1
                groupLength = 0
                continue
            }
            guard isBase32(byte), groupLength < 8 else { return false }
            groupLength += 1
        }
        return groupLength > 0 && groups <= 7
    }

    private static func isBase32(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "I"), UInt8(ascii: "L"), UInt8(ascii: "O"), UInt8(ascii: "U"): false
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        default: false
        }
    }
}
