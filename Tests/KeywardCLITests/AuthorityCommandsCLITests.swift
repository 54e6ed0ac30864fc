import Foundation
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Logging
import Testing

@testable import KeywardCLI

extension CLITests {
    /// `keyward authority agreement|key|installation|signing-key ...`: every API operation from the command line.
    @Suite struct AuthorityCommandsCLITests {
        /// The authority's audit log, read from its database, to prove a refused command wrote nothing.
        static func audit(_ directory: URL) async throws -> [AuditEvent] {
            let database = try await KeywardDatabase.open(
                .sqliteFile(path: directory.appendingPathComponent("authority.sqlite").path), logger: Logger(label: "test"))
            let events = try await AuditLog(database: database).list(AuditQuery(limit: 500))
            await database.close()
            return events
        }

        static func issue(_ directory: URL, _ extra: [String] = []) async throws -> String {
            let issued = await Keyward.call(
                ["authority", "key", "issue", "--data-dir", directory.path, "--organization", "acme", "--profile", "staff", "--use-type", "floating"]
                    + ["--users", "5", "--purchase-type", "rental", "--components", "DOC", "--expires", "2099-12-31", "--json"] + extra)
            #expect(issued.status == 0, "\(issued.stderr)")
            return try JSONDecoder.iso8601.decode(AuthorityIssueCommand.IssueOutput.self, from: Data(issued.stdout.utf8)).serial
        }

        static let goodLine = #"{"profile":"manager","useType":"nominative","users":25,"purchaseType":"sale","components":["DOC","WF"]}"#

        @Test func agreementsAreIssuedFromAFileListedAndShown() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await AuthorityCLITests.initialize(directory)
                let data = ["--data-dir", directory.path]
                let file = directory.appendingPathComponent("agreement.json")
                try
                    #"{"reference":"2026-ACME-001","signedOn":"2026-03-01","lines":[\#(Self.goodLine),\#(Self.goodLine.replacingOccurrences(of: "25", with: "5"))]}"#
                    .write(to: file, atomically: true, encoding: .utf8)
                let created = await Keyward.call(
                    ["authority", "agreement", "create", "--organization", "acme", "--file", file.path, "--json"] + data)
                #expect(created.status == 0, "\(created.stderr)")
                let agreement = try JSONDecoder.iso8601.decode(AgreementResponse.self, from: Data(created.stdout.utf8))
                #expect(agreement.reference == "2026-ACME-001" && agreement.serials.count == 2)
                #expect(agreement.keys?.map(\.record.license.users) == [25, 5] && agreement.keys?.map(\.record.line) == [1, 2])

                let listed = await Keyward.call(["authority", "agreement", "list", "--organization", "acme"] + data)
                #expect(listed.stdout.contains(agreement.id) && listed.stdout.contains("2026-ACME-001") && listed.stdout.contains("2026-03-01"))
                let shown = await Keyward.call(["authority", "agreement", "show", agreement.id] + data)
                #expect(shown.status == 0 && agreement.serials.allSatisfy(shown.stdout.contains), "\(shown.stdout)")
                let unknown = await Keyward.call(["authority", "agreement", "show", "AG-NONE"] + data)
                #expect(unknown.status == 1 && unknown.stderr.contains("UNKNOWN_AGREEMENT"))
                // The same reference twice is refused.
                let again = await Keyward.call(["authority", "agreement", "create", "--organization", "acme", "--file", file.path] + data)
                #expect(again.status == 1 && again.stderr.contains("AGREEMENT_EXISTS"), "\(again.stderr)")
            }
        }

        @Test func anAgreementFileWithProblemsOnTwoLinesNamesEveryOneAndWritesNothing() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await AuthorityCLITests.initialize(directory)
                let data = ["--data-dir", directory.path]
                let file = directory.appendingPathComponent("agreement.json")
                let bad = [
                    Self.goodLine, Self.goodLine.replacingOccurrences(of: #""users":25"#, with: #""users":0"#),
                    Self.goodLine.replacingOccurrences(of: #"["DOC","WF"]"#, with: #"["DOC","NOPE"]"#),
                ]
                try #"{"reference":"R-1","lines":[\#(bad.joined(separator: ","))]}"#.write(to: file, atomically: true, encoding: .utf8)
                let before = try await Self.audit(directory)
                let refused = await Keyward.call(["authority", "agreement", "create", "--organization", "acme", "--file", file.path] + data)
                #expect(refused.status == 1)
                #expect(refused.stdout.isEmpty)
                #expect(refused.stderr.contains("lines[1].users: ") && refused.stderr.contains("INVALID_USERS"), "\(refused.stderr)")
                #expect(refused.stderr.contains("lines[2].components: ") && refused.stderr.contains("UNKNOWN_COMPONENT"), "\(refused.stderr)")
                #expect(!refused.stderr.contains("lines[0]"))
                // A line of the wrong shape is named by its path too.
                try #"{"reference":"R-1","lines":[\#(Self.goodLine.replacingOccurrences(of: "25", with: #""many""#))]}"#
                    .write(to: file, atomically: true, encoding: .utf8)
                let shape = await Keyward.call(["authority", "agreement", "create", "--organization", "acme", "--file", file.path] + data)
                #expect(shape.status == 1 && shape.stderr.contains("lines[0].users: "), "\(shape.stderr)")
                #expect(try await Self.audit(directory) == before, "nothing was written")
                let listed = await Keyward.call(["authority", "agreement", "list", "--organization", "acme", "--json"] + data)
                #expect(try JSONDecoder.iso8601.decode([AgreementResponse].self, from: Data(listed.stdout.utf8)).isEmpty)
                #expect(await Keyward.call(["authority", "key", "list", "--organization", "acme"] + data).stdout.contains("No key for acme"))
            }
        }

        @Test func keysAreListedShownRenewedSwitchedAndRevoked() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await AuthorityCLITests.initialize(directory)
                let data = ["--data-dir", directory.path]
                let serial = try await Self.issue(directory)
                // `authority issue` still works, and is not in the help.
                #expect(await Keyward.call(AuthorityCLITests.issueArguments(directory)).status == 0)
                let help = await Keyward.call(["authority", "--help"])
                #expect(help.stdout.contains("agreement") && !help.stdout.contains("\n  issue "), "\(help.stdout)")

                let shown = await Keyward.call(["authority", "key", "show", serial] + data)
                #expect(shown.status == 0 && shown.stdout.contains("\(serial)  valid") && shown.stdout.contains("access key:"), "\(shown.stdout)")
                let valid = await Keyward.call(["authority", "key", "list", "--organization", "acme", "--status", "valid", "--json"] + data)
                #expect(try JSONDecoder.iso8601.decode([KeyResponse].self, from: Data(valid.stdout.utf8)).count == 2)

                // Bad input changes nothing.
                let before = try await Self.audit(directory)
                let badDate = await Keyward.call(["authority", "key", "renew", serial, "--expires", "next year"] + data)
                #expect(badDate.status == 2 && badDate.stderr.contains("--expires"))
                let unknown = await Keyward.call(["authority", "key", "renew", "KW-NONE-NONE-NONE-NONE", "--expires", "2100-01-01"] + data)
                #expect(unknown.status == 1 && unknown.stderr.contains("UNKNOWN_KEY"))
                #expect(await Keyward.call(["authority", "key", "show", "KW-NONE"] + data).stderr.contains("UNKNOWN_KEY"))
                let noChange = await Keyward.call(["authority", "key", "switch", serial] + data)
                #expect(noChange.status == 2, "\(noChange.stderr)")
                let noReason = await Keyward.call(["authority", "key", "revoke", serial, "--reason", " "] + data)
                #expect(noReason.status == 2 && noReason.stderr.contains("--reason"))
                let badStatus = await Keyward.call(["authority", "key", "list", "--organization", "acme", "--status", "lost"] + data)
                #expect(badStatus.status == 2)
                #expect(try await Self.audit(directory) == before, "nothing was written")

                let renewed = await Keyward.call(["authority", "key", "renew", serial, "--expires", "2100-06-30", "--json"] + data)
                #expect(renewed.status == 0, "\(renewed.stderr)")
                #expect(
                    try JSONDecoder.iso8601.decode(KeyResponse.self, from: Data(renewed.stdout.utf8)).record.license.expiresAt
                        == Timestamp.parse("2100-06-30T00:00:00Z"))

                let switched = await Keyward.call(["authority", "key", "switch", serial, "--users", "50", "--json"] + data)
                #expect(switched.status == 0, "\(switched.stderr)")
                let output = try JSONDecoder.iso8601.decode(AuthorityKeyCommand.Switch.Output.self, from: Data(switched.stdout.utf8))
                let newKey = output.issued.record
                #expect(output.revoked.record.revocationReason == "switched to \(newKey.license.serial)")
                #expect(newKey.license.users == 50 && newKey.license.components == ["DOC"] && newKey.license.serial != serial)
                #expect(newKey.license.expiresAt == Timestamp.parse("2100-06-30T00:00:00Z"), "the expiry stays unless --expires says")
                let old = await Keyward.call(["authority", "key", "show", serial] + data).stdout
                #expect(old.contains("\(serial)  revoked") && old.contains("switched to \(newKey.license.serial)"), "\(old)")
                #expect(old.contains("replaced by:  \(newKey.license.serial)"))

                let revoked = await Keyward.call(["authority", "key", "revoke", newKey.license.serial, "--reason", "Contract ended"] + data)
                #expect(revoked.status == 0 && revoked.stdout.contains("Contract ended"), "\(revoked.stderr)")
                let again = await Keyward.call(["authority", "key", "revoke", newKey.license.serial, "--reason", "again"] + data)
                #expect(again.status == 1 && again.stderr.contains("KEY_REVOKED"))
                let listed = await Keyward.call(["authority", "key", "list", "--organization", "acme", "--status", "revoked"] + data).stdout
                #expect(listed.contains(serial) && listed.contains(newKey.license.serial), "\(listed)")
                let actions = try await Self.audit(directory).filter { $0.actor.hasPrefix("cli:") }.map(\.action)
                #expect(
                    actions.contains("license-key.renewed") && actions.contains("license-key.switched") && actions.contains("license-key.revoked"))
            }
        }

        @Test func installationsAreListedAndPromotedWithinTheMonthsChanges() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await AuthorityCLITests.initialize(directory)
                let data = ["--data-dir", directory.path]
                let serial = try await Self.issue(directory)
                for (installation, environment) in [("inst-a", InstallationEnvironment.production), ("inst-b", .test)] {
                    let request = directory.appendingPathComponent("\(installation).json")
                    try KeywardJSON.encoder.encode(
                        ActivationRequestFile(
                            organizationId: "acme", installationId: installation, environment: environment, serials: [serial], promote: false)
                    ).write(to: request)
                    let activated = await Keyward.call(
                        ["authority", "activate", "--request", request.path, "--out", request.path + ".cert", "--json"] + data)
                    #expect(activated.status == 0, "\(activated.stderr)")
                    let output = try JSONSerialization.jsonObject(with: Data(activated.stdout.utf8)) as? [String: Any]
                    #expect((output?["certificate"] as? [String: Any])?["signature"] != nil && output?["changes"] is [Any], "\(activated.stdout)")
                    #expect(FileManager.default.fileExists(atPath: request.path + ".cert"), "the certificate is still written to --out")
                }
                let listed = await Keyward.call(["authority", "installation", "list", "--organization", "acme"] + data)
                #expect(
                    listed.stdout.contains("inst-a") && listed.stdout.contains("production") && listed.stdout.contains("changes this month: 0 of 3"))

                let before = try await Self.audit(directory)
                let noReason = await Keyward.call(
                    ["authority", "installation", "promote", "--organization", "acme", "--installation", "inst-b", "--reason", ""] + data)
                #expect(noReason.status == 2 && noReason.stderr.contains("--reason"), "\(noReason.stderr)")
                let unknown = await Keyward.call(
                    ["authority", "installation", "promote", "--organization", "acme", "--installation", "inst-z", "--reason", "r"] + data)
                #expect(unknown.status == 1 && unknown.stderr.contains("UNKNOWN_INSTALLATION"))
                #expect(try await Self.audit(directory) == before)

                let promoted = await Keyward.call(
                    ["authority", "installation", "promote", "--organization", "acme", "--installation", "inst-b", "--reason", "New data centre"]
                        + data)
                #expect(promoted.status == 0, "\(promoted.stderr)")
                #expect(promoted.stdout.contains("inst-a became test") && promoted.stdout.contains("2 of 3"), "\(promoted.stdout)")
                let installations = await Keyward.call(["authority", "installation", "list", "--organization", "acme", "--json"] + data)
                let records = try JSONDecoder.iso8601.decode([InstallationResponse].self, from: Data(installations.stdout.utf8))
                #expect(records.map { "\($0.installationId)=\($0.environment.rawValue)" } == ["inst-a=test", "inst-b=production"])
                let promotion = try await Self.audit(directory).first { $0.action == "installation.promoted" }
                #expect(promotion?.details["reason"] == .string("New data centre") && promotion?.actor.hasPrefix("cli:") == true)

                // Promoting back needs two more changes: over the month's three.
                let afterPromotion = try await Self.audit(directory)
                let limited = await Keyward.call(
                    ["authority", "installation", "promote", "--organization", "acme", "--installation", "inst-a", "--reason", "Back"] + data)
                #expect(limited.status == 1)
                #expect(
                    limited.stderr.contains("ENVIRONMENT_CHANGE_LIMIT") && limited.stderr.contains("next change is possible from"),
                    "\(limited.stderr)")
                #expect(try await Self.audit(directory) == afterPromotion, "nothing was written")
            }
        }

        @Test func signingKeysAreListedRotatedAndRetired() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try await AuthorityCLITests.initialize(directory)
                let data = ["--data-dir", directory.path]
                func list() async throws -> [AuthoritySigningKeyCommand.List.Output] {
                    let listed = await Keyward.call(["authority", "signing-key", "list", "--json"] + data)
                    return try JSONDecoder.iso8601.decode([AuthoritySigningKeyCommand.List.Output].self, from: Data(listed.stdout.utf8))
                }
                let first = try #require(try await list().first)
                #expect(first.state == "active" && first.liveKeys == 0)
                let serial = try await Self.issue(directory)

                let before = try await Self.audit(directory)
                let active = await Keyward.call(["authority", "signing-key", "retire", first.kid] + data)
                #expect(
                    active.status == 1 && active.stderr.contains("SIGNING_KEY_ACTIVE") && active.stderr.contains("Rotate first"), "\(active.stderr)")
                #expect(try await list().map(\.kid) == [first.kid])
                #expect(try await Self.audit(directory) == before, "nothing was written")

                let rotated = await Keyward.call(["authority", "signing-key", "rotate", "--json"] + data)
                #expect(rotated.status == 0, "\(rotated.stderr)")
                let second = try JSONDecoder().decode([String: String].self, from: Data(rotated.stdout.utf8))["kid"]
                #expect(try await list().map { "\($0.kid)=\($0.state)=\($0.liveKeys)" } == ["\(second!)=active=0", "\(first.kid)=trusted=1"])

                let afterRotation = try await Self.audit(directory)
                let inUse = await Keyward.call(["authority", "signing-key", "retire", first.kid] + data)
                #expect(inUse.status == 1 && inUse.stderr.contains("SIGNING_KEY_IN_USE") && inUse.stderr.contains(serial), "\(inUse.stderr)")
                #expect(try await Self.audit(directory) == afterRotation)

                #expect(await Keyward.call(["authority", "key", "renew", serial, "--expires", "2099-12-31"] + data).status == 0)
                let retired = await Keyward.call(["authority", "signing-key", "retire", first.kid] + data)
                #expect(retired.status == 0, "\(retired.stderr)")
                let kept = directory.appendingPathComponent("retired/\(first.kid).pem")
                #expect(retired.stdout.contains(kept.path))
                #expect(FileManager.default.fileExists(atPath: kept.path))
                #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("signing-keys/\(first.kid).pem").path))
                #expect(try await list().map { "\($0.kid)=\($0.state)" } == ["\(second!)=active", "\(first.kid)=retired"])
                let trusted = await Keyward.call(["authority", "public-key"] + data).stdout.split(separator: "\n")
                #expect(trusted.count == 1)
                let actions = try await Self.audit(directory).map(\.action)
                #expect(actions.contains("signing-key.rotated") && actions.contains("signing-key.retired"))
            }
        }
    }
}
