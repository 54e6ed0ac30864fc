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

    /// Whether `text` has the shape of a serial (any authority's: `KW-` then groups of base32).
    public static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 8, parts[0] == "KW" else { return false }
        return parts.dropFirst().allSatisfy { group in
            (1...8).contains(group.count) && group.allSatisfy { alphabet.contains($0) }
        }
    }
}
