import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Logging
import Testing

@testable import KeywardRegistryHTTP

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension CLITests {
    @Suite struct RegistryCLITests {
        /// Starts `keyward serve` and returns the process and the lines it printed before serving.
        static func serve(_ arguments: [String], environment: [String: String] = [:]) throws -> (process: Process, output: String) {
            let process = Process()
            process.executableURL = Keyward.executable
            process.arguments = ["serve", "--port", "0"] + arguments
            process.environment = Keyward.environment.merging(environment) { $1 }
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            var seen = ""
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, !seen.contains("listening on") || !seen.hasSuffix("\n") {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            return (process, seen)
        }

        static func stop(_ process: Process) async throws -> Int32 {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            return process.isRunning ? -1 : process.terminationStatus
        }

        @Test func aFirstStartNeedsTheOrganization() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                let result = try Keyward.run(["serve", "--data-dir", directory.path, "--port", "0"])
                #expect(result.status == 2)
                #expect(result.stderr.contains("--organization"))
                #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("registry.sqlite").path), "nothing was written")
            }
        }

        /// The administrator's password follows the users' rule (at least 12 characters, at most 72 bytes), and a refused one
        /// leaves nothing behind: the next start with a good one makes the installation.
        @Test func aFirstStartWithATooShortAdministratorPasswordWritesNothing() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-registry-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let start = ["serve", "--data-dir", directory.path, "--organization", "acme", "--legal-name", "ACME", "--port", "0"]
            for password in ["short", String(repeating: "\u{e9}", count: 8), String(repeating: "\u{1F512}", count: 19)] {
                let refused = try Keyward.run(start, environment: ["KEYWARD_ADMIN_PASSWORD": password], timeout: 30)
                #expect(refused.status == 2)
                #expect(refused.stderr.contains("KEYWARD_ADMIN_PASSWORD") && refused.stderr.contains("12 characters"))
            }
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).isEmpty, "no database was made")
            _ = try await AccessCLITests.installation(directory)
        }

        @Test func theFirstStartMakesTheInstallationAndAdministratorOnce() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-registry-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let first = try Self.serve(["--data-dir", directory.path, "--organization", "acme", "--legal-name", "ACME Ltd", "--environment", "test"])
            #expect(first.output.contains("installation inst-"))
            #expect(first.output.contains("acme, test"))
            let password = try #require(
                first.output.split(separator: "\n").first { $0.hasPrefix("Administrator:") }?.split(separator: " ").last.map(String.init))
            let url = try #require(first.output.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
            var login = URLRequest(url: URL(string: url + "/api/v1/auth/token")!)
            login.httpMethod = "POST"
            login.httpBody = Data(#"{"login":"admin","password":"\#(password)"}"#.utf8)
            let (_, response) = try await URLSession.shared.data(for: login)
            #expect((response as! HTTPURLResponse).statusCode == 201)
            #expect(try await Self.stop(first.process) == 0)

            // A second start reuses the installation and never shows the password again.
            let second = try Self.serve(["--data-dir", directory.path])
            #expect(!second.output.contains("Administrator:"))
            #expect(second.output.contains("acme, test"))
            #expect(try await Self.stop(second.process) == 0)
        }

        @Test func theLicenseKeyMenuFromTheCommandLine() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-keys-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let authorityDirectory = directory.appendingPathComponent("authority")
            let registryDirectory = directory.appendingPathComponent("registry")
            try await AuthorityCLITests.initialize(authorityDirectory)
            let publicKey = await Keyward.call(["authority", "public-key", "--data-dir", authorityDirectory.path]).stdout.trimmingCharacters(
                in: .newlines)
            let accessKey = await Keyward.call(AuthorityCLITests.issueArguments(authorityDirectory)).stdout.trimmingCharacters(in: .newlines)
            let server = try Self.serve(
                ["--data-dir", registryDirectory.path, "--organization", "acme", "--legal-name", "ACME", "--trust-key", publicKey],
                environment: ["KEYWARD_ADMIN_PASSWORD": "a long enough password"])
            #expect(try await Self.stop(server.process) == 0)
            let data = ["--data-dir", registryDirectory.path]

            #expect(try Keyward.run(["keys", "add", "--id-number", "Engineering", "-"] + data, stdin: accessKey).status == 0)
            let duplicate = await Keyward.call(["keys", "add", "--id-number", "Other", accessKey] + data)
            #expect(duplicate.status == 1)
            #expect(duplicate.stderr.contains("DUPLICATE_KEY"))
            #expect(await Keyward.call(["keys", "add", "--id-number", "", accessKey] + data).status == 2)
            let tampered = await Keyward.call(["keys", "add", "--id-number", "Tampered", String(accessKey.dropLast(6)) + "AAAAAA"] + data)
            #expect(tampered.status == 1)

            let serial = try #require(
                accessKey.isEmpty
                    ? nil
                    : await Keyward.call(["keys", "list", "--json"] + data).stdout
                        .split(separator: "\"serial\" : \"").dropFirst().first?.prefix { $0 != "\"" }
            ).description
            #expect(await Keyward.call(["keys", "list"] + data).stdout.contains("Engineering"))
            let shown = await Keyward.call(["keys", "show", serial] + data).stdout
            #expect(shown.contains("Document") && shown.contains("Workflow"))
            #expect(await Keyward.call(["keys", "rename", serial, "SOX"] + data).status == 0)
            #expect(await Keyward.call(["keys", "list"] + data).stdout.contains("SOX"))

            // Activation offline: the request file, a certificate from the authority's key, then it is active.
            #expect(await Keyward.call(["activation", "status"] + data).status == 1)
            let requestFile = directory.appendingPathComponent("request.json")
            #expect(await Keyward.call(["activation", "request", "--out", requestFile.path] + data).status == 0)
            let request = try JSONDecoder().decode(ActivationRequestFile.self, from: Data(contentsOf: requestFile))
            #expect(request.serials == [serial])
            let certificate = ActivationCertificate(
                installationId: request.installationId, organization: Organization(id: "acme", legalName: "ACME"),
                environment: request.environment, serials: request.serials, issuedAt: Date()
            )
            .signed(with: try AuthorityKeyring.load(from: authorityDirectory).activeKey)
            let certificateFile = directory.appendingPathComponent("certificate.json")
            try JSONEncoder().encode(certificate).write(to: certificateFile)
            #expect(await Keyward.call(["activation", "apply", certificateFile.path] + data).status == 0)
            let status = await Keyward.call(["activation", "status"] + data)
            #expect(status.status == 0)
            #expect(status.stdout.contains("active"))

            #expect(await Keyward.call(["keys", "remove", serial] + data).status == 0)
            let afterRemoval = await Keyward.call(["activation", "status"] + data)
            #expect(afterRemoval.status == 1)
            #expect(afterRemoval.stdout.contains("- key \(serial)"))

            #expect(try Keyward.run(["admin", "password"] + data, environment: ["KEYWARD_ADMIN_PASSWORD": "short"]).status == 2)
            let reset = try Keyward.run(["admin", "password"] + data, environment: ["KEYWARD_ADMIN_PASSWORD": ""])
            #expect(reset.status == 2)
            let generated = await Keyward.call(["admin", "password"] + data)
            #expect(generated.status == 0)
            #expect(generated.stdout.hasPrefix("New password for admin: "))
        }
    }
}

extension CLITests {
    @Suite struct DemoCLITests {
        static func freePort() throws -> Int {
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(socket) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        @Test func theDemoStartsTwiceWithoutIssuingItsKeysTwice() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-demo-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            for start in 0..<2 {
                let demo = try RegistryCLITests.serve(["--demo", "--data-dir", directory.path, "--demo-authority-port", "\(try Self.freePort())"])
                #expect(demo.output.contains("Demo authority on http://127.0.0.1:"), "start \(start)")
                #expect(demo.output.contains("Administrator: login admin, password "), "the demo shows its password on every start")
                #expect(try await RegistryCLITests.stop(demo.process) == 0)
            }
            let samples = try String(contentsOf: directory.appendingPathComponent("demo-authority/sample-access-keys.txt"), encoding: .utf8)
            #expect(samples.components(separatedBy: "key/").count - 1 == 5)
            let database = try await KeywardDatabase.open(
                .sqliteFile(path: directory.appendingPathComponent("demo-authority/authority.sqlite").path), logger: Logger(label: "test"))
            let keys = try await AuthorityStore(database: database).keys(of: "demo")
            await database.close()
            #expect(keys.count == 5)
            #expect(Set(keys.map(\.license.profile)) == Set(Profile.allCases))
            #expect(Set(keys.map(\.license.useType)) == Set(UseType.allCases))
        }
    }
}

extension CLITests {
    /// `keyward serve --config FILE`: the file, then `KEYWARD_*` variables, then flags, each overriding the one before.
    @Suite struct RegistryConfigurationTests {
        /// The synchronization schedule and the authority settings a running registry shows its administrator.
        static func schedule(_ url: String, password: String) async throws -> (
            schedule: SynchronizationController.ScheduleResponse, settings: AuthoritySettings
        ) {
            var login = URLRequest(url: URL(string: url + "/api/v1/auth/token")!)
            login.httpMethod = "POST"
            login.httpBody = Data(#"{"login":"admin","password":"\#(password)"}"#.utf8)
            let token = try JSONDecoder.iso8601.decode(AuthController.TokenResponse.self, from: try await URLSession.shared.data(for: login).0).token
            var request = URLRequest(url: URL(string: url + "/api/v1/license-keys/synchronizations/schedule")!)
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            var settings = URLRequest(url: URL(string: url + "/api/v1/settings/authority")!)
            settings.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            return (
                try JSONDecoder.iso8601.decode(
                    SynchronizationController.ScheduleResponse.self, from: try await URLSession.shared.data(for: request).0),
                try JSONDecoder.iso8601.decode(AuthoritySettings.self, from: try await URLSession.shared.data(for: settings).0)
            )
        }

        @Test func theConfigFileIsReadAndTheEnvironmentAndFlagsOverrideIt() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-config-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let file = directory.appendingPathComponent("keyward.json")
            let token = "kw_h7ks2mq9xv4e_3nq8w2c5r7t9y4u6i8o2p3a5s7d9f2g4"
            let config: [String: Any] = [
                "dataDir": directory.appendingPathComponent("data").path, "organization": "acme", "legalName": "ACME from the file",
                "environment": "test",
                "authority": ["url": "http://127.0.0.1:9"], "sync": ["token": token, "at": "25:00"],
            ]
            try JSONSerialization.data(withJSONObject: config).write(to: file)
            let password = "a long enough password"

            // The file's bad time is refused, naming the setting: so the file was read.
            let refused = try Keyward.run(["serve", "--config", file.path, "--port", "0"], environment: ["KEYWARD_ADMIN_PASSWORD": password])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("--sync-at") && refused.stderr.contains("25:00"))
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/registry.sqlite").path), "nothing was made")

            // The environment overrides the file.
            let fromEnvironment = try RegistryCLITests.serve(
                ["--config", file.path], environment: ["KEYWARD_ADMIN_PASSWORD": password, "KEYWARD_SYNC_AT": "03:30"])
            #expect(fromEnvironment.output.contains("acme, test"))
            let url = try #require(fromEnvironment.output.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
            let schedule = try await Self.schedule(url, password: password)
            #expect(schedule.schedule.dailyAt == "03:30 UTC")
            #expect(schedule.settings.source == .configuration)
            #expect(schedule.settings.url == "http://127.0.0.1:9")
            #expect(try await RegistryCLITests.stop(fromEnvironment.process) == 0)

            // A flag overrides both; KEYWARD_CONFIG names the file as --config does.
            let fromFlag = try RegistryCLITests.serve(
                ["--sync-at", "04:15"], environment: ["KEYWARD_CONFIG": file.path, "KEYWARD_SYNC_AT": "03:30"])
            let flagURL = try #require(fromFlag.output.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
            #expect(try await Self.schedule(flagURL, password: password).schedule.dailyAt == "04:15 UTC")
            #expect(try await RegistryCLITests.stop(fromFlag.process) == 0)
        }

        @Test func aBadConfigFileOrAURLWithoutATokenIsRefused() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                let file = directory.appendingPathComponent("keyward.json")
                try Data("port = 8080".utf8).write(to: file)
                let notJSON = try Keyward.run(["serve", "--config", file.path, "--data-dir", directory.path])
                #expect(notJSON.status == 2)
                #expect(notJSON.stderr.contains("--config"))
                let missing = try Keyward.run([
                    "serve", "--config", directory.appendingPathComponent("absent.json").path, "--data-dir", directory.path,
                ])
                #expect(missing.status == 2)
                #expect(missing.stderr.contains("cannot read the config file"))
                let noToken = try Keyward.run(
                    ["serve", "--data-dir", directory.path, "--organization", "acme", "--legal-name", "ACME"],
                    environment: ["KEYWARD_AUTHORITY_URL": "https://licensing.example.com", "KEYWARD_SYNC_TOKEN": ""])
                #expect(noToken.status == 2)
                #expect(noToken.stderr.contains("no organization token"))
                #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("registry.sqlite").path), "nothing was made")
            }
        }
    }
}

extension CLITests {
    /// `keyward users import` and `keyward tokens`, on a registry made by a first `keyward serve`.
    @Suite struct AccessCLITests {
        static func installation(_ directory: URL) async throws -> [String] {
            let server = try RegistryCLITests.serve(
                ["--data-dir", directory.path, "--organization", "acme", "--legal-name", "ACME"],
                environment: ["KEYWARD_ADMIN_PASSWORD": "a long enough password"])
            #expect(try await RegistryCLITests.stop(server.process) == 0)
            return ["--data-dir", directory.path]
        }

        @Test func usersAreImportedFromCSVWithEveryBadLineReported() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-import-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let data = try await Self.installation(directory)
            let csv = """
                login,name,email,active
                j.smith,Jane Smith,jane@example.com,true
                bob,"Stone, Bob",bob@example.com,
                admin,Sneaky,admin@example.com,true
                bad login,Bad,bad@example.com,true
                ann,Ann,not-an-email,true
                J.SMITH,Jane Again,jane2@example.com,true
                cyd,Cyd,cyd@example.com,maybe
                dee,Dee,dee@example.com,false

                """
            let file = directory.appendingPathComponent("users.csv")
            try Data(csv.utf8).write(to: file)

            let dry = await Keyward.call(["users", "import", file.path, "--dry-run"] + data)
            #expect(dry.status == 1)
            #expect(dry.stdout.contains("3 users would be imported, 5 lines refused."))
            // Each reason quotes the value at fault.
            for expected in [
                #"line 4: login "admin" is taken"#, #"line 5: login "bad login": A login is"#, #"line 6: email "not-an-email": The e-mail"#,
                #"line 7: login "J.SMITH" repeats line 2"#, #"line 8: active "maybe": active is true or false"#,
            ] {
                #expect(dry.stderr.contains(expected), "\(expected) in \(dry.stderr)")
            }
            let again = await Keyward.call(["users", "import", file.path, "--dry-run", "--json"] + data)
            #expect(again.stdout.contains(#""imported" : 3"#), "the dry run wrote nothing: \(again.stdout)")

            let real = await Keyward.call(["users", "import", file.path] + data)
            #expect(real.stdout.contains("3 users imported, 5 lines refused."))
            let repeated = await Keyward.call(["users", "import", file.path, "--json"] + data)
            #expect(repeated.stdout.contains(#""imported" : 0"#))
            #expect(repeated.stdout.contains(#"login \"bob\" is taken"#))
            let empty = directory.appendingPathComponent("empty.csv")
            try Data("name,email\n".utf8).write(to: empty)
            #expect(
                await Keyward.call(["users", "import", empty.path] + data).stderr.contains(
                    "line 1: The header must name the columns login, name and email"))
        }

        /// `keyward directory sync` and `test` with the LDAP server from the config file: refused in words when none is
        /// set, when a setting is wrong (naming it), and when the server cannot be reached (exit 1, nothing changed).
        @Test func directorySyncTakesItsServerFromTheConfigFileAndSaysWhyItFails() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-ldap-cli-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let data = try await Self.installation(directory)
            let none = await Keyward.call(["directory", "sync"] + data)
            #expect(none.status == 1 && none.stderr.contains("LDAP_NOT_CONFIGURED"), "\(none.stderr)")

            let password = directory.appendingPathComponent("ldap-password")
            try Data("secret-of-the-bind-dn\n".utf8).write(to: password)
            func config(_ url: String) throws -> String {
                let file = directory.appendingPathComponent("config-\(UUID().uuidString).json")
                let body: [String: Any] = [
                    "directory": [
                        "ldap": [
                            "url": url, "bindDN": "cn=keyward,dc=acme,dc=example", "passwordFile": password.path, "baseDN": "dc=acme,dc=example",
                        ]
                    ]
                ]
                try JSONSerialization.data(withJSONObject: body).write(to: file)
                return file.path
            }
            let wrong = await Keyward.call(["directory", "test", "--config", try config("http://ldap.acme.example")] + data)
            #expect(wrong.status == 2 && wrong.stderr.contains("directory.ldap.url"), "\(wrong.stderr)")

            let port = try DemoCLITests.freePort()
            let down = await Keyward.call(["directory", "sync", "--config", try config("ldap://127.0.0.1:\(port)")] + data)
            #expect(down.status == 1 && down.stderr.contains("LDAP_UNREACHABLE"), "\(down.stderr)")
            #expect(!down.stdout.contains("secret-of-the-bind-dn") && !down.stderr.contains("secret-of-the-bind-dn"))
            let test = await Keyward.call(["directory", "test", "--config", try config("ldap://127.0.0.1:\(port)")] + data)
            #expect(test.status == 1 && test.stderr.contains("cannot be reached"), "\(test.stderr)")
        }

        @Test func serviceTokensAreShownOnceListedAndRevoked() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-tokens-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let data = try await Self.installation(directory)
            let made = await Keyward.call(["tokens", "create", "--service", "suite-login"] + data)
            #expect(made.status == 0)
            let token = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(APIToken(token) != nil)
            let id = String(token.split(separator: "_")[1])
            let list = await Keyward.call(["tokens", "list"] + data)
            #expect(list.stdout.contains(id) && list.stdout.contains("suite-login"))
            #expect(!list.stdout.contains(token), "the secret is never shown again")
            #expect(await Keyward.call(["tokens", "revoke", id] + data).status == 0)
            #expect(await Keyward.call(["tokens", "create", "--service", ""] + data).status == 2)
        }

        /// A directory token, for an identity provider's provisioning, is made, listed by its kind and revoked the same
        /// way; a command that names no kind, or both, is refused and makes nothing.
        @Test func directoryTokensAreMadeBesideServiceTokens() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-tokens-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let data = try await Self.installation(directory)
            let made = await Keyward.call(["tokens", "create", "--directory", "entra-id"] + data)
            #expect(made.status == 0)
            let token = try #require(APIToken(made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            let list = await Keyward.call(["tokens", "list"] + data)
            let row = try #require(list.stdout.split(separator: "\n").first { $0.contains(token.id) })
            #expect(row.contains("directory") && row.contains("entra-id"))
            #expect(row.filter { $0 == "Z" }.count == 1, "made, not revoked: one time on the row")
            for refused in [["tokens", "create"], ["tokens", "create", "--service", "a", "--directory", "b"]] {
                let answer = await Keyward.call(refused + data)
                #expect(answer.status == 2)
                #expect(answer.stderr.contains("give either --service NAME or --directory NAME"))
            }
            let after = await Keyward.call(["tokens", "list"] + data)
            #expect(after.stdout.split(separator: "\n").count == list.stdout.split(separator: "\n").count, "a refused command made no token")
            #expect(await Keyward.call(["tokens", "revoke", token.id] + data).status == 0)
            let revoked = await Keyward.call(["tokens", "list"] + data)
            let revokedRow = try #require(revoked.stdout.split(separator: "\n").first { $0.contains(token.id) })
            #expect(revokedRow.filter { $0 == "Z" }.count == 2, "revoked: the time it was revoked is on the row")
        }
    }
}
