import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardDomain

extension Profile: ExpressibleByArgument {}
extension UseType: ExpressibleByArgument {}
extension PurchaseType: ExpressibleByArgument {}

/// `keyward authority issue`: signs one license key and prints its access key.
struct AuthorityIssueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Issue one signed license key and print its access key.",
        discussion: """
        DATE is ISO 8601: a day (2027-12-31, midnight UTC) or a full timestamp (2027-12-31T18:00:00Z).
        Dates in the past are allowed, with a warning: that is how expired keys are made for tests.
        Bad input exits with status 2 and names the field.
        """
    )

    @OptionGroup var dataDirectory: AuthorityDataDirectory

    @Option(help: "The organization id, a lowercase slug such as acme.")
    var organization: String

    @Option(help: "The organization's legal name (1 to 200 characters).")
    var legalName: String

    @Option(help: "manager, staff, basic or view.")
    var profile: Profile

    @Option(help: "nominative (named seats) or floating (concurrent seats).")
    var useType: UseType

    @Option(help: "The number of users (seats), at least 1.")
    var users: Int

    @Option(help: "sale, trial, monthly or rental (all but sale need --expires).")
    var purchaseType: PurchaseType

    @Option(help: "Component codes, comma separated, e.g. DOC,WF.")
    var components: String

    @Option(help: "First day of validity (DATE); default now.")
    var validFrom: String?

    @Option(help: "Expiry (DATE); the key is not valid from this moment on.")
    var expires: String?

    @Option(help: "The suite version the key is for, e.g. 2.1.")
    var suiteVersion: String?

    @Flag(help: "Print {\"serial\", \"accessKey\", \"key\"} as JSON.")
    var json = false

    func run() async throws {
        let now = Date()
        let specification = LicenseKeySpecification(
            profile: profile, useType: useType, users: users, purchaseType: purchaseType,
            components: components.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            validFrom: try validFrom.map { try Self.date($0, field: "--valid-from") },
            expiresAt: try expires.map { try Self.date($0, field: "--expires") },
            suiteVersion: suiteVersion
        )
        // Keys may only name components of the solutions catalog, as through the API.
        let catalog = try Authority.defaultCatalog()
        let unknown = catalog.unknownComponents(in: specification.components)
        if !unknown.isEmpty, specification.components.allSatisfy(ComponentCode.isValid) {
            throw CommandFailure.badInput("--components", "not in the solutions catalog: \(unknown.joined(separator: ", ")). Known: \(catalog.components.map(\.code).joined(separator: ", ")).")
        }
        let issuer = KeyIssuer(signingKey: try dataDirectory.loadKeyring().activeKey)
        let issued: IssuedKey
        do {
            issued = try issuer.issue(specification, for: Organization(id: organization, legalName: legalName), now: now)
        } catch {
            let first = error.problems[0]
            let others = error.problems.dropFirst().map { "error: \(Self.flag(for: $0.field)): \($0.message)" }
            throw CommandFailure(
                message: (["error: \(Self.flag(for: first.field)): \(first.message)"] + others).joined(separator: "\n"),
                exitCode: 2
            )
        }
        for warning in specification.warnings(at: now) { Console.warning(warning) }
        if json {
            print(Console.json(IssueOutput(serial: issued.serial, accessKey: issued.accessKey, key: issued.license)))
        } else {
            print(issued.accessKey)
        }
    }

    private struct IssueOutput: Encodable {
        let serial: String
        let accessKey: String
        let key: LicenseKey
    }

    static func date(_ text: String, field: String) throws -> Date {
        guard let date = Timestamp.parseDayOrTimestamp(text) else {
            throw CommandFailure.badInput(field, "\"\(text)\" is not an ISO 8601 date: use a day such as 2027-12-31 or a timestamp such as 2027-12-31T18:00:00Z.")
        }
        return date
    }

    /// The command-line flag for a specification field.
    static func flag(for field: String) -> String {
        switch field {
        case "expiresAt": "--expires"
        case "legalName": "--legal-name"
        case "suiteVersion": "--suite-version"
        case "useType": "--use-type"
        case "purchaseType": "--purchase-type"
        case "validFrom": "--valid-from"
        default: "--\(field)"
        }
    }
}
