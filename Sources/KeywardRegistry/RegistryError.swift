import Foundation
import KeywardDomain

/// Refusals of the registry's own rules, with a stable code and a sentence to act on.
public enum RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A field that breaks a rule.
    case invalid(FieldError)
    /// An access key that is not VALID: its validation code is the error code.
    case accessKey(ValidationCode)
    /// An activation certificate that cannot be installed.
    case certificate(code: String, message: String)
    /// The licensing authority refused or could not be reached.
    case authority(code: String, message: String)
    /// Online activation or synchronization needs an authority, and none is configured.
    case noAuthority
    /// A feed that cannot be applied.
    case feed(code: String, message: String)
    /// A synchronization is already under way.
    case syncInProgress
    /// The server's configuration sets the authority connection; the settings page cannot change it.
    case settingsLocked
    /// Any other refusal of the access rules, with its kind.
    case refused(code: String, message: String, kind: RefusalKind, details: [String: JSONValue] = [:])

    public var code: String {
        switch self {
        case .invalid(let problem): problem.code
        case .accessKey(let code): code.rawValue
        case .certificate(let code, _), .authority(let code, _), .feed(let code, _): code
        case .noAuthority: "NO_AUTHORITY"
        case .syncInProgress: "SYNC_IN_PROGRESS"
        case .settingsLocked: "SETTINGS_LOCKED"
        case .refused(let code, _, _, _): code
        }
    }

    public var message: String {
        switch self {
        case .invalid(let problem): problem.message
        case .accessKey(let code): code.explanation
        case .certificate(_, let message), .authority(_, let message), .feed(_, let message): message
        case .syncInProgress: "A synchronization is already running; wait for it to finish, then look at the history."
        case .noAuthority:
            "No licensing authority is configured for this installation. Set its URL and organization token in Settings (or start with --authority-url and --organization-token-file), or activate offline."
        case .refused(_, let message, _, _): message
        case .settingsLocked:
            "The authority URL and token are set by the server's configuration (--authority-url, KEYWARD_AUTHORITY_URL or the config file); change them there."
        }
    }

    public var description: String { "\(code): \(message)" }
}
