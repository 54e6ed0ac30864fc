import Foundation
import KeywardDomain

extension AccessControl {
    /// The one rule of who administers the registry, for the API and the web UI alike: the built-in administrator,
    /// or a user whose access to `menu` of the Configuration component comes through a manager key.
    public func mayAdminister(_ login: String, menu: String) -> Bool {
        let snapshot = snapshot
        if snapshot.isBuiltin(login) { return true }
        let decision = snapshot.check(login: login, component: ConfigurationMenu.component, menu: menu, at: now())
        return decision.allowed && decision.profile == .manager
    }
}

/// The Configuration component's menus that guard the registry's own administration (see the catalog).
public enum ConfigurationMenu {
    public static let component = "CFG"
    public static let licenseKey = "CM009"
    public static let accessGroup = "CM010"
    public static let user = "CM011"
    public static let session = "CM012"
    public static let sessionHistory = "CM013"
}

extension Registry {
    /// The web UI is for people who administer at least one of these Configuration menus (through a manager key).
    public static let webUIMenus = [ConfigurationMenu.licenseKey, ConfigurationMenu.accessGroup, ConfigurationMenu.user]

    public static let webUIRefusal =
        "This account may not administer the registry: that needs access to the Configuration menus through a manager key."

    /// Whether `login` may use the web UI, whichever way they signed in.
    public func mayUseWebUI(_ login: String) -> Bool { Self.webUIMenus.contains { access.mayAdminister(login, menu: $0) } }
}
