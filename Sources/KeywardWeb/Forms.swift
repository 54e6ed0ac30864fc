// The web UI's form bodies.
//
// Multipart bodies are framed by multipart-kit (see `MultipartForm`). URL-encoded forms stay parsed by hand here,
// not by Hummingbird's `URLEncodedFormDecoder`, because the decoder cannot read what the pages send without
// changing how they answer:
// - checkbox lists (an access group's `menus`, the members' `logins`, a migration's `groups`) arrive as one name
//   repeated, which the decoder refuses as `duplicateKeys` unless the templates rename the fields `menus[]`;
// - a malformed body (a name that does not percent-decode, a name with `[`, a field named twice) is refused by the
//   decoder as a whole, where the pages read the rest of the form and answer beside the field as before;
// - a U+0000 anywhere must be the API's 400 `NUL_IN_TEXT` (see `NULGuard`), whichever field holds it.
// `_csrf` itself would decode (a `CodingKey` of that name); it is not the reason.

import Foundation
import Hummingbird
import KeywardHTTP
import MultipartKit

/// `application/x-www-form-urlencoded` bodies, as browsers send forms.
public enum URLEncodedForm {
    /// The fields; 400 `NUL_IN_TEXT` when a value holds U+0000 (see `NULGuard`).
    public static func parse(_ bytes: [UInt8]) throws -> FormFields {
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
public struct FormFields: Sendable {
    public var values: [(name: String, value: String)] = []

    public init(values: [(name: String, value: String)] = []) { self.values = values }

    /// The last value of `name`.
    public subscript(name: String) -> String? { values.last { $0.name == name }?.value }

    /// Every value of `name`, in order.
    public func all(_ name: String) -> [String] { values.filter { $0.name == name }.map(\.value) }
}

/// `multipart/form-data` bodies (the certificate upload, the CSV import), framed by multipart-kit's parser.
///
/// A part's name is read by `dispositionParameters` below rather than by `MultipartPart.name`, which splits the
/// header at every `;` and `=` (inside quotes too) and matches `name=` case-sensitively, so a file name such as
/// `name=x;.csv` would rename the part (`SecurityTests.multipartPartsAreNamedByTheirNameParameterWhereverItStands`).
public enum MultipartForm {
    /// A part's bytes. Its file name, if any, is never used: not as a path, not on a page.
    public struct Part: Sendable {
        public let data: [UInt8]
    }

    /// The parts by field name (the last of a name repeated), or `nil` when `contentType` names no boundary. A body
    /// that breaks off or breaks the syntax keeps the parts completed before.
    public static func parse(_ body: [UInt8], contentType: String) -> [String: Part]? {
        guard
            let boundaryParameter = contentType.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) })
                .first(where: { $0.lowercased().hasPrefix("boundary=") })
        else { return nil }
        let boundary = boundaryParameter.dropFirst(9).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard !boundary.isEmpty else { return nil }
        let parser = MultipartParser(boundary: boundary)
        var parts: [String: Part] = [:]
        var disposition: String?
        var data: [UInt8] = []
        parser.onHeader = { name, value in
            if name.lowercased() == "content-disposition" { disposition = value }
        }
        parser.onBody = { buffer in data.append(contentsOf: buffer.readableBytesView) }
        parser.onPartComplete = {
            if let disposition, let name = dispositionParameters(Substring(disposition))["name"] { parts[name] = Part(data: data) }
            disposition = nil
            data = []
        }
        do {
            try parser.execute(body)
            // A body that ends right after a boundary, without the closing `--`, still completes its last part.
            try parser.execute(Array("--".utf8))
        } catch {
            return parts
        }
        return parts
    }

    /// The `key=value` parameters after `form-data;`, names lowercased; a quoted value may hold `;` and `\"`.
    /// (A parameter is matched by its whole name, so `filename="…"` is never taken for `name`.)
    public static func dispositionParameters(_ text: Substring) -> [String: String] {
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
}
