import KeywardStore
import KeywardTestSupport
import Testing

extension StoreTests {
    @Suite struct DatabaseLocationTests {
        @Test func readsFilePathsMemoryAndURLs() throws {
            #expect(try DatabaseLocation.parse("./keyward-data/registry.sqlite") == .sqliteFile(path: "./keyward-data/registry.sqlite"))
            #expect(try DatabaseLocation.parse(":memory:") == .sqliteMemory)
            let url = try DatabaseLocation.parse("postgres://kw:s%40cret@db.internal:6432/licensing?sslmode=require")
            #expect(
                url
                    == .postgres(
                        PostgresLocation(host: "db.internal", port: 6432, username: "kw", password: "s@cret", database: "licensing", tls: .require)))
            #expect(
                try DatabaseLocation.parse("postgresql://kw@localhost/keyward")
                    == .postgres(PostgresLocation(host: "localhost", username: "kw", database: "keyward")))
        }

        @Test func neverShowsThePassword() throws {
            let location = try DatabaseLocation.parse("postgres://kw:hunter2@localhost/keyward")
            #expect(!location.description.contains("hunter2"))
            #expect(location.description == "postgres://kw@localhost:5432/keyward")
        }

        @Test(arguments: [
            "", "   ", "mysql://root@localhost/db", "postgres://localhost/db", "postgres://kw@/db", "postgres://kw@localhost",
            "postgres://kw@localhost/db?sslmode=maybe",
        ])
        func refusesUnusableLocations(text: String) {
            #expect(throws: StoreError.self) { try DatabaseLocation.parse(text) }
            do {
                _ = try DatabaseLocation.parse(text)
            } catch {
                #expect(error.code == "INVALID_DATABASE")
                #expect(!error.message.isEmpty)
            }
        }
    }
}
