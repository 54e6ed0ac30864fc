import ArgumentParser
import Foundation
import KeywardDomain
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore

/// `keyward key ...`: working with access keys.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Work with access keys.",
        subcommands: [KeyInspectCommand.self]
    )
}

/// `keyward key inspect`: decodes an access key and prints its validation code.
struct KeyInspectCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Decode an access key and check it against the trusted authority keys.",
        discussion: "Exits 0 only when the key is VALID, 1 for any other validation code, 2 for bad input."
    )

    @Option(name: .customLong("trust"), help: "A trusted authority public key, 64 hex characters (repeatable).")
    var trustKeys: [String] = []

    @Option(name: .customLong("trust-file"), help: "A file of trusted public keys: hex lines or PEM blocks (repeatable).")
    var trustFiles: [String] = []

    @Option(help: "The organization the key must belong to.")
    var organization: String?

    @Option(help: "Judge validity at this DATE instead of now (ISO 8601 day or timestamp).")
    var at: String?

    @Flag(help: "Print {\"code\", \"message\", \"kid\", \"key\"} as JSON.")
    var json = false

    @Argument(help: "The access key, or - to read it from standard input.")
    var accessKey: String

    func run(console: Console) async throws {
        let trust: TrustStore
        do {
            trust = try TrustConfiguration.load(keys: trustKeys, files: trustFiles)
        } catch {
            throw CommandFailure.badInput(trustFiles.isEmpty ? "--trust" : "--trust-file", error.message)
        }
        let now = try at.map { try AuthorityIssueCommand.date($0, field: "--at") } ?? Date()
        let text = accessKey == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : accessKey
        if trust.isEmpty {
            console.warning("no trusted authority key given (--trust or --trust-file): the key can be decoded but not verified.")
        }
        let result = AccessKeyVerifier(trustStore: trust).verify(text, organization: organization, now: now)
        if json {
            console.print(Console.json(InspectOutput(code: result.code, message: result.code.explanation, kid: result.kid, key: result.license)))
        } else {
            console.print(Self.report(result, now: now))
        }
        if !result.isValid { throw ExitCode(1) }
    }

    /// What `--json` prints: the validation code, its explanation, the signing key id and the license key.
    struct InspectOutput: Codable {
        let code: ValidationCode
        let message: String
        let kid: String?
        let key: LicenseKey?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(code, forKey: .code)
            try container.encode(message, forKey: .message)
            try container.encode(kid, forKey: .kid)  // null rather than absent: the shape stays the same
            try container.encode(key, forKey: .key)
        }

        enum CodingKeys: String, CodingKey { case code, message, kid, key }
    }

    /// The human report: the code and its explanation, then the key's fields when they could be decoded.
    static func report(_ result: AccessKeyVerification, now: Date) -> String {
        var lines = ["Validation:     \(result.code.rawValue): \(result.code.explanation)"]
        if let license = result.license {
            let expiry: String =
                if let expiresAt = license.expiresAt, let days = license.expiresInDays(at: now) {
                    "\(Timestamp.format(expiresAt)) (\(days >= 0 ? "in \(days) days" : "\(-days) days ago"))"
                } else {
                    "never"
                }
            lines += [
                "Serial:         \(license.serial)",
                "Organization:   \(license.organization.id) (\(license.organization.legalName))",
                "Profile:        \(license.profile.rawValue)",
                "Use type:       \(license.useType.rawValue)",
                "Users:          \(license.users)",
                "Purchase type:  \(license.purchaseType.rawValue)",
                "Suite version:  \(license.suiteVersion)",
                "Valid from:     \(Timestamp.format(license.validFrom))",
                "Expires:        \(expiry)",
                "Components:     \(license.components.joined(separator: ", "))",
                "Issued at:      \(Timestamp.format(license.issuedAt))",
            ]
        }
        if let kid = result.kid { lines.append("Signing key id: \(kid)") }
        return lines.joined(separator: "\n")
    }
}
