import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardStore

/// `keyward authority key ...`: the keys the authority issued, from issue to revocation.
struct AuthorityKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Issue, list, show, renew, switch and revoke license keys.",
        subcommands: [AuthorityIssueCommand.self, List.self, Show.self, Renew.self, Switch.self, Revoke.self]
    )

    /// A key's state at `now`, as a licensing clerk says it.
    enum Status: String, CaseIterable, ExpressibleByArgument {
        case valid, revoked, expired

        init(_ record: IssuedKeyRecord, at now: Date) {
            if record.isRevoked {
                self = .revoked
            } else if let expiresAt = record.license.expiresAt, expiresAt <= now {
                self = .expired
            } else {
                self = .valid
            }
        }
    }

    static func day(_ date: Date) -> String { String(Timestamp.format(date).prefix(10)) }

    /// Keys as a table: serial, what they grant, expiry and state (and the agreement line with `line`).
    static func table(_ records: [IssuedKeyRecord], now: Date, line: Bool = false) -> String {
        Console.table(
            (line ? ["LINE"] : []) + ["SERIAL", "PROFILE", "USE", "USERS", "PURCHASE", "COMPONENTS", "EXPIRES", "STATUS"],
            records.map { record in
                let license = record.license
                return (line ? [record.line.map(String.init) ?? "-"] : []) + [
                    license.serial, license.profile.rawValue, license.useType.rawValue, String(license.users), license.purchaseType.rawValue,
                    license.components.joined(separator: ","), license.expiresAt.map(day) ?? "never", Status(record, at: now).rawValue,
                ]
            })
    }

    /// The key `serial`, or `UNKNOWN_KEY` saying how to find one.
    static func require(_ serial: String, in authority: Authority) async throws -> IssuedKeyRecord {
        guard let record = try await authority.store.key(serial) else {
            throw CommandFailure.failed(
                "UNKNOWN_KEY: there is no key \(serial); keyward authority key list --organization ID lists an organization's.")
        }
        return record
    }

    /// `key list --organization ID [--status S]`.
    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "List an organization's keys, by serial.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Option(help: "The organization id.")
        var organization: String

        @Option(help: "Only keys in this state: valid, revoked or expired.")
        var status: Status?

        @Flag(help: "Print the keys (access keys included) as JSON, as the API answers.")
        var json = false

        func run(console: Console) async throws {
            let now = Date()
            let records = try await dataDirectory.withAuthority { try await $0.store.keys(of: organization) }
                .filter { record in status.map { Status(record, at: now) == $0 } ?? true }
            if json {
                console.print(Console.json(records.map(KeyResponse.init)))
            } else if records.isEmpty {
                console.print("No \(status.map { "\($0.rawValue) " } ?? "")key for \(organization).")
            } else {
                console.print(AuthorityKeyCommand.table(records, now: now))
            }
        }
    }

    /// `key show SERIAL`.
    struct Show: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one key: what it grants, its state (with the revocation reason and replacement) and its access key.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The key's serial, e.g. KW-7F3K-9Q2M-XA4T-C8PD.")
        var serial: String

        @Flag(help: "Print the key as JSON, as the API answers.")
        var json = false

        func run(console: Console) async throws {
            let record = try await dataDirectory.withAuthority { try await AuthorityKeyCommand.require(serial, in: $0) }
            if json {
                console.print(Console.json(KeyResponse(record: record)))
                return
            }
            let license = record.license
            var lines = [
                "\(license.serial)  \(Status(record, at: Date()).rawValue)",
                "  organization: \(license.organization.id) (\(license.organization.legalName))",
            ]
            if let agreement = record.agreementId { lines.append("  agreement:    \(agreement), line \(record.line.map(String.init) ?? "-")") }
            lines += [
                "  grants:       \(license.profile.rawValue), \(license.useType.rawValue), \(license.users) users",
                "  components:   \(license.components.joined(separator: ", "))",
                "  purchase:     \(license.purchaseType.rawValue), suite \(license.suiteVersion)",
                "  valid:        from \(Timestamp.format(license.validFrom)) \(license.expiresAt.map { "until \(Timestamp.format($0))" } ?? "without expiry")",
                "  signed:       \(Timestamp.format(license.issuedAt)) with signing key \(record.kid)",
            ]
            if let revokedAt = record.revokedAt {
                lines.append("  revoked:      \(Timestamp.format(revokedAt)): \(record.revocationReason ?? "no reason given")")
            }
            if let replacedBy = record.replacedBy { lines.append("  replaced by:  \(replacedBy)") }
            lines += ["  access key:", record.accessKey]
            console.print(lines.joined(separator: "\n"))
        }
    }

    /// `key renew SERIAL --expires DATE`.
    struct Renew: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Renew a key: the same serial, re-signed with a new expiry (audited as the command line).",
            discussion: """
                DATE is ISO 8601: a day (2028-12-31, midnight UTC) or a timestamp. The key is re-signed with the active
                signing key, which is also how a key moves off an old signing key before that one is retired. Registries
                receive it at their next synchronization; the installation must be activated again.
                """
        )

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The key's serial.")
        var serial: String

        @Option(help: "The new expiry (DATE).")
        var expires: String

        @Flag(help: "Print the renewed key as JSON, as the API answers.")
        var json = false

        func run(console: Console) async throws {
            let expiresAt = try AuthorityIssueCommand.date(expires, field: "--expires")
            let record = try await dataDirectory.withAuthority { authority in
                _ = try await AuthorityKeyCommand.require(serial, in: authority)
                return try await authority.renew(serial, expiresAt: expiresAt, actor: AuthorityDataDirectory.actor)
            }
            if expiresAt <= Date() { console.warning("The new expiry \(Timestamp.format(expiresAt)) is in the past: the key stays expired.") }
            if json {
                console.print(Console.json(KeyResponse(record: record)))
            } else {
                console.error("Key \(serial) renewed: it now expires \(Timestamp.format(expiresAt)). Its new access key:")
                console.print(record.accessKey)
            }
        }
    }

    /// `key switch SERIAL [issue flags]`.
    struct Switch: ConsoleCommand {
        static let configuration = CommandConfiguration(
            commandName: "switch",
            abstract: "Switch a key for a new one: a new serial is issued and the old key revoked (\"switched to <new serial>\").",
            discussion: """
                The new key takes the old one's fields except those given (give at least one): e.g. --users 50 for more
                seats, --components DOC,WF,AUD for another component. Its validity starts now unless --valid-from says
                otherwise; the expiry stays unless --expires says otherwise. One transaction, audited as the command line.
                The customer moves their access groups with "migrate accesses" and activates again.
                """
        )

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The serial of the key to switch.")
        var serial: String

        @Option(help: "manager, staff, basic or view.")
        var profile: Profile?

        @Option(help: "nominative or floating.")
        var useType: UseType?

        @Option(help: "The number of users (seats).")
        var users: Int?

        @Option(help: "sale, trial, monthly or rental.")
        var purchaseType: PurchaseType?

        @Option(help: "Component codes, comma separated, e.g. DOC,WF.")
        var components: String?

        @Option(help: "First day of validity (DATE); default now.")
        var validFrom: String?

        @Option(help: "Expiry (DATE); default the old key's.")
        var expires: String?

        @Option(help: "The suite version, e.g. 2.1; default the old key's.")
        var suiteVersion: String?

        @Flag(help: "Print {\"revoked\", \"issued\"} as JSON, as the API answers.")
        var json = false

        /// What `--json` prints: the old key, now revoked, and the new one.
        struct Output: Codable {
            let revoked: KeyResponse
            let issued: KeyResponse
        }

        func run(console: Console) async throws {
            guard
                profile != nil || useType != nil || users != nil || purchaseType != nil || components != nil || validFrom != nil
                    || expires != nil || suiteVersion != nil
            else {
                throw CommandFailure.badInput(
                    "--users", "say what the new key changes: --users, --components, --profile, --use-type, --purchase-type or --expires.")
            }
            let validFrom = try validFrom.map { try AuthorityIssueCommand.date($0, field: "--valid-from") }
            let expiresAt = try expires.map { try AuthorityIssueCommand.date($0, field: "--expires") }
            let result = try await dataDirectory.withAuthority { authority in
                let old = try await AuthorityKeyCommand.require(serial, in: authority).license
                let specification = LicenseKeySpecification(
                    profile: profile ?? old.profile, useType: useType ?? old.useType, users: users ?? old.users,
                    purchaseType: purchaseType ?? old.purchaseType,
                    components: components.map(AuthorityIssueCommand.componentList) ?? old.components, validFrom: validFrom,
                    expiresAt: expiresAt ?? old.expiresAt, suiteVersion: suiteVersion ?? old.suiteVersion)
                return try await authority.switchKey(serial, to: specification, actor: AuthorityDataDirectory.actor)
            }
            if json {
                console.print(Console.json(Output(revoked: KeyResponse(record: result.revoked), issued: KeyResponse(record: result.issued))))
            } else {
                console.error("Key \(serial) is revoked (switched to \(result.issued.serial)). The new key's access key:")
                console.print(result.issued.accessKey)
            }
        }
    }

    /// `key revoke SERIAL --reason TEXT`.
    struct Revoke: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key, with a reason the customer's administrators see (audited as the command line).",
            discussion:
                "Registries drop the key at their next synchronization or activation; a revoked key cannot be renewed, switched or revoked again."
        )

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The key's serial.")
        var serial: String

        @Option(help: "Why, 1 to 500 characters, e.g. \"Contract ended 2026-03-31\".")
        var reason: String

        @Flag(help: "Print the revoked key as JSON, as the API answers.")
        var json = false

        func run(console: Console) async throws {
            let record = try await dataDirectory.withAuthority { authority in
                _ = try await AuthorityKeyCommand.require(serial, in: authority)
                return try await authority.revoke(serial, reason: reason, actor: AuthorityDataDirectory.actor)
            }
            console.print(json ? Console.json(KeyResponse(record: record)) : "Key \(serial) is revoked: \(record.revocationReason ?? reason)")
        }
    }
}

/// `keyward authority issue`: the name `key issue` had first, kept for scripts; hidden from the help.
struct AuthorityIssueAlias: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue", abstract: "An alias of `keyward authority key issue`.", shouldDisplay: false)

    @OptionGroup var command: AuthorityIssueCommand

    func run(console: Console) async throws { try await command.run(console: console) }
}
