import Foundation
import KeywardHTTP
import KeywardRegistry

/// `application/x-www-form-urlencoded` bodies, as browsers send forms.
enum URLEncodedForm {
    /// The fields; 400 `NUL_IN_TEXT` when a value holds U+0000 (see `NULGuard`).
    static func parse(_ bytes: [UInt8]) throws -> FormFields {
        var fields = FormFields()
        for pair in bytes.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]) else { continue }
            let value = parts.count > 1 ? decode(parts[1]) ?? "" : ""
            if name.contains("\u{0}") || value.contains("\u{0}") { throw NULGuard.refusal }
            fields.values.append((name, value))
        }
        return fields
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> String? {
        String(decoding: bytes.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }, as: UTF8.self).removingPercentEncoding
    }
}

/// A form's fields in order; a name may repeat (checkboxes).
struct FormFields: Sendable {
    var values: [(name: String, value: String)] = []

    /// The last value of `name`.
    subscript(name: String) -> String? { values.last { $0.name == name }?.value }

    /// Every value of `name`, in order.
    func all(_ name: String) -> [String] { values.filter { $0.name == name }.map(\.value) }
}

/// `multipart/form-data` bodies: just enough for a form with a file field and hidden fields.
enum MultipartForm {
    /// A part's bytes. Its file name, if any, is never used: not as a path, not on a page.
    struct Part {
        let data: [UInt8]
    }

    /// The parts by field name, or `nil` when the body does not follow the boundary of `contentType`.
    static func parse(_ body: [UInt8], contentType: String) -> [String: Part]? {
        guard let boundaryParameter = contentType.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { $0.lowercased().hasPrefix("boundary=") })
        else { return nil }
        let boundary = Array(("--" + boundaryParameter.dropFirst(9).trimmingCharacters(in: CharacterSet(charactersIn: "\""))).utf8)
        var parts: [String: Part] = [:]
        var sections: [ArraySlice<UInt8>] = []
        var searchFrom = body.startIndex
        var previous: Int?
        while let match = find(boundary, in: body, from: searchFrom) {
            if let start = previous { sections.append(body[start..<match]) }
            previous = match + boundary.count
            searchFrom = match + boundary.count
        }
        for section in sections {
            var content = section
            if content.starts(with: [13, 10]) { content = content.dropFirst(2) }
            if content.suffix(2).elementsEqual([13, 10]) { content = content.dropLast(2) }
            guard let split = find([13, 10, 13, 10], in: Array(content), from: 0) else { continue }
            let bytes = Array(content)
            let headers = String(decoding: bytes[..<split], as: UTF8.self)
            let data = Array(bytes[(split + 4)...])
            guard let disposition = headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-disposition:") }) else { continue }
            let parameters = dispositionParameters(disposition.dropFirst("content-disposition:".count))
            guard let name = parameters["name"] else { continue }
            parts[name] = Part(data: data)
        }
        return parts
    }

    /// The `key=value` parameters after `form-data;`, names lowercased; a quoted value may hold `;` and `\"`.
    /// (A parameter is matched by its whole name, so `filename="…"` is never taken for `name`.)
    static func dispositionParameters(_ text: Substring) -> [String: String] {
        var parameters: [String: String] = [:]
        var index = text.startIndex
        func advance() { index = text.index(after: index) }
        func skip(while condition: (Character) -> Bool) { while index < text.endIndex, condition(text[index]) { advance() } }
        while index < text.endIndex {
            let nameStart = index
            skip { $0 != "=" && $0 != ";" }
            let name = text[nameStart..<index].trimmingCharacters(in: .whitespaces).lowercased()
            var value: String?
            if index < text.endIndex, text[index] == "=" {
                advance()
                skip { $0 == " " || $0 == "\t" }
                if index < text.endIndex, text[index] == "\"" {
                    advance()
                    var quoted = ""
                    while index < text.endIndex, text[index] != "\"" {
                        if text[index] == "\\", text.index(after: index) < text.endIndex { advance() }
                        quoted.append(text[index])
                        advance()
                    }
                    value = quoted
                }
                let valueStart = index
                skip { $0 != ";" }
                if value == nil { value = text[valueStart..<index].trimmingCharacters(in: .whitespaces) }
            }
            if index < text.endIndex { advance() }  // the `;`
            if let value, !name.isEmpty, parameters[name] == nil { parameters[name] = value }
        }
        return parameters
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
