/// The one outcome of checking an access key (DESIGN.md section 3).
public enum ValidationCode: String, Codable, Sendable, CaseIterable {
    case valid = "VALID"
    case malformed = "MALFORMED"
    case unsupportedVersion = "UNSUPPORTED_VERSION"
    case unknownSigningKey = "UNKNOWN_SIGNING_KEY"
    case badSignature = "BAD_SIGNATURE"
    case wrongOrganization = "WRONG_ORGANIZATION"
    case notYetValid = "NOT_YET_VALID"
    case expired = "EXPIRED"
    case revoked = "REVOKED"

    /// A sentence a person can act on, for messages and the web UI.
    public var explanation: String {
        switch self {
        case .valid:
            "The access key is valid."
        case .malformed:
            "This is not a complete access key. Copy the whole key, starting with \"key/\", and paste it again."
        case .unsupportedVersion:
            "This access key was made by a newer version of the licensing authority. Upgrade Keyward to register it."
        case .unknownSigningKey:
            "This access key was signed by an authority key this installation does not trust. Add the authority's public key to the trusted keys, or ask the vendor for a key signed with a trusted one."
        case .badSignature:
            "The access key's signature does not match its contents: it was altered or damaged. Paste the key exactly as the vendor sent it."
        case .wrongOrganization:
            "This access key belongs to another organization. Ask the vendor for your organization's key."
        case .notYetValid:
            "This access key is not valid yet. It can be registered from its validity start date."
        case .expired:
            "This access key has expired. Ask the vendor to renew it."
        case .revoked:
            "The vendor has revoked this access key. Ask the vendor for a replacement."
        }
    }
}
