import Foundation
import KeywardDomain
import KeywardStore
import KeywardTestSupport
import Logging
import Testing

@testable import KeywardCLI

extension CLITests {
    @Suite struct AuthorityCLITests {
        static let keySpec = [
            "--organization", "acme", "--legal-name", "ACME Industries Ltd.", "--profile", "manager", "--use-type", "nominative",
            "--users", "25", "--purchase-type", "rental", "--components", "DOC,WF", "--valid-from", "2026-01-01", "--expires", "2099-12-31",
        ]

        static func issueArguments(_ directory: URL, replacing overrides: [String: String] = [:], removing: Set<String> = []) -> [String] {
            var arguments = ["authority", "issue", "--data-dir", directory.path]
            var index = 0
            while index < keySpec.count {
                let flag = keySpec[index]
                if !removing.contains(flag) { arguments += [flag, overrides[flag] ?? keySpec[index + 1]] }
                index += 2
            }
            return arguments
        }

        /// A signing key and organization acme, as a clerk sets them up before issuing.
        static func initialize(_ directory: URL) async throws {
            await Keyward.call(["authority", "init", "--data-dir", directory.path])
            let created = await Keyward.call([
                "authority", "organization", "create", "--data-dir", directory.path, "--id", "acme", "--legal-name", "ACME Industries Ltd.",
            ])
            #expect(created.status == 0, "\(created.stderr)")
        }

        @Test func initPrintsTheKidAndPublicKeyAndRefusesToOverwrite() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                let first = await Keyward.call(["authority", "init", "--data-dir", directory.path, "--json"])
                #expect(first.status == 0)
                let json = try JSONDecoder().decode([String: String].self, from: Data(first.stdout.utf8))
                let publicKey = try #require(json["publicKey"])
                #expect(try AuthorityPublicKey(hex: publicKey).kid == json["kid"])

                let second = await Keyward.call(["authority", "init", "--data-dir", directory.path])
                #expect(second.status == 1)
                #expect(second.stderr.contains("already holds an authority signing key"))
                #expect(second.stdout.isEmpty)
                #expect(await Keyward.call(["authority", "public-key", "--data-dir", directory.path]).stdout == publicKey + "\n")
            }
        }

        @Test func rotationKeepsOldKeysInThePublicKeyList() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                let old = await Keyward.call(["authority", "init", "--data-dir", directory.path, "--json"]).stdout
                let new = await Keyward.call(["authority", "init", "--data-dir", directory.path, "--rotate", "--json"]).stdout
                let oldKey = try JSONDecoder().decode([String: String].self, from: Data(old.utf8))
                let newKey = try JSONDecoder().decode([String: String].self, from: Data(new.utf8))
                let listed = await Keyward.call(["authority", "public-key", "--data-dir", directory.path]).stdout.split(separator: "\n").map(
                    String.init)
                #expect(listed == [newKey["publicKey"]!, oldKey["publicKey"]!])
                let active = await Keyward.call(["authority", "public-key", "--data-dir", directory.path, "--active-only", "--pem"]).stdout
                #expect(try AuthorityPublicKey(pem: active).hex == newKey["publicKey"])
            }
        }

        @Test func issuesAKeyThatInspectsAsValid() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await Self.initialize(directory)
                let issued = await Keyward.call(Self.issueArguments(directory) + ["--json"])
                #expect(issued.status == 0)
                #expect(!issued.stderr.contains("error"))
                let json = try JSONDecoder.iso8601.decode(AuthorityIssueCommand.IssueOutput.self, from: Data(issued.stdout.utf8))
                let accessKey = json.accessKey
                #expect(json.key.users == 25)

                let trust = directory.appendingPathComponent("trust.txt")
                try await Keyward.call(["authority", "public-key", "--data-dir", directory.path]).stdout.write(
                    to: trust, atomically: true, encoding: .utf8)
                let inspected = await Keyward.call([
                    "key", "inspect", "--trust-file", trust.path, "--organization", "acme", "--at", "2030-01-01", "--json", accessKey,
                ])
                #expect(inspected.status == 0)
                let report = try JSONDecoder.iso8601.decode(KeyInspectCommand.InspectOutput.self, from: Data(inspected.stdout.utf8))
                #expect(report.code == .valid)
                #expect(report.key?.serial == json.serial)
            }
        }

        @Test(arguments: [
            ("--users", "0", "--users"),
            ("--users", "-5", "--users"),
            ("--users", "many", "--users"),
            ("--components", ",", "--components"),
            ("--components", "DOC,WF,DOC", "--components"),
            ("--components", "doc", "--components"),
            ("--components", "DOC,NOPE", "--components"),
            ("--legal-name", "", "--legal-name"),
            ("--legal-name", String(repeating: "L", count: 201), "--legal-name"),
            ("--organization", "ACME Corp", "--organization"),
            ("--expires", "2025-12-31", "--expires"),
            ("--expires", "next year", "--expires"),
            ("--valid-from", "2026-02-30", "--valid-from"),
            ("--profile", "owner", "--profile"),
            ("--use-type", "shared", "--use-type"),
            ("--purchase-type", "lease", "--purchase-type"),
        ])
        func refusesBadInputWithStatusTwoNamingTheField(flag: String, value: String, named: String) async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await Self.initialize(directory)
                let result = await Keyward.call(Self.issueArguments(directory, replacing: [flag: value]))
                #expect(result.status == 2)
                #expect(result.stdout.isEmpty)
                #expect(result.stderr.contains(named))
            }
        }

        @Test(arguments: ["trial", "monthly", "rental"])
        func refusesAnExpiringPurchaseWithoutExpiry(type: String) async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await Self.initialize(directory)
                let result = await Keyward.call(Self.issueArguments(directory, replacing: ["--purchase-type": type], removing: ["--expires"]))
                #expect(result.status == 2)
                #expect(result.stderr.contains("--expires"))
            }
        }

        @Test func issuesASaleWithoutExpiry() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await Self.initialize(directory)
                let sale = await Keyward.call(Self.issueArguments(directory, replacing: ["--purchase-type": "sale"], removing: ["--expires"]))
                #expect(sale.status == 0)
            }
        }

        @Test func pastDatesAreAllowedWithAWarningAndMakeExpiredKeys() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await Self.initialize(directory)
                let result = await Keyward.call(
                    Self.issueArguments(directory, replacing: ["--valid-from": "2020-01-01", "--expires": "2021-01-01T00:00:00Z"]))
                #expect(result.status == 0)
                #expect(result.stderr.contains("warning"))
                let publicKey = await Keyward.call(["authority", "public-key", "--data-dir", directory.path]).stdout
                let inspected = await Keyward.call(["key", "inspect", "--trust", publicKey.trimmingCharacters(in: .newlines), result.stdout])
                #expect(inspected.status == 1)
                #expect(inspected.stdout.contains("EXPIRED"))
            }
        }

        /// Every key the authority signs is recorded first: an unknown organization is refused and nothing is signed; an
        /// issued key is in the authority's store, audited, and can be revoked there.
        @Test func issuingRecordsTheKeyAndRefusesAnUnknownOrganization() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                await Keyward.call(["authority", "init", "--data-dir", directory.path])
                let unknown = await Keyward.call(Self.issueArguments(directory))
                #expect(unknown.status == 2)
                #expect(unknown.stdout.isEmpty)
                #expect(unknown.stderr.contains("--organization") && unknown.stderr.contains("organization create"))
                try await Self.initialize(directory)
                let renamed = await Keyward.call(Self.issueArguments(directory, replacing: ["--legal-name": "Someone Else Ltd."]))
                #expect(renamed.status == 2)
                #expect(renamed.stderr.contains("recorded as"))
                let issued = await Keyward.call(Self.issueArguments(directory, removing: ["--legal-name"]) + ["--json"])
                #expect(issued.status == 0, "\(issued.stderr)")
                let serial = try JSONDecoder.iso8601.decode(AuthorityIssueCommand.IssueOutput.self, from: Data(issued.stdout.utf8)).serial
                let listed = await Keyward.call(["authority", "organization", "show", "--data-dir", directory.path, "acme", "--json"])
                #expect((try? JSONDecoder.iso8601.decode(OrganizationRecord.self, from: Data(listed.stdout.utf8)))?.revision == 1, "\(listed.stdout)")
                // Recorded and audited in the authority's own database, so it can be revoked, renewed and activated.
                let database = try await KeywardDatabase.open(
                    .sqliteFile(path: directory.appendingPathComponent("authority.sqlite").path), logger: Logger(label: "test"))
                let store = AuthorityStore(database: database)
                let recorded = try await store.key(serial)
                let audit = try await AuditLog(database: database).list()
                await database.close()
                #expect(recorded?.license.organization.legalName == "ACME Industries Ltd.")
                #expect(audit.contains { $0.actor.hasPrefix("cli:") && $0.target.contains(serial) }, "\(audit.map(\.action))")
            }
        }

        @Test func organizationsAreCreatedListedAndShown() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                await Keyward.call(["authority", "init", "--data-dir", directory.path])
                #expect(
                    await Keyward.call(["authority", "organization", "list", "--data-dir", directory.path]).stdout.contains("No organization yet"))
                try await Self.initialize(directory)
                let again = await Keyward.call([
                    "authority", "organization", "create", "--data-dir", directory.path, "--id", "acme", "--legal-name", "ACME",
                ])
                #expect(again.status == 1)
                #expect(again.stderr.contains("acme"))
                let bad = await Keyward.call([
                    "authority", "organization", "create", "--data-dir", directory.path, "--id", "Not A Slug", "--legal-name", "X",
                ])
                #expect(bad.status == 2)
                #expect(bad.stderr.contains("--id"))
                let list = await Keyward.call(["authority", "organization", "list", "--data-dir", directory.path])
                #expect(list.stdout.contains("acme") && list.stdout.contains("ACME Industries Ltd."))
                #expect(await Keyward.call(["authority", "organization", "show", "--data-dir", directory.path, "nobody"]).status == 1)
            }
        }

        @Test func issueWithoutAKeyringExplainsHowToCreateOne() async throws {
            await withTemporaryDirectory(created: false) { directory in
                let result = await Keyward.call(Self.issueArguments(directory))
                #expect(result.status == 1)
                #expect(result.stderr.contains("keyward authority init"))
            }
        }
    }
}
