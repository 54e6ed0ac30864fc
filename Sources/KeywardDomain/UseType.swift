/// How a key's seats are counted: named users, or users logged in at once.
public enum UseType: String, Codable, Sendable, CaseIterable {
    /// N distinct users may be assigned.
    case nominative
    /// N users may be logged in at once; the N+1th is refused.
    case floating
}
