import Foundation

/// The authority public keys a registry trusts, by kid; several at once so keys can be rotated.
public struct TrustStore: Sendable {
    private var keys: [String: AuthorityPublicKey] = [:]

    /// A trust store holding `keys`.
    public init(_ keys: [AuthorityPublicKey] = []) {
        for key in keys { trust(key) }
    }

    /// Adds `key`; trusting the same key twice is harmless.
    public mutating func trust(_ key: AuthorityPublicKey) {
        keys[key.kid] = key
    }

    /// The trusted key named `kid`, if any.
    public func key(for kid: String) -> AuthorityPublicKey? { keys[kid] }

    /// Every trusted key, ordered by kid.
    public var all: [AuthorityPublicKey] { keys.values.sorted { $0.kid < $1.kid } }

    public var isEmpty: Bool { keys.isEmpty }

    /// Reads a trust file: 64-hex public keys one per line and PEM `PUBLIC KEY` blocks; `#` starts a comment.
    public static func parse(_ text: String) throws(TrustFileError) -> [AuthorityPublicKey] {
        var result: [AuthorityPublicKey] = []
        var insidePEM = false
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("-----BEGIN ") { insidePEM = true }
            if insidePEM {
                if line.hasPrefix("-----END ") { insidePEM = false }
                continue
            }
            guard !line.isEmpty else { continue }
            do {
                result.append(try AuthorityPublicKey(hex: line))
            } catch {
                throw TrustFileError(line: offset + 1, reason: error.description)
            }
        }
        for document in PEM.documents(in: text) where document.label == "PUBLIC KEY" {
            do {
                result.append(try AuthorityPublicKey(der: document.der))
            } catch {
                throw TrustFileError(line: nil, reason: error.description)
            }
        }
        return result
    }
}

/// A trust file line that is not a public key.
public struct TrustFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line, or `nil` for a PEM block.
    public let line: Int?
    public let reason: String

    public init(line: Int?, reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { "line \(line): \(reason)" } else { "PEM block: \(reason)" }
    }
}
