import Foundation

/// Why an entitlement check answered as it did. `ALLOWED`, or the reason closest to success among the user's groups.
public enum EntitlementCode: String, Codable, Sendable, CaseIterable {
    case allowed = "ALLOWED"
    /// No such menu in the component, per the catalog.
    case unknownMenu = "UNKNOWN_MENU"
    case unknownUser = "UNKNOWN_USER"
    case userDisabled = "USER_DISABLED"
    /// No active group of the user grants the menu.
    case noAccess = "NO_ACCESS"
    /// The group's key no longer carries the component.
    case componentNotInKey = "COMPONENT_NOT_IN_KEY"
    /// The group's key profile is below the menu's lowest profile.
    case profileTooLow = "MENU_NOT_ALLOWED_FOR_PROFILE"
    /// The activation certificate in force does not cover the key yet.
    case keyNotActivated = "KEY_NOT_ACTIVATED"
    /// The key is expired, revoked or not yet valid.
    case keyNotValid = "KEY_NOT_VALID"
    /// A nominative key's user beyond its number of users (after a forced activation).
    case overLimit = "OVER_LIMIT"
    /// A floating key grants access through an open session only.
    case noSession = "NO_SESSION"

    /// Which refusal says most: the one that got furthest through the rules.
    var rank: Int {
        switch self {
        case .unknownMenu, .unknownUser, .userDisabled, .noAccess: 0
        case .componentNotInKey: 1
        case .profileTooLow: 2
        case .keyNotActivated: 3
        case .keyNotValid: 4
        case .overLimit, .noSession: 5
        case .allowed: 6
        }
    }
}

/// The answer to "may this user open this menu?".
public struct EntitlementDecision: Sendable, Hashable, Codable {
    public let allowed: Bool
    public let code: EntitlementCode
    /// The key the access comes through (or the one closest to granting it).
    public let keySerial: String?
    public let profile: Profile?

    public init(code: EntitlementCode, keySerial: String? = nil, profile: Profile? = nil) {
        self.allowed = code == .allowed
        self.code = code
        self.keySerial = keySerial
        self.profile = profile
    }
}
