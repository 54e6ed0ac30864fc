import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardStore
import KeywardTestSupport
import Logging
import SQLKit
import Testing

@testable import KeywardRegistryHTTP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension CLITests {
    /// A registry killed with SIGKILL in the middle of a large synchronization is left fully before or fully after.
    @Suite struct SynchronizationCrashTests {
        static let keys = 2_000

        @Test func aKilledSynchronizationLeavesAllOrNothing() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-crash-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let authorityDirectory = directory.appendingPathComponent("authority")
            let registryDirectory = directory.appendingPathComponent("registry")
            let initResult = try Keyward.run(["authority", "init", "--data-dir", authorityDirectory.path, "--json"])
            let publicKey = try #require(try JSONDecoder().decode([String: String].self, from: Data(initResult.stdout.utf8))["publicKey"])

            // The organization and its keys, made through the library on the authority's database.
            let logger = Logger(label: "test")
            let authorityDatabase = try await KeywardDatabase.open(
                .sqliteFile(path: authorityDirectory.appendingPathComponent("authority.sqlite").path), logger: logger)
            let authority = Authority(
                store: AuthorityStore(database: authorityDatabase), keyring: try AuthorityKeyring.load(from: authorityDirectory),
                catalog: try Catalog.shipped())
            _ = try await authority.createOrganization(id: "acme", legalName: "ACME", actor: "test")
            let line = LicenseKeySpecification(profile: .view, useType: .floating, users: 1, purchaseType: .sale, components: ["DOC"])
            for batch in 0..<(Self.keys / 100) {
                _ = try await authority.issueAgreement(
                    reference: "A-\(batch)", signedOn: nil, lines: Array(repeating: line, count: 100), organizationId: "acme", actor: "test")
            }
            let token = try await authority.store.createToken(
                kind: TokenKind.organization, name: "registry", subject: "acme", actor: "test", now: Date()
            )
            .token.text
            await authorityDatabase.close()
            let tokenFile = directory.appendingPathComponent("token")
            try token.write(to: tokenFile, atomically: true, encoding: .utf8)

            let authorityServer = try AuthorityServiceCLITests.serve(authorityDirectory)
            defer { authorityServer.process.terminate() }
            let registryArguments = [
                "--data-dir", registryDirectory.path, "--organization", "acme", "--legal-name", "ACME", "--trust-key", publicKey,
                "--authority-url", authorityServer.url, "--sync-token-file", tokenFile.path,
            ]
            let environment = ["KEYWARD_ADMIN_PASSWORD": "a long enough password"]

            // How long one full synchronization takes here, on a scratch copy, to aim the kills at its end.
            let scratch = try RegistryCLITests.serve(
                registryArguments.map { $0 == registryDirectory.path ? directory.appendingPathComponent("scratch").path : $0 },
                environment: environment)
            let scratchURL = try #require(scratch.output.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
            let scratchLogin = try await Self.logIn(scratchURL)
            let started = Date()
            _ = try await Self.post(scratchURL + "/api/v1/license-keys/synchronizations", body: nil, token: scratchLogin)
            let duration = Date().timeIntervalSince(started)
            _ = try await RegistryCLITests.stop(scratch.process)

            var outcomes: [Int] = []
            for round in 0..<8 {
                let registry = try RegistryCLITests.serve(registryArguments, environment: environment)
                let url = try #require(registry.output.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
                let bearer = try #require(try await Self.logIn(url))
                let sync = Task { _ = try? await Self.post(url + "/api/v1/license-keys/synchronizations", body: nil, token: bearer) }
                // From half a full run to nearly two: some kills land while the transaction is applied or committed.
                try await Task.sleep(for: .seconds(duration * (0.5 + 0.2 * Double(round))))
                kill(registry.process.processIdentifier, SIGKILL)
                registry.process.waitUntilExit()
                _ = await sync.value

                // After the kill: the keys are all there with their revision recorded, or none is.
                let database = try await KeywardDatabase.open(
                    .sqliteFile(path: registryDirectory.appendingPathComponent("registry.sqlite").path), logger: logger)
                let (keys, revision) = try await database.read { sql in
                    (
                        try await sql.raw("SELECT COUNT(*) AS n FROM registered_keys").first()!.decode(column: "n", as: Int.self),
                        try await sql.raw("SELECT revision FROM sync_state").first()?.decode(column: "revision", as: Int64.self)
                    )
                }
                let integrity = try await database.read {
                    try await $0.raw("PRAGMA integrity_check").first()!.decode(column: "integrity_check", as: String.self)
                }
                await database.close()
                #expect(integrity == "ok")
                #expect(keys == 0 || keys == Self.keys, "round \(round): \(keys) keys, half applied")
                #expect((keys == Self.keys) == (revision != nil), "round \(round): keys and the applied revision disagree")
                outcomes.append(keys)
                if keys == Self.keys { break }
            }
            // Whatever the kills did, a synchronization left to finish brings every key.
            let registry = try RegistryCLITests.serve(registryArguments, environment: environment)
            let url = try #require(registry.output.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
            let login = try await Self.logIn(url)
            _ = try await Self.post(url + "/api/v1/license-keys/synchronizations", body: nil, token: login)
            let list = try? JSONDecoder.iso8601.decode(Page<KeySummary>.self, from: try await Self.get(url + "/api/v1/license-keys", token: login))
            #expect(list?.items.count == Self.keys)
            _ = try await RegistryCLITests.stop(registry.process)
            #expect(!outcomes.isEmpty)
            print("crash rounds (keys present after each SIGKILL, full run \(Int(duration * 1000)) ms): \(outcomes)")
        }

        /// The administrator's token, or nil when the registry refused the login.
        static func logIn(_ url: String) async throws -> String? {
            let answer = try await post(url + "/api/v1/auth/token", body: #"{"login":"admin","password":"a long enough password"}"#)
            return (try? JSONDecoder.iso8601.decode(AuthController.TokenResponse.self, from: answer))?.token
        }

        @discardableResult
        static func post(_ url: String, body: String?, token: String? = nil) async throws -> Data {
            var request = URLRequest(url: URL(string: url)!)
            request.httpMethod = "POST"
            request.timeoutInterval = 120
            if let body { request.httpBody = Data(body.utf8) }
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            return try await URLSession.shared.data(for: request).0
        }

        static func get(_ url: String, token: String?) async throws -> Data {
            var request = URLRequest(url: URL(string: url)!)
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            return try await URLSession.shared.data(for: request).0
        }
    }
}
