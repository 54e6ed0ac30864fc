import Crypto
import Foundation

/// A bearer token: `kw_<id>_<secret>`. The id is public and names the token (logs, revocation);
/// only SHA-256 of the secret is stored, and the secret is shown once, when the token is made.
public struct APIToken: Sendable, Hashable {
    public let id: String
    public let secret: String

    private static let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")

    /// A new random token: a 12-character id and a 32-character secret (160 bits).
    public static func generate() -> APIToken {
        var generator = SystemRandomNumberGenerator()
        func random(_ count: Int) -> String {
            String((0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))] })
        }
        return APIToken(id: random(12), secret: random(32))
    }

    /// The token as presented in `Authorization: Bearer ...`.
    public var text: String { "kw_\(id)_\(secret)" }

    /// Reads a presented token; `nil` when it is not shaped like one.
    public init?(_ text: String) {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "kw", parts[1].count == 12, parts[2].count == 32,
            (parts[1] + parts[2]).allSatisfy({ Self.alphabet.contains($0) })
        else { return nil }
        self.init(id: String(parts[1]), secret: String(parts[2]))
    }

    private init(id: String, secret: String) {
        self.id = id
        self.secret = secret
    }

    /// What is stored: hex SHA-256 of the secret.
    public var secretHash: String { Self.hash(secret) }

    /// Hex SHA-256: how a secret (a token's, a web session's id, a sign-in's state) is stored instead of itself.
    public static func hash(_ secret: String) -> String { Hex.encode(SHA256.hash(data: Data(secret.utf8))) }

    /// Whether this token's secret hashes to `storedHash`, compared in constant time.
    public func matches(storedHash: String) -> Bool {
        let computed = Array(secretHash.utf8)
        let stored = Array(storedHash.utf8)
        guard computed.count == stored.count else { return false }
        var difference: UInt8 = 0
        for index in computed.indices { difference |= computed[index] ^ stored[index] }
        return difference == 0
    }
}
