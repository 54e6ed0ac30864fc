/// A small, strict JSON reader over UTF-8 bytes, for the one document on a hot path: the access key payload.
///
/// `JSONDecoder` spends more time on a 400-byte payload than the rest of verification outside the signature
/// check; this reads values straight from the bytes. It accepts only RFC 8259 JSON, refuses duplicate keys in
/// the objects it reads as maps, and nests at most `maximumDepth` deep. ``skipValue(depth:uniqueMembers:)`` checks a whole
/// document that `JSONDecoder` then reads (signed feeds and certificates), refusing duplicate keys at every depth.
/// Kept hand-written on purpose: `Benchmarks/KeyFormatBenchmarks` ("AccessKey parse") measures it against the decoder.
struct JSONScanner {
    struct Invalid: Error {}

    static let maximumDepth = 32

    let bytes: [UInt8]
    var index: Int

    init(_ bytes: [UInt8], from index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    var atEnd: Bool { index >= bytes.count }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func consume(_ byte: UInt8) throws(Invalid) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw Invalid() }
        index += 1
    }

    private mutating func peek() throws(Invalid) -> UInt8 {
        skipWhitespace()
        guard index < bytes.count else { throw Invalid() }
        return bytes[index]
    }

    /// The members of an object, as ranges of their (unread) values; duplicate keys are refused.
    mutating func objectMembers() throws(Invalid) -> Members {
        var members = Members()
        try consume(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") {
            index += 1
            return members
        }
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw Invalid() }
            let key = try string()
            try consume(UInt8(ascii: ":"))
            skipWhitespace()
            let start = index
            try skipValue(depth: 1)
            guard members[key] == nil else { throw Invalid() }
            members.entries.append((key, start..<index))
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return members
            default: throw Invalid()
            }
        }
    }

    /// An object's members in order. A list, not a dictionary: payloads have a dozen short keys, and comparing
    /// small strings beats hashing them.
    struct Members {
        var entries: [(key: String, value: Range<Int>)] = []

        init() { entries.reserveCapacity(16) }

        subscript(key: String) -> Range<Int>? {
            for entry in entries where entry.key == key { return entry.value }
            return nil
        }
    }

    /// Skips one value of any kind, checking its syntax. With `uniqueMembers`, also refuses an object, at any depth,
    /// that names a member twice: readers disagree on which of the two counts (`JSONDecoder` and most others keep the
    /// last, some the first).
    mutating func skipValue(depth: Int, uniqueMembers: Bool = false) throws(Invalid) {
        guard depth <= Self.maximumDepth else { throw Invalid() }
        switch try peek() {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"):
            index += 1
            if try peek() == UInt8(ascii: "}") {
                index += 1
                return
            }
            var names: Set<String> = []
            while true {
                guard try peek() == UInt8(ascii: "\"") else { throw Invalid() }
                if uniqueMembers {
                    guard names.insert(try string()).inserted else { throw Invalid() }
                } else {
                    try skipString()
                }
                try consume(UInt8(ascii: ":"))
                try skipValue(depth: depth + 1, uniqueMembers: uniqueMembers)
                let next = try peek()
                index += 1
                if next == UInt8(ascii: "}") { return }
                guard next == UInt8(ascii: ",") else { throw Invalid() }
            }
        case UInt8(ascii: "["):
            index += 1
            if try peek() == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                try skipValue(depth: depth + 1, uniqueMembers: uniqueMembers)
                let next = try peek()
                index += 1
                if next == UInt8(ascii: "]") { return }
                guard next == UInt8(ascii: ",") else { throw Invalid() }
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try number()
        }
    }

    /// Whether `bytes` are one strict JSON value, with white space around it only, whose objects name each member once.
    static func isUniquelyNamed(_ bytes: [UInt8]) -> Bool {
        var scanner = JSONScanner(bytes)
        do {
            try scanner.skipValue(depth: 1, uniqueMembers: true)
        } catch {
            return false
        }
        scanner.skipWhitespace()
        return scanner.atEnd
    }

    private mutating func literal(_ word: StaticString) throws(Invalid) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw Invalid() }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw Invalid() }
        index += count
    }

    /// A JSON number, returned as an integer when it is one (no fraction, no exponent, fits in Int).
    mutating func number() throws(Invalid) -> Int? {
        skipWhitespace()
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw Invalid() }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw Invalid() }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw Invalid() }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        guard integral, index - start <= 18 else { return nil }
        var value = 0
        var position = start
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        while position < index {
            value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            position += 1
        }
        return negative ? -value : value
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Skips a string without building it; one with escapes or non-ASCII text is checked by reading it.
    mutating func skipString() throws(Invalid) {
        let start = index
        try consume(UInt8(ascii: "\""))
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else {
                index = start
                _ = try string()
                return
            }
            index += 1
        }
        throw Invalid()
    }

    /// A JSON string, unescaped.
    mutating func string() throws(Invalid) -> String {
        try consume(UInt8(ascii: "\""))
        let start = index
        // Fast path: no escapes, the common case for payloads; plain ASCII needs no UTF-8 validation.
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = bytes[start..<index]
                index += 1
                if ascii { return String(decoding: text, as: UTF8.self) }
                guard let string = String(validating: text, as: UTF8.self) else { throw Invalid() }
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw Invalid() }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        var scalars = String.UnicodeScalarView()
        guard let prefix = String(validating: bytes[start..<index], as: UTF8.self) else { throw Invalid() }
        scalars.append(contentsOf: prefix.unicodeScalars)
        var runStart = index
        func flush(_ end: Int) throws(Invalid) {
            guard let run = String(validating: bytes[runStart..<end], as: UTF8.self) else { throw Invalid() }
            scalars.append(contentsOf: run.unicodeScalars)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                try flush(index)
                index += 1
                return String(scalars)
            }
            guard byte >= 0x20 else { throw Invalid() }
            guard byte == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            try flush(index)
            index += 1
            guard index < bytes.count else { throw Invalid() }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800...0xDBFF).contains(code) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { throw Invalid() }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw Invalid() }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw Invalid() }
                scalars.append(scalar)
            default:
                throw Invalid()
            }
            runStart = index
        }
        throw Invalid()
    }

    private mutating func hex4() throws(Invalid) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Invalid() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Invalid()
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
