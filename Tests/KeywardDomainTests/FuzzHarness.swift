// The one place that says how a fuzz input reaches the parsers. The libFuzzer targets in `Fuzz/` compile this
// same file (Fuzz/Sources/FuzzHarness/FuzzHarness.swift is a symbolic link to it), and FuzzCorpusTests replays
// every corpus and regression file through it, so a crash the fuzzer saved replays here exactly as it ran there.
//
// Public API of KeywardDomain only: the fuzzers link a release build, where `@testable import` is not available.

import Foundation
import KeywardDomain

/// One libFuzzer target: its corpus directories are `Fuzz/Corpus/<rawValue>/` and `Fuzz/Regressions/<rawValue>/`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `AccessKeyVerifier.verify`: `AccessKey.split`, `Base64URL`, `PayloadReader` and `JSONScanner`, `Timestamp`.
    case accessKey = "access-key"
    /// `SignedDocument` JSON, `verifiedPayload(for: .feed)`, then the `FeedEnvelope` inside and its access keys.
    case feedEnvelope = "feed-envelope"
    /// `SignedDocument` JSON, `verifiedPayload(for: .certificate)`, then the `ActivationCertificate` inside.
    case activationCertificate = "activation-certificate"

    /// The Swift executable target in `Fuzz/Package.swift`.
    public var executableName: String {
        switch self {
        case .accessKey: "FuzzAccessKey"
        case .feedEnvelope: "FuzzFeedEnvelope"
        case .activationCertificate: "FuzzActivationCertificate"
        }
    }

    /// Every code a rejected input of this target may end in; anything else is an undefined error.
    public var rejectionCodes: Set<String> {
        switch self {
        case .accessKey:
            Set(ValidationCode.allCases.map(\.rawValue)).subtracting(FuzzHarness.acceptedCodes)
        case .feedEnvelope, .activationCertificate:
            Set(["DOCUMENT_MALFORMED", "PAYLOAD_MALFORMED", "UNSUPPORTED_VERSION"])
                .union([SignedDocument.Failure.malformed, .unknownSigningKey, .badSignature].map(\.rawValue))
        }
    }
}

/// What one input came to.
public struct FuzzResult: Sendable {
    /// `true` when the parsers produced a value: a license key with a date-only code, a feed, a certificate.
    public var accepted = false
    /// The validation code, `SignedDocument.Failure`, or harness code (`DOCUMENT_MALFORMED`: not a signed document's
    /// JSON; `PAYLOAD_MALFORMED`: signed, but not a feed or certificate; `UNSUPPORTED_VERSION`) it ended in.
    public var code = ""
    /// Broken invariants: each one is a bug, and the fuzzer stops on it as on a crash.
    public var violations: [String] = []
}

public enum FuzzHarness {
    /// Codes that mean the access key was read in full: only its dates decided the outcome.
    public static let acceptedCodes: Set<String> = ["VALID", "NOT_YET_VALID", "EXPIRED", "WRONG_ORGANIZATION"]

    /// The fixed test authority key (seed 00 01 ... 1f) the harness trusts and signs payload inputs with.
    public static let signingKey = try! AuthoritySigningKey(
        pem: """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f
            -----END PRIVATE KEY-----
            """)
    /// A second fixed key (seed 20 21 ... 3f) the harness does not trust, for `UNKNOWN_SIGNING_KEY` seeds.
    public static let untrustedKey = try! AuthoritySigningKey(
        pem: """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VwBCIEICAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/
            -----END PRIVATE KEY-----
            """)
    public static let trust = TrustStore([signingKey.publicKey])
    public static let verifier = AccessKeyVerifier(trustStore: trust)
    /// "Now" for every validity decision, so a replay gives the same code on any day.
    public static let now = Timestamp.parse("2026-06-15T12:00:00Z")!
    /// The organization feeds and certificates are checked against.
    public static let organization = Organization(id: "acme", legalName: "ACME Industries Ltd.")

    public static func run(_ target: FuzzTarget, _ bytes: [UInt8]) -> FuzzResult {
        var result = FuzzResult()
        switch target {
        case .accessKey: accessKey(bytes, into: &result)
        case .feedEnvelope: document(bytes, purpose: .feed, into: &result)
        case .activationCertificate: document(bytes, purpose: .certificate, into: &result)
        }
        return result
    }

    // MARK: Access keys

    /// Input starting with `key/` (after white space) is pasted access key text; anything else is payload JSON, which is signed with
    /// ``signingKey`` first so that a payload the reader accepts also passes the signature check.
    static func accessKey(_ bytes: [UInt8], into result: inout FuzzResult) {
        let pasted = bytes.drop { [0x20, 0x0A, 0x0D, 0x09].contains($0) }.starts(with: AccessKey.prefix.utf8)
        let text = pasted ? String(decoding: bytes, as: UTF8.self) : sign(payload: bytes)
        let verification = verifier.verify(text, organization: organization.id, now: now)
        result.code = verification.code.rawValue
        result.accepted = acceptedCodes.contains(result.code)
        checkAccessKey(text, verification, into: &result)
    }

    /// Signs `payload` as the authority signs an access key.
    public static func sign(payload: [UInt8], with key: AuthoritySigningKey = signingKey) -> String {
        let signedText = AccessKey.prefix + Base64URL.encode(payload)
        return signedText + "." + Base64URL.encode(key.signature(for: Array(signedText.utf8)))
    }

    private static func checkAccessKey(_ text: String, _ verification: AccessKeyVerification, into result: inout FuzzResult) {
        if let parts = AccessKey.split(text) {
            // One key, one spelling: the pasted parts must be the canonical encodings, padded or not.
            let compact = text.utf8.filter { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
            let body = compact.dropFirst(AccessKey.prefix.utf8.count)
            let dot = body.firstIndex(of: UInt8(ascii: "."))!
            checkCanonical(Array(body[..<dot]), decoded: parts.payload, "access key payload", into: &result)
            checkCanonical(Array(body[(dot + 1)...]), decoded: parts.signature, "access key signature", into: &result)
            if parts.signedText != AccessKey.prefix + Base64URL.encode(parts.payload) {
                result.violations.append("signed bytes \(parts.signedText) are not key/ and the canonical payload")
            }
            if verification.license != nil {
                checkAgainstJSONDecoder(parts.payload, verification, into: &result)
            }
        } else if verification.code != .malformed {
            result.violations.append("text that does not split is \(verification.code.rawValue), not MALFORMED")
        }
        guard let license = verification.license else { return }
        // The activation page adds up the seats of every key it reads: ten keys of this count must not overflow.
        _ = ActivationChange.between(
            certified: [],
            current: (1...10).map { number in
                var copy = license
                copy.serial += "-\(number)"
                return CoveredKey(copy)
            })
        // What the registry stores it writes again: the license must survive being issued anew and read back.
        let reissued = verifier.verify(AccessKey.issue(license, signedWith: signingKey), organization: organization.id, now: now)
        guard let again = reissued.license else {
            result.violations.append("license read from the key cannot be read back once issued again: \(reissued.code.rawValue)")
            return
        }
        if again != wholeSeconds(license) {
            result.violations.append("license changed when issued again: \(license) became \(again)")
        }
        let signatureDecided = [ValidationCode.unknownSigningKey, .badSignature].contains(verification.code)
        if !signatureDecided, again == license, reissued.code != verification.code {
            result.violations.append("same license, issued again, is \(reissued.code.rawValue), not \(verification.code.rawValue)")
        }
    }

    /// `license` with its times cut to whole seconds, as `Timestamp.format` writes them.
    private static func wholeSeconds(_ license: LicenseKey) -> LicenseKey {
        func cut(_ date: Date) -> Date { Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)) }
        var copy = license
        copy.validFrom = cut(license.validFrom)
        copy.expiresAt = license.expiresAt.map(cut)
        copy.issuedAt = cut(license.issuedAt)
        return copy
    }

    /// The payload as `JSONDecoder` reads it; `PayloadReader` is a hand-written reader of the same JSON.
    private struct DecodedPayload: Decodable {
        let v: Int
        let kid: String
        let license: LicenseKey

        enum CodingKeys: String, CodingKey { case v, kid }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            v = try container.decode(Int.self, forKey: .v)
            kid = try container.decode(String.self, forKey: .kid)
            license = try LicenseKey(from: decoder)
        }
    }

    /// Whatever JSON `PayloadReader` accepts, `JSONDecoder` must accept too, and read the same values from it.
    private static func checkAgainstJSONDecoder(_ payload: [UInt8], _ verification: AccessKeyVerification, into result: inout FuzzResult) {
        do {
            let decoded = try JSONDecoder().decode(DecodedPayload.self, from: Data(payload))
            if decoded.license != verification.license || decoded.kid != verification.kid || decoded.v != 1 {
                result.violations.append(
                    "PayloadReader and JSONDecoder read different values: \(String(describing: verification.license)) vs \(decoded.license)")
            }
        } catch {
            result.violations.append("PayloadReader accepted a payload JSONDecoder refuses: \(error)")
        }
    }

    // MARK: Signed documents

    /// Input that decodes as a `SignedDocument` is taken as one; anything else is payload JSON, which is signed
    /// with ``signingKey`` first so that the envelope or certificate parser behind the signature is reached.
    static func document(_ bytes: [UInt8], purpose: SignedDocument.Purpose, into result: inout FuzzResult) {
        var data = Data(bytes)
        if (try? JSONDecoder().decode(SignedDocument.self, from: data)) == nil {
            data = encode(SignedDocument.sign(data, for: purpose, with: signingKey))
        }
        // Read as `SignedDocument.read` reads it: strict JSON that names each member once, then `JSONDecoder`.
        guard SignedDocument.isUniquelyNamed(data) else {
            result.code = "DOCUMENT_MALFORMED"
            return
        }
        let document: SignedDocument
        do {
            document = try JSONDecoder().decode(SignedDocument.self, from: data)
        } catch {
            result.code = "DOCUMENT_MALFORMED"
            if !(error is DecodingError) { result.violations.append("JSONDecoder threw \(type(of: error)), not DecodingError: \(error)") }
            return
        }
        let payload: Data
        do {
            payload = try document.verifiedPayload(for: purpose, trust: trust)
        } catch {
            result.code = error.rawValue
            return
        }
        checkCanonical(Array(document.payload.utf8), decoded: Array(payload), "\(purpose.rawValue) payload", into: &result)
        if let signature = Base64URL.decode(Array(document.signature.utf8)) {
            checkCanonical(Array(document.signature.utf8), decoded: signature, "\(purpose.rawValue) signature", into: &result)
        }
        switch purpose {
        case .feed: feed(payload, into: &result)
        case .certificate: certificate(payload, into: &result)
        case .catalog: _ = try? Catalog.decode(payload)
        }
    }

    /// What `Registry.verifiedEnvelope` and the synchronizer do with a verified feed payload.
    private static func feed(_ payload: Data, into result: inout FuzzResult) {
        guard let envelope: FeedEnvelope = decodePayload(payload, into: &result),
            accept(
                version: envelope.v, current: FeedEnvelope.currentVersion, organization: envelope.organization.id, issuedAt: envelope.issuedAt,
                into: &result)
        else { return }
        _ = Organization.isValidLegalName(envelope.organization.legalName)
        for key in envelope.keys {
            _ = verifier.verify(key.accessKey, organization: envelope.organization.id, now: now)
            _ = Serial.isValid(key.serial)
        }
        for revoked in envelope.revoked {
            _ = Timestamp.parse(revoked.revokedAt)
            _ = Serial.isValid(revoked.serial)
        }
        checkRoundTrip(envelope, into: &result)
    }

    /// What feeds and certificates share once decoded: the version gate, then the organization and the time it was
    /// issued. `false` (with `UNSUPPORTED_VERSION`) when the version is not this one.
    private static func accept(version: Int, current: Int, organization id: String, issuedAt: String, into result: inout FuzzResult) -> Bool {
        guard version == current else {
            result.code = "UNSUPPORTED_VERSION"
            return false
        }
        result.accepted = true
        result.code = id == organization.id ? "VALID" : "WRONG_ORGANIZATION"
        _ = Timestamp.parse(issuedAt)
        _ = Organization.isValidID(id)
        return true
    }

    /// What `Registry.install` does with a verified certificate payload.
    private static func certificate(_ payload: Data, into result: inout FuzzResult) {
        guard let certificate: ActivationCertificate = decodePayload(payload, into: &result),
            accept(
                version: certificate.v, current: ActivationCertificate.currentVersion, organization: certificate.organization.id,
                issuedAt: certificate.issuedAt, into: &result)
        else { return }
        _ = certificate.serials.allSatisfy(Serial.isValid)
        checkRoundTrip(certificate, into: &result)
    }

    /// Read as `SignedDocument.decode` reads it: strict JSON that names each member once, then `JSONDecoder`.
    private static func decodePayload<Value: Decodable>(_ payload: Data, into result: inout FuzzResult) -> Value? {
        guard SignedDocument.isUniquelyNamed(payload) else {
            result.code = "PAYLOAD_MALFORMED"
            return nil
        }
        do {
            return try JSONDecoder().decode(Value.self, from: payload)
        } catch {
            result.code = "PAYLOAD_MALFORMED"
            if !(error is DecodingError) { result.violations.append("JSONDecoder threw \(type(of: error)), not DecodingError: \(error)") }
            return nil
        }
    }

    /// A decoded feed or certificate, signed again by the authority, must read back as the same value.
    private static func checkRoundTrip<Value: Codable & Equatable>(_ value: Value, into result: inout FuzzResult) {
        do {
            let again = try JSONDecoder().decode(Value.self, from: encode(value))
            if again != value { result.violations.append("\(Value.self) changed in an encode/decode round trip") }
        } catch {
            result.violations.append("\(Value.self) does not decode once encoded again: \(error)")
        }
    }

    private static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try! encoder.encode(value)
    }

    // MARK: Shared

    /// base64url text the parsers accepted must be the one canonical spelling of its bytes, padded or unpadded.
    private static func checkCanonical(_ text: [UInt8], decoded: [UInt8], _ what: String, into result: inout FuzzResult) {
        let padded = Array(Base64URL.encode(decoded).utf8)
        var unpadded = padded
        while unpadded.last == UInt8(ascii: "=") { unpadded.removeLast() }
        if text != padded && text != unpadded {
            result.violations.append(
                "\(what) \(String(decoding: text, as: UTF8.self)) is not the canonical \(String(decoding: padded, as: UTF8.self)) (padded or not)")
        }
    }
}
