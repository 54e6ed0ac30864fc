import Configuration
import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

extension AuthorityTests {
    /// The authority made the way `keyward authority serve` makes it, by `buildAuthorityApplication(reader:)` from settings.
    @Suite struct AuthorityApplicationTests {
        static func settings(directory: URL, database: String, _ extra: [AbsoluteConfigKey: ConfigValue] = [:]) -> ConfigReader {
            var values: [AbsoluteConfigKey: ConfigValue] = [
                "dataDir": .init(.string(directory.path), isSecret: false), "database": .init(.string(database), isSecret: false),
                "port": .init(.int(0), isSecret: false),
            ]
            values.merge(extra) { $1 }
            return ConfigReader(provider: InMemoryProvider(values: values))
        }

        @Test(arguments: Backend.services)
        func theApplicationBuiltFromSettingsServesItsAPI(backend: Backend) async throws {
            try await withTemporaryDirectory { directory in
                let keyring = try AuthorityKeyring.create(in: directory, rotate: false, now: Date())
                try await withFreshDatabaseSetting(backend) { database in
                    // An operator token, as `keyward authority init` prints it.
                    let store = AuthorityStore(
                        database: try await KeywardDatabase.open(
                            try DatabaseLocation.parse(database), migrating: Schema.authority, logger: testLogger))
                    let token = try await store.createToken(kind: TokenKind.operator, name: "test", subject: nil, actor: "test", now: Date()).token
                        .text
                    await store.database.close()

                    let app = try await buildAuthorityApplication(reader: Self.settings(directory: directory, database: database), logger: testLogger)
                    try await app.test(.router) { client in
                        #expect(try await client.execute(uri: "/health/live", method: .get).status == .ok)
                        let keys = try await client.execute(uri: "/v1/signing-keys", method: .get)
                        #expect(keys.status == .ok)
                        #expect(String(buffer: keys.body).contains(keyring.activeKey.publicKey.kid))
                        let created = try await client.execute(
                            uri: "/v1/organizations", method: .post,
                            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                            body: ByteBuffer(string: #"{"id":"acme","legalName":"ACME Industries Ltd."}"#))
                        #expect(created.status == .created)
                        #expect(try await client.execute(uri: "/v1/organizations", method: .get).status == .unauthorized)
                    }
                }
            }
        }

        @Test func aDataDirectoryWithoutSigningKeysIsRefusedInOneSentence() async throws {
            await withTemporaryDirectory { directory in
                let database = directory.appendingPathComponent("authority.sqlite").path
                await #expect(throws: StartupFailure.self) {
                    _ = try await buildAuthorityApplication(reader: Self.settings(directory: directory, database: database), logger: testLogger)
                }
            }
        }

        @Test func aBadSettingNamesItsFlag() async throws {
            try await withTemporaryDirectory { directory in
                let database = directory.appendingPathComponent("authority.sqlite").path
                do {
                    _ = try await buildAuthorityApplication(
                        reader: Self.settings(directory: directory, database: database, ["http.maxConnections": .init(.int(0), isSecret: false)]),
                        logger: testLogger)
                    Issue.record("0 connections was accepted")
                } catch let error as SettingError {
                    #expect(error.flag == "--max-connections")
                }
                #expect(!FileManager.default.fileExists(atPath: database))
            }
        }
    }
}
