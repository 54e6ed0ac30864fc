import Foundation
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// CSV import as an administrator's spreadsheet writes it: logins of any alphabet, semicolons, and every bad line
    /// named with the value at fault.
    @Suite struct UserImportTests {
        @Test(arguments: ["joão.silva", "zoë", "Ølberg", "山田", "müller-lüdenscheidt", "j.smith@example"])
        func loginsOfAnyAlphabetAreAccepted(login: String) throws {
            #expect(try UserRules.login(login) == login.precomposedStringWithCanonicalMapping)
        }

        @Test(arguments: [
            "bad login", "semi;colon", "comma,", "emoji😀", "\u{0301}mark-first", "tab\there", "slash/", "", String(repeating: "a", count: 65),
        ])
        func loginsWithSpacesPunctuationOrSymbolsAreRefused(login: String) {
            #expect(throws: RegistryError.self) { try UserRules.login(login) }
        }

        @Test func accentedLoginsAreStoredNFCAndFoundInEitherForm() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let report = try await harness.registry.importUsers(
                    csv: "login,name,email\njoa\u{0303}o.silva,João Silva,joao@example.com\nzoë,Zoë,zoe@example.com\n",
                    dryRun: false, actor: "test")
                #expect(report.imported == 2)
                #expect(report.problems.isEmpty)
                #expect(try await harness.store.user("joão.silva")?.login == "joão.silva")
                #expect(try await harness.store.user("JOÃO.SILVA") != nil, "compared without regard to case")
                try await harness.withAPI { api in
                    let found = try await api.users.show("jo%C3%A3o.silva")
                    #expect(try found.value.name == "João Silva")
                }
            }
        }

        @Test func aSemicolonSeparatedFileIsReadAndSaidSo() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let report = try await harness.registry.importUsers(
                    csv: "login;name;email\nann;Ann Lee;ann@example.com\nbob;\"Stone; Bob\";bob@example.com\n",
                    dryRun: false, actor: "test")
                #expect(report.imported == 2)
                #expect(report.notes == ["The file is separated by semicolons (;), not commas; it was read that way."])
                #expect(try await harness.store.user("bob")?.name == "Stone; Bob")
            }
        }

        @Test func aLineWithMoreFieldsThanTheHeaderIsRefusedNotCut() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let before = try await harness.fingerprint()
                let report = try await harness.registry.importUsers(
                    csv: "login,name,email\nbob,Stone, Bob,bob@example.com\n", dryRun: false, actor: "test")
                #expect(report.imported == 0)
                #expect(report.problems.map(\.line) == [2])
                #expect(report.problems.first?.reason.contains("4 fields and the header 3") == true)
                #expect(try await harness.fingerprint() == before)
            }
        }
    }
}
