/// base64url (RFC 4648 section 5): padded on output, padding optional on input, and strictly canonical.
///
/// Decoding refuses anything a second encoding could also produce (stray padding, non-zero trailing
/// bits), so one key has exactly one byte form and a changed character always changes the bytes.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, symbol) in alphabet.enumerated() { table[Int(symbol)] = UInt8(index) }
        return table
    }()

    /// Encodes bytes as padded base64url.
    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var output = [UInt8]()
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let chunk = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(second == nil ? UInt8(ascii: "=") : alphabet[Int(chunk >> 6 & 0x3F)])
            output.append(third == nil ? UInt8(ascii: "=") : alphabet[Int(chunk & 0x3F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes canonical base64url, padded or not; `nil` for anything else.
    public static func decode<Text: Collection>(_ text: Text) -> [UInt8]? where Text.Element == UInt8 {
        if let result = text.withContiguousStorageIfAvailable({ decode($0) }) { return result }
        return Array(text).withUnsafeBufferPointer { decode($0) }
    }

    static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var count = text.count
        var padding = 0
        while count > 0, text[count - 1] == UInt8(ascii: "=") {
            count -= 1
            padding += 1
        }
        guard count % 4 != 1, count > 0 else { return nil }
        // Padding, when kept, is exactly what completes the last group of four: `AA==`, never `AA======` or `AAAA====`.
        if padding > 0 && padding != (4 - count % 4) % 4 { return nil }

        var output = [UInt8]()
        output.reserveCapacity(count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits: UInt32 = 0
        let valid = decodeTable.withUnsafeBufferPointer { table -> Bool in
            for index in 0..<count {
                let value = table[Int(text[index])]
                guard value != 0xFF else { return false }
                accumulator = accumulator << 6 | UInt32(value)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    output.append(UInt8(truncatingIfNeeded: accumulator >> bits))
                }
            }
            return true
        }
        // The bits left over after the last whole byte must be zero, or another text decodes to the same bytes.
        guard valid, accumulator & ((1 << bits) - 1) == 0 else { return nil }
        return output
    }
}
