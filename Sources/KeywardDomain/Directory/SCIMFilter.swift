import Foundation

// SCIM filters and PATCH paths (RFC 7644 sections 3.4.2.2 and 3.5.2), read by hand: the grammar is small, no library in
// the dependency set reads it, and identity providers' spellings (capital operators, schema-qualified names) must be
// accepted exactly as the RFC allows.

/// An attribute named in a filter or a path: `userName`, `name.givenName`, `emails.value`, or schema-qualified
/// (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`). Names are case-insensitive (RFC 7643
/// section 2.1), so they are kept folded to lower case.
public struct SCIMAttributePath: Sendable, Hashable, CustomStringConvertible {
    /// The schema URI, folded; `nil` when the name is not qualified.
    public var schema: String?
    public var name: String
    public var subAttribute: String?

    public init(schema: String? = nil, name: String, subAttribute: String? = nil) {
        self.schema = schema?.lowercased()
        self.name = name.lowercased()
        self.subAttribute = subAttribute?.lowercased()
    }

    public var description: String {
        (schema.map { $0 + ":" } ?? "") + name + (subAttribute.map { "." + $0 } ?? "")
    }

    /// Reads `text` as an attribute path; `nil` when it is not one.
    public init?(_ text: Substring) {
        var rest = text
        var schema: Substring?
        if let colon = text.lastIndex(of: ":") {
            schema = text[..<colon]
            rest = text[text.index(after: colon)...]
            guard let schema, schema.lowercased().hasPrefix("urn:") else { return nil }
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy(Self.isName) else { return nil }
        self.init(schema: schema.map(String.init), name: String(parts[0]), subAttribute: parts.count == 2 ? String(parts[1]) : nil)
    }

    /// `ATTRNAME = ALPHA *(nameChar)`, and `$ref`, the one name RFC 7643 spells otherwise.
    static func isName(_ text: Substring) -> Bool {
        if text == "$ref" { return true }
        guard let first = text.unicodeScalars.first, first.isASCIILetter else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}

/// A value a filter compares with.
public enum SCIMValue: Sendable, Hashable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
}

/// A comparison operator of a filter.
public enum SCIMComparison: String, Sendable, CaseIterable {
    case eq, ne, co, sw, ew, gt, lt, ge, le
}

/// A SCIM filter, as `GET /Users?filter=` and PATCH paths give it.
public indirect enum SCIMFilter: Sendable, Hashable {
    case present(SCIMAttributePath)
    case compare(SCIMAttributePath, SCIMComparison, SCIMValue)
    case and(SCIMFilter, SCIMFilter)
    case or(SCIMFilter, SCIMFilter)
    case not(SCIMFilter)
    /// `emails[type eq "work" and value co "@example.com"]`: some value of a multi-valued attribute matches.
    case valuePath(SCIMAttributePath, SCIMFilter)
}

/// A filter or a path that cannot be read, with where and why, for a SCIM error (`invalidFilter`, `invalidPath`).
public struct SCIMSyntaxError: Error, Sendable, Equatable {
    public let message: String

    public init(message: String) { self.message = message }
}

/// A PATCH operation's `path`: an attribute, optionally narrowed to the values a filter selects and to one of their
/// sub-attributes (`members[value eq "2819c223"]`, `emails[type eq "work"].value`).
public struct SCIMPatchPath: Sendable, Hashable {
    public var attribute: SCIMAttributePath
    public var filter: SCIMFilter?
    /// The sub-attribute after a value filter (`.value` in `emails[type eq "work"].value`).
    public var subAttribute: String?

    public init(attribute: SCIMAttributePath, filter: SCIMFilter? = nil, subAttribute: String? = nil) {
        self.attribute = attribute
        self.filter = filter
        self.subAttribute = subAttribute?.lowercased()
    }

    /// Reads a PATCH path. A value filter's own attributes are relative to the attribute it narrows.
    public static func parse(_ text: String) throws(SCIMSyntaxError) -> SCIMPatchPath {
        var parser = SCIMFilterParser(text, what: "path")
        let path = try parser.patchPath()
        return path
    }
}

extension SCIMFilter {
    /// The longest filter read: a longer one is refused rather than parsed.
    public static let maximumLength = 4096
    /// How deep parentheses, `not` and brackets may nest.
    public static let maximumDepth = 32

    /// Reads a filter (`userName eq "bjensen" and not (emails co "example.org")`). Operators and `and`/`or`/`not` are
    /// case-insensitive; `not` binds tighter than `and`, which binds tighter than `or`.
    public static func parse(_ text: String) throws(SCIMSyntaxError) -> SCIMFilter {
        var parser = SCIMFilterParser(text, what: "filter")
        return try parser.wholeFilter()
    }
}

/// The lexer and recursive-descent parser behind ``SCIMFilter/parse(_:)`` and ``SCIMPatchPath/parse(_:)``.
struct SCIMFilterParser {
    enum Token: Equatable {
        case open, close, openBracket, closeBracket
        /// An attribute path, an operator or a keyword: a run of characters other than space, parentheses, brackets and quotes.
        case word(Substring)
        case string(String)
    }

    private var tokens: [Token] = []
    private var position = 0
    private var depth = 0
    private let text: String
    private let what: String
    private var lexed: SCIMSyntaxError?

    init(_ text: String, what: String) {
        self.text = text
        self.what = what
        if text.utf8.count > SCIMFilter.maximumLength {
            lexed = SCIMSyntaxError(message: "The \(what) is longer than \(SCIMFilter.maximumLength) bytes.")
        } else {
            do throws(SCIMSyntaxError) {
                tokens = try Self.lex(text, what: what)
            } catch {
                lexed = error
            }
        }
    }

    static func lex(_ text: String, what: String) throws(SCIMSyntaxError) -> [Token] {
        var tokens: [Token] = []
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            switch character {
            case " ", "\t", "\n", "\r":
                index = text.index(after: index)
            case "(":
                tokens.append(.open)
                index = text.index(after: index)
            case ")":
                tokens.append(.close)
                index = text.index(after: index)
            case "[":
                tokens.append(.openBracket)
                index = text.index(after: index)
            case "]":
                tokens.append(.closeBracket)
                index = text.index(after: index)
            case "\"":
                let (value, end) = try string(in: text, from: index, what: what)
                tokens.append(.string(value))
                index = end
            default:
                let start = index
                while index < text.endIndex, !" \t\n\r()[]\"".contains(text[index]) { index = text.index(after: index) }
                tokens.append(.word(text[start..<index]))
            }
        }
        return tokens
    }

    /// A JSON string starting at `start` (its opening quote), decoded, and the index after its closing quote.
    static func string(in text: String, from start: String.Index, what: String) throws(SCIMSyntaxError) -> (String, String.Index) {
        var index = text.index(after: start)
        var escaped = false
        while index < text.endIndex {
            let character = text[index]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                let end = text.index(after: index)
                guard let value = try? JSONDecoder().decode(String.self, from: Data(text[start..<end].utf8)) else {
                    throw SCIMSyntaxError(message: "The \(what) has a string that is not valid JSON: \(text[start..<end].prefix(60)).")
                }
                return (value, end)
            }
            index = text.index(after: index)
        }
        throw SCIMSyntaxError(message: "The \(what) has a string without its closing quote.")
    }

    // MARK: Grammar

    mutating func wholeFilter() throws(SCIMSyntaxError) -> SCIMFilter {
        if let lexed { throw lexed }
        guard !tokens.isEmpty else { throw SCIMSyntaxError(message: "The filter is empty.") }
        let filter = try orExpression()
        if position < tokens.count { throw unexpected(peek(), "after a complete filter") }
        return filter
    }

    mutating func patchPath() throws(SCIMSyntaxError) -> SCIMPatchPath {
        if let lexed { throw lexed }
        guard case .word(let word)? = next() else { throw SCIMSyntaxError(message: "The path is empty or does not start with an attribute.") }
        guard let attribute = SCIMAttributePath(word) else { throw notAnAttribute(word) }
        guard peek() == .openBracket else {
            if position < tokens.count { throw unexpected(peek(), "after the attribute \(word)") }
            return SCIMPatchPath(attribute: attribute)
        }
        position += 1
        let filter = try orExpression()
        guard next() == .closeBracket else { throw SCIMSyntaxError(message: "The path's value filter needs its closing ].") }
        var subAttribute: String?
        if case .word(let word)? = peek() {
            position += 1
            guard word.first == ".", SCIMAttributePath.isName(word.dropFirst()) else {
                throw SCIMSyntaxError(message: "After a value filter, the path may only name a sub-attribute (.value), not \(word).")
            }
            subAttribute = String(word.dropFirst())
        }
        if position < tokens.count { throw unexpected(peek(), "at the end of the path") }
        guard attribute.subAttribute == nil else {
            throw SCIMSyntaxError(message: "A value filter narrows an attribute, not a sub-attribute (\(attribute)).")
        }
        return SCIMPatchPath(attribute: attribute, filter: filter, subAttribute: subAttribute)
    }

    private mutating func orExpression() throws(SCIMSyntaxError) -> SCIMFilter {
        var filter = try andExpression()
        while isKeyword("or") {
            position += 1
            filter = .or(filter, try andExpression())
        }
        return filter
    }

    private mutating func andExpression() throws(SCIMSyntaxError) -> SCIMFilter {
        var filter = try unary()
        while isKeyword("and") {
            position += 1
            filter = .and(filter, try unary())
        }
        return filter
    }

    private mutating func unary() throws(SCIMSyntaxError) -> SCIMFilter {
        depth += 1
        defer { depth -= 1 }
        guard depth <= SCIMFilter.maximumDepth else {
            throw SCIMSyntaxError(message: "The \(what) nests deeper than \(SCIMFilter.maximumDepth) levels.")
        }
        if isKeyword("not") {
            position += 1
            guard next() == .open else { throw SCIMSyntaxError(message: "not needs its filter in parentheses: not (…).") }
            let inner = try orExpression()
            guard next() == .close else { throw SCIMSyntaxError(message: "A ( in the \(what) has no closing ).") }
            return .not(inner)
        }
        if peek() == .open {
            position += 1
            let inner = try orExpression()
            guard next() == .close else { throw SCIMSyntaxError(message: "A ( in the \(what) has no closing ).") }
            return inner
        }
        return try attributeExpression()
    }

    private mutating func attributeExpression() throws(SCIMSyntaxError) -> SCIMFilter {
        let first = next()
        guard case .word(let word)? = first else { throw unexpected(first, "where an attribute should be") }
        guard let attribute = SCIMAttributePath(word) else { throw notAnAttribute(word) }
        if peek() == .openBracket {
            position += 1
            depth += 1
            defer { depth -= 1 }
            let inner = try orExpression()
            guard next() == .closeBracket else { throw SCIMSyntaxError(message: "A [ in the \(what) has no closing ].") }
            return .valuePath(attribute, inner)
        }
        guard case .word(let operatorWord)? = next() else {
            throw SCIMSyntaxError(message: "\(word) needs an operator after it: eq, ne, co, sw, ew, gt, lt, ge, le or pr.")
        }
        if operatorWord.lowercased() == "pr" { return .present(attribute) }
        guard let comparison = SCIMComparison(rawValue: operatorWord.lowercased()) else {
            throw SCIMSyntaxError(
                message: "\"\(operatorWord.prefix(40))\" is not an operator: use eq, ne, co, sw, ew, gt, lt, ge, le or pr.")
        }
        return .compare(attribute, comparison, try value(after: word, comparison))
    }

    private mutating func value(after attribute: Substring, _ comparison: SCIMComparison) throws(SCIMSyntaxError) -> SCIMValue {
        switch next() {
        case .string(let value)?: return .string(value)
        case .word(let word)?:
            switch word.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "null": return .null
            default:
                if let number = Double(word), word.first.map({ $0.isNumber || $0 == "-" }) == true { return .number(number) }
                throw SCIMSyntaxError(
                    message:
                        "\(attribute) \(comparison.rawValue) needs a value: a quoted string, a number, true, false or null, not \(word.prefix(40)).")
            }
        default:
            throw SCIMSyntaxError(message: "\(attribute) \(comparison.rawValue) needs a value after it.")
        }
    }

    // MARK: Tokens

    private func peek() -> Token? { position < tokens.count ? tokens[position] : nil }

    private mutating func next() -> Token? {
        defer { position += 1 }
        return peek()
    }

    private func isKeyword(_ keyword: String) -> Bool {
        if case .word(let word)? = peek() { return word.lowercased() == keyword }
        return false
    }

    private func notAnAttribute(_ word: Substring) -> SCIMSyntaxError {
        SCIMSyntaxError(message: "\"\(word.prefix(60))\" is not an attribute name (letters, digits, - and _, with an optional .subAttribute).")
    }

    private func unexpected(_ token: Token?, _ place: String) -> SCIMSyntaxError {
        let shown: String
        switch token {
        case .open?: shown = "("
        case .close?: shown = ")"
        case .openBracket?: shown = "["
        case .closeBracket?: shown = "]"
        case .word(let word)?: shown = String(word.prefix(40))
        case .string(let value)?: shown = "\"\(value.prefix(40))\""
        case nil: return SCIMSyntaxError(message: "The \(what) ends too early.")
        }
        return SCIMSyntaxError(message: "The \(what) has \(shown) \(place).")
    }
}
