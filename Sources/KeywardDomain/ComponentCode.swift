/// Rules for component codes such as `DOC`, `WF` or `AUD`.
public enum ComponentCode {
    /// Whether `code` is 2 to 10 characters of uppercase letters and digits, starting with a letter.
    public static func isValid(_ code: String) -> Bool {
        let bytes = code.utf8
        guard (2...10).contains(bytes.count), let first = bytes.first,
            first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z")
        else { return false }
        return bytes.allSatisfy {
            ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
        }
    }
}
