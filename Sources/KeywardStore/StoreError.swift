import KeywardDomain

/// A store refusal with a stable code, a sentence a person can act on, and what kind of refusal it is.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of refusal, so the HTTP layer can choose a status without knowing every code.
    public enum Kind: Sendable, Equatable {
        /// The input breaks a rule (HTTP 422).
        case invalid
        /// The thing named does not exist, or may not be seen (HTTP 404).
        case notFound
        /// The change clashes with what is stored (HTTP 409).
        case conflict
        /// The database does not answer now; the same request may succeed in a few seconds (HTTP 503).
        case unavailable
    }

    /// Upper snake case, stable across versions, e.g. `DATABASE_TOO_NEW`.
    public let code: String
    public let message: String
    public let kind: Kind
    public let details: [String: JSONValue]

    public init(code: String, message: String, kind: Kind = .invalid, details: [String: JSONValue] = [:]) {
        self.code = code
        self.message = message
        self.kind = kind
        self.details = details
    }

    public var description: String { "\(code): \(message)" }
}

extension StoreError {
    /// The database server cannot be reached, or gave no connection within the deadline: refused at once rather than
    /// left waiting, while what the registry holds in memory (entitlement checks) keeps answering.
    public static let databaseUnavailable = StoreError(
        code: "DATABASE_UNAVAILABLE",
        message: "The database does not answer. Try again in a few seconds; entitlement checks keep answering meanwhile.", kind: .unavailable)
}
