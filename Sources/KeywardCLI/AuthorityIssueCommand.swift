import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardStore

extension Profile: ExpressibleByArgument {}
extension UseType: ExpressibleByArgument {}
extension PurchaseType: ExpressibleByArgument {}

/// `keyward authority key issue` (and its alias `authority issue`): signs one license key for a recorded organization, records it (audited) and prints its
/// access key, exactly as the API does: a key the authority cannot revoke, renew or activate never exists.
struct AuthorityIssueCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Issue one signed license key to an organization, record it, and print its access key.",
        discussion: """
            The organization must exist (keyward authority organization create --id ID --legal-name NAME); the key carries
            its recorded legal name, is stored in the authority's database and audited, and the organization's feed revision
            rises, so synchronizing registries receive it.
            DATE is ISO 8601: a day (2027-12-31, midnight UTC) or a full timestamp (2027-12-31T18:00:00Z).
            Dates in the past are allowed, with a warning: that is how expired keys are made for tests.
            Bad input exits with status 2 and names the field.
            """
    )

    @OptionGroup var dataDirectory: AuthorityDataDirectory

    @Option(help: "The id of a recorded organization, a lowercase slug such as acme.")
    var organization: String

    @Option(help: "Optional: the organization's legal name as recorded, checked (a key always carries the recorded name).")
    var legalName: String?

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

    func run(console: Console) async throws {
        let now = Date()
        let specification = LicenseKeySpecification(
            profile: profile, useType: useType, users: users, purchaseType: purchaseType,
            components: Self.componentList(components),
            validFrom: try validFrom.map { try Self.date($0, field: "--valid-from") },
            expiresAt: try expires.map { try Self.date($0, field: "--expires") },
            suiteVersion: suiteVersion
        )
        if let legalName, !Organization.isValidLegalName(legalName) {
            throw CommandFailure.badInput(
                "--legal-name", "the legal name must be 1 to \(Organization.maximumLegalNameLength) characters, without control characters.")
        }
        guard Organization.isValidID(organization) else { throw CommandFailure.badInput("--organization", Authority.organizationRules) }
        _ = try dataDirectory.loadKeyring()
        let organization = organization
        let legalName = legalName
        let issued = try await dataDirectory.withAuthority { authority in
            guard let record = try await authority.store.organization(organization) else {
                throw CommandFailure.badInput(
                    "--organization",
                    "there is no organization \(organization): create it first with keyward authority organization create --id \(organization) --legal-name NAME."
                )
            }
            if let legalName, legalName != record.legalName {
                throw CommandFailure.badInput(
                    "--legal-name",
                    "organization \(organization) is recorded as \"\(record.legalName)\", which every key carries; leave --legal-name out, or give the recorded name."
                )
            }
            return try await authority.issue(specification, organizationId: organization, actor: AuthorityDataDirectory.actor)
        }
        for warning in specification.warnings(at: now) { console.warning(warning) }
        if json {
            console.print(Console.json(IssueOutput(serial: issued.license.serial, accessKey: issued.accessKey, key: issued.license)))
        } else {
            console.print(issued.accessKey)
        }
    }

    /// What `--json` prints: the serial, the access key and the license key it holds.
    struct IssueOutput: Codable {
        let serial: String
        let accessKey: String
        let key: LicenseKey
    }

    /// `DOC, WF` as `["DOC", "WF"]`.
    static func componentList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func date(_ text: String, field: String) throws -> Date {
        guard let date = Timestamp.parseDayOrTimestamp(text) else {
            throw CommandFailure.badInput(
                field, "\"\(text)\" is not an ISO 8601 date: use a day such as 2027-12-31 or a timestamp such as 2027-12-31T18:00:00Z.")
        }
        return date
    }

    /// The command-line flag for a specification field.
    static func flag(for field: String) -> String {
        switch field {
        case "expiresAt": "--expires"
        case "id": "--id"
        case "installationId", "serials", "environment": "--request"
        case "legalName": "--legal-name"
        case "suiteVersion": "--suite-version"
        case "useType": "--use-type"
        case "purchaseType": "--purchase-type"
        case "validFrom": "--valid-from"
        case "password": "KEYWARD_OPERATOR_PASSWORD"
        default: "--\(field)"
        }
    }
}
