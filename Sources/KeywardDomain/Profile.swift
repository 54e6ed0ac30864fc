/// The level of access a license key grants; a higher profile includes everything a lower one may do.
public enum Profile: String, Codable, Sendable, CaseIterable, Comparable {
    case view
    case basic
    case staff
    case manager

    /// Position in the ordering `view < basic < staff < manager`.
    public var rank: Int {
        switch self {
        case .view: 0
        case .basic: 1
        case .staff: 2
        case .manager: 3
        }
    }

    /// Whether a key of this profile may use a menu whose lowest allowed profile is `required`.
    public func includes(_ required: Profile) -> Bool { rank >= required.rank }

    public static func < (lhs: Profile, rhs: Profile) -> Bool { lhs.rank < rhs.rank }
}
