/// HTML escaping for every page and every hand-built HTML or SVG string of both services.
///
/// Escapes by UTF-8 byte, not by `Character`: a grapheme cluster can join `<` or `"` to the letter before it (a
/// Prepend letter such as U+0D4E, or a combining mark after it), so a comparison of whole characters with `"<"`
/// lets the markup through while the browser, which reads code points, sees a real tag. The five characters
/// escaped are ASCII, so a byte of them is never part of a longer UTF-8 sequence.
public enum HTML {
    /// `text` with `<`, `>`, `&`, `"` and `'` replaced by their entities, safe in element content and in quoted
    /// attribute values.
    public static func escape(_ text: String) -> String {
        let utf8 = text.utf8
        guard utf8.contains(where: isSpecial) else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(utf8.count + 16)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "<"): output.append(contentsOf: lessThan)
            case UInt8(ascii: ">"): output.append(contentsOf: greaterThan)
            case UInt8(ascii: "&"): output.append(contentsOf: ampersand)
            case UInt8(ascii: "\""): output.append(contentsOf: quote)
            case UInt8(ascii: "'"): output.append(contentsOf: apostrophe)
            default: output.append(byte)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    @inline(__always)
    static func isSpecial(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "&") || byte == UInt8(ascii: "\"")
            || byte == UInt8(ascii: "'")
    }

    static let lessThan = Array("&lt;".utf8)
    static let greaterThan = Array("&gt;".utf8)
    static let ampersand = Array("&amp;".utf8)
    static let quote = Array("&quot;".utf8)
    static let apostrophe = Array("&#39;".utf8)

    /// The Content-Security-Policy of every HTML page: scripts and styles from the site only, no plugins, no `<base>`,
    /// forms posted only to the site, never framed.
    public static let contentSecurityPolicy =
        "default-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}
