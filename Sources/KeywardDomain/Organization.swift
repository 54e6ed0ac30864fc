import Foundation

/// The customer organization a license key belongs to.
public struct Organization: Codable, Sendable, Hashable {
    /// Lowercase slug chosen by the authority, e.g. `acme`.
    public var id: String
    /// The organization's legal name, 1 to 200 characters.
    public var legalName: String

    public init(id: String, legalName: String) {
        self.id = id
        self.legalName = legalName
    }

    /// Longest legal name accepted anywhere.
    public static let maximumLegalNameLength = 200
    /// Longest organization id accepted anywhere.
    public static let maximumIDLength = 63

    /// Whether `id` is a lowercase slug: letters, digits and single hyphens, starting with a letter or digit.
    public static func isValidID(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= maximumIDLength else { return false }
        var previousWasHyphen = true  // forbids a leading hyphen
        for byte in id.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                previousWasHyphen = false
            case UInt8(ascii: "-") where !previousWasHyphen:
                previousWasHyphen = true
            default:
                return false
            }
        }
        return !previousWasHyphen
    }

    /// Whether `name` is 1 to 200 characters (Unicode scalars, as the API descriptions' `maxLength` counts), not only
    /// white space, and free of control characters.
    public static func isValidLegalName(_ name: String) -> Bool {
        // Fast path for printable ASCII, the usual case, which needs no Unicode tables.
        let utf8 = name.utf8
        if utf8.count <= maximumLegalNameLength, utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return utf8.contains { $0 != 0x20 }
        }
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return !trimmed.isEmpty
            && name.unicodeScalars.count <= maximumLegalNameLength
            && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
