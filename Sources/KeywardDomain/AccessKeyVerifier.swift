import Foundation

/// The outcome of checking an access key: exactly one validation code, and the license key when it could be read.
public struct AccessKeyVerification: Sendable {
    public let code: ValidationCode
    /// The decoded license key; present whenever the payload could be decoded, even if the key is not valid.
    public let license: LicenseKey?
    /// The signing key id named in the payload.
    public let kid: String?

    public init(code: ValidationCode, license: LicenseKey?, kid: String?) {
        self.code = code
        self.license = license
        self.kid = kid
    }

    public var isValid: Bool { code == .valid }
}

/// Checks access keys against the trusted authority keys.
public struct AccessKeyVerifier: Sendable {
    public let trustStore: TrustStore

    public init(trustStore: TrustStore) {
        self.trustStore = trustStore
    }

    /// Verifies `text`, checking in this order: MALFORMED, UNSUPPORTED_VERSION, UNKNOWN_SIGNING_KEY,
    /// BAD_SIGNATURE, WRONG_ORGANIZATION (when `organization` is given), NOT_YET_VALID, EXPIRED.
    public func verify(_ text: String, organization: String? = nil, now: Date) -> AccessKeyVerification {
        guard let parts = AccessKey.split(text) else { return .init(code: .malformed, license: nil, kid: nil) }
        let payload: AccessKeyPayload
        do {
            payload = try PayloadReader.read(parts.payload)
        } catch .unsupportedVersion {
            return .init(code: .unsupportedVersion, license: nil, kid: nil)
        } catch {
            return .init(code: .malformed, license: nil, kid: nil)
        }
        let license = payload.license
        guard Self.isWellFormed(license) else { return .init(code: .malformed, license: license, kid: payload.kid) }
        func outcome(_ code: ValidationCode) -> AccessKeyVerification {
            .init(code: code, license: license, kid: payload.kid)
        }
        guard let key = trustStore.key(for: payload.kid) else { return outcome(.unknownSigningKey) }
        guard key.isValidSignature(parts.signature, for: parts.signedBytes) else { return outcome(.badSignature) }
        if let organization, organization != license.organization.id { return outcome(.wrongOrganization) }
        return outcome(license.validity(at: now))
    }

    /// Rules a signed payload must also meet; a key that breaks them was not made by a Keyward authority.
    static func isWellFormed(_ license: LicenseKey) -> Bool {
        (1...LicenseKeySpecification.maximumUsers).contains(license.users)
            && !license.components.isEmpty
            && !hasRepeats(license.components)
            && license.components.allSatisfy(ComponentCode.isValid)
            && Serial.isValid(license.serial)
            && Organization.isValidID(license.organization.id)
            && Organization.isValidLegalName(license.organization.legalName)
            && (license.expiresAt.map { $0 > license.validFrom } ?? !license.purchaseType.requiresExpiry)
    }

    /// Whether a short list repeats an element (no Set: keys name a handful of components).
    private static func hasRepeats(_ codes: [String]) -> Bool {
        for index in codes.indices where codes[(index + 1)...].contains(codes[index]) { return true }
        return false
    }
}
