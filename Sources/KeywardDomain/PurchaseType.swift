/// How a key was bought; everything but a sale expires.
public enum PurchaseType: String, Codable, Sendable, CaseIterable {
    case sale
    case trial
    case monthly
    case rental

    /// Trial, monthly and rental keys always carry an expiry date.
    public var requiresExpiry: Bool { self != .sale }
}
