import Foundation
import KeywardAuthority
import KeywardDomain
import KeywardStore
import KeywardTestSupport
import Logging
import Testing

@testable import KeywardAuthorityHTTP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension CLITests {
    @Suite struct AuthorityServiceCLITests {
        static func initAuthority(_ directory: URL) async throws -> (publicKey: String, operatorToken: String) {
            let result = await Keyward.call(["authority", "init", "--data-dir", directory.path, "--json"])
            #expect(result.status == 0)
            let json = try JSONDecoder().decode([String: String].self, from: Data(result.stdout.utf8))
            return (json["publicKey"]!, json["operatorToken"]!)
        }

        @Test func initMakesAnOperatorTokenOnceAndRotationDoesNot() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                let (_, token) = try await Self.initAuthority(directory)
                #expect(token.hasPrefix("kw_"))
                let rotated = await Keyward.call(["authority", "init", "--data-dir", directory.path, "--rotate", "--json"])
                #expect(!rotated.stdout.contains("operatorToken"))
                let listed = await Keyward.call(["authority", "token", "list", "--data-dir", directory.path]).stdout
                #expect(listed.contains("operator"))
                #expect(listed.contains("initial"))
                #expect(!listed.contains(token))
            }
        }

        @Test func tokensAreMadeAndRevokedFromTheCommandLine() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                _ = try await Self.initAuthority(directory)
                let noOrganization = await Keyward.call(["authority", "token", "create", "--data-dir", directory.path, "--organization", "acme"])
                #expect(noOrganization.status == 1)
                #expect(noOrganization.stderr.contains("no organization acme"))
                let both = await Keyward.call(["authority", "token", "create", "--data-dir", directory.path, "--operator", "--organization", "acme"])
                #expect(both.status == 2)
                let made = await Keyward.call(["authority", "token", "create", "--data-dir", directory.path, "--operator", "--name", "deploy-bot"])
                #expect(made.status == 0)
                let id = String(made.stdout.split(separator: "_")[1])
                #expect(await Keyward.call(["authority", "token", "revoke", "--data-dir", directory.path, id]).status == 0)
                #expect(await Keyward.call(["authority", "token", "list", "--data-dir", directory.path]).stdout.contains("revoked"))
                #expect(await Keyward.call(["authority", "token", "revoke", "--data-dir", directory.path, "nosuchtoken1"]).status == 1)
            }
        }

        /// Starts `keyward authority serve` on a free port and returns the process and its base URL.
        static func serve(_ directory: URL) throws -> (process: Process, url: String, output: Pipe) {
            let process = Process()
            process.executableURL = Keyward.executable
            process.arguments = ["authority", "serve", "--data-dir", directory.path, "--port", "0"]
            process.environment = Keyward.environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            var seen = ""
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, !seen.contains("\n") {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            let url = seen.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init) ?? ""
            return (process, url, output)
        }

        /// The status and body of a request to a running authority.
        static func request(_ method: String, _ url: String, token: String?, body: String? = nil) async throws -> (Int, Data) {
            var request = URLRequest(url: URL(string: url)!)
            request.httpMethod = method
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            if let body {
                request.httpBody = Data(body.utf8)
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, data)
        }

        @Test func servesOverRealHTTPAndStopsGracefullyOnSIGTERM() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-serve-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let (_, token) = try await Self.initAuthority(directory)
            let server = try Self.serve(directory)
            defer { if server.process.isRunning { server.process.terminate() } }
            #expect(server.url.hasPrefix("http://127.0.0.1:"))

            #expect(try await Self.request("GET", server.url + "/health/ready", token: nil).0 == 200)
            #expect(
                try await Self.request("POST", server.url + "/v1/organizations", token: token, body: #"{"id":"acme","legalName":"ACME"}"#).0 == 201)
            let (status, key) = try await Self.request(
                "POST", server.url + "/v1/organizations/acme/license-keys", token: token,
                body: #"{"profile":"view","useType":"floating","users":2,"purchaseType":"sale","components":["DOC"]}"#)
            #expect(status == 201)
            #expect((try? JSONDecoder.iso8601.decode(KeyResponse.self, from: key))?.record.accessKey.hasPrefix("key/") == true)
            #expect(try await Self.request("GET", server.url + "/v1/organizations", token: nil).0 == 401)

            kill(server.process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(20)
            while server.process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!server.process.isRunning, "the authority did not stop on SIGTERM")
            #expect(server.process.terminationStatus == 0)
        }

        @Test func activatesOfflineAndWritesACertificateTheRegistryCanVerify() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-offline-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let (publicKey, _) = try await Self.initAuthority(directory)
            // The organization and its key, made through the library on the same database the command will open.
            let database = try await KeywardDatabase.open(
                .sqliteFile(path: directory.appendingPathComponent("authority.sqlite").path), logger: Logger(label: "test"))
            let authority = Authority(
                store: AuthorityStore(database: database), keyring: try AuthorityKeyring.load(from: directory), catalog: try Catalog.shipped())
            _ = try await authority.createOrganization(id: "acme", legalName: "ACME", actor: "test")
            let serial = try await authority.issue(
                LicenseKeySpecification(profile: .view, useType: .floating, users: 1, purchaseType: .sale, components: ["DOC"]),
                organizationId: "acme", actor: "test"
            ).serial
            await database.close()

            let request = directory.appendingPathComponent("request.json")
            let certificateFile = directory.appendingPathComponent("certificate.json")
            try
                #"{"v":1,"organizationId":"acme","installationId":"inst-offline","environment":"production","serials":["\#(serial)"],"promote":false}"#
                .write(to: request, atomically: true, encoding: .utf8)
            let result = await Keyward.call([
                "authority", "activate", "--data-dir", directory.path, "--request", request.path, "--out", certificateFile.path,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let document = try JSONDecoder().decode(SignedDocument.self, from: Data(contentsOf: certificateFile))
            let payload = try document.verifiedPayload(for: .certificate, trust: TrustStore([try AuthorityPublicKey(hex: publicKey)]))
            let certificate = try JSONDecoder().decode(ActivationCertificate.self, from: payload)
            #expect(certificate.installationId == "inst-offline")
            #expect(certificate.environment == .production)
            #expect(certificate.serials == [serial])
        }

        @Test func activatesOfflineFromARequestFile() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                let (publicKey, _) = try await Self.initAuthority(directory)
                // Set up an organization and a key through the library-free path: the API is covered elsewhere,
                // so here the request file refers to a key the authority does not know, then to none.
                let request = directory.appendingPathComponent("request.json")
                try #"{"v":1,"organizationId":"acme","installationId":"inst-1","environment":"test","serials":["KW-AAAA"],"promote":false}"#
                    .write(to: request, atomically: true, encoding: .utf8)
                let unknownOrganization = await Keyward.call(["authority", "activate", "--data-dir", directory.path, "--request", request.path])
                #expect(unknownOrganization.status == 1)
                #expect(unknownOrganization.stderr.contains("UNKNOWN_ORGANIZATION"))

                let garbage = directory.appendingPathComponent("garbage.json")
                try "not json".write(to: garbage, atomically: true, encoding: .utf8)
                #expect(await Keyward.call(["authority", "activate", "--data-dir", directory.path, "--request", garbage.path]).status == 2)
                #expect(await Keyward.call(["authority", "activate", "--data-dir", directory.path, "--request", "/nonexistent.json"]).status == 2)
                _ = publicKey
            }
        }
    }
}
