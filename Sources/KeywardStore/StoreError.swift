/// A store refusal with a stable code and a sentence a person can act on.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Upper snake case, stable across versions, e.g. `DATABASE_TOO_NEW`.
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
