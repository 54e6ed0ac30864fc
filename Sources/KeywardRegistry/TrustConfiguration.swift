import Foundation
import KeywardDomain

/// The authority public keys a registry trusts, from `--trust-key HEX` values and `--trust-file FILE`s.
public enum TrustConfiguration {
    /// A trust store from hex keys and trust files; refuses the whole configuration on the first bad entry.
    public static func load(keys: [String], files: [String]) throws(TrustConfigurationError) -> TrustStore {
        var store = TrustStore()
        for (index, text) in keys.enumerated() {
            do {
                store.trust(try AuthorityPublicKey(hex: text))
            } catch {
                throw TrustConfigurationError(message: "Trusted key #\(index + 1) is \(error.description).")
            }
        }
        for path in files {
            // FileHandle rather than String(contentsOfFile:), which cannot read pipes such as <(command).
            guard let handle = FileHandle(forReadingAtPath: path),
                let data = try? handle.readToEnd(), let text = String(data: data, encoding: .utf8)
            else {
                throw TrustConfigurationError(message: "Cannot read the trust file \(path): check that it exists, is readable and is UTF-8 text.")
            }
            do {
                for key in try TrustStore.parse(text) { store.trust(key) }
            } catch {
                throw TrustConfigurationError(message: "The trust file \(path) has a bad entry at \(error.description).")
            }
        }
        return store
    }
}

/// A trust configuration that cannot be used, and why.
public struct TrustConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}
