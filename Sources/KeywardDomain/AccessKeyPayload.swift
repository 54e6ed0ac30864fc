import Foundation

/// The JSON inside an access key: the format version `v`, the signing key's `kid`, and the license key's fields.
///
/// Unknown fields are ignored, so newer authorities can add fields that older registries skip.
public struct AccessKeyPayload: Sendable, Hashable {
    /// The format version this code reads and writes.
    public static let currentVersion = 1

    public var version: Int
    public var kid: String
    public var license: LicenseKey

    public init(version: Int = currentVersion, kid: String, license: LicenseKey) {
        self.version = version
        self.kid = kid
        self.license = license
    }
}

extension AccessKeyPayload: Encodable {
    private enum CodingKeys: String, CodingKey {
        case version = "v"
        case kid
    }

    /// Writes `v`, `kid` and the license key's fields side by side in one object. (Reading is ``PayloadReader``'s.)
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(kid, forKey: .kid)
        try license.encode(to: encoder)
    }
}
