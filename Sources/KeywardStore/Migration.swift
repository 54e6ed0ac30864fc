import SQLKit

/// One numbered step of the schema; once landed it is never edited, only followed by new ones.
public struct Migration: Sendable {
    /// Position in the schema's history; numbers are unique and applied in ascending order.
    public let number: Int
    /// A short name, recorded with the number so an edited or renumbered migration is noticed.
    public let name: String
    let apply: @Sendable (any SQLDatabase, DatabaseKind) async throws -> Void

    public init(_ number: Int, _ name: String, apply: @escaping @Sendable (any SQLDatabase, DatabaseKind) async throws -> Void) {
        self.number = number
        self.name = name
        self.apply = apply
    }
}
