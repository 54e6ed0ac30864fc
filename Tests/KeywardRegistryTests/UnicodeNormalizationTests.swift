import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import SQLKit
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// Text that looks the same is the same: ID #s and names are stored in Unicode NFC, so an NFC text and its NFD twin
    /// are one ID #; names and ID #s cannot carry the bidirectional controls that make text read other than it is stored.
    @Suite struct UnicodeNormalizationTests {
        /// "Café" composed (NFC), and decomposed (NFD): equal as Swift strings, different bytes.
        static let composed = "Caf\u{E9}", decomposed = "Cafe\u{301}"

        /// The UTF-8 bytes of `text`: Swift's `==` would call the two forms equal.
        static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

        /// The bytes of one column in every row of `table` (the built-in administrator left out), ordered by `order`.
        static func stored(_ column: String, from table: String, orderBy order: String, _ harness: RegistryHarness) async throws -> [[UInt8]] {
            try await harness.store.database.read { sql in
                var select = sql.select().column(SQLIdentifier(column)).from(table).orderBy(order)
                if table == "registry_users" { select = select.where("builtin", .equal, false) }
                return try await select.all().map { Array(try $0.decode(column: column, as: String.self).utf8) }
            }
        }

        @Test func anIDNumberIsNormalizedToNFC() throws {
            #expect(Array(try IDNumber.validate(Self.decomposed).utf8) == Array(Self.composed.utf8))
            #expect(Array(try IDNumber.validate(" \(Self.composed) ").utf8) == Array(Self.composed.utf8))
        }

        @Test(arguments: Backend.services)
        func keyIDNumbersThatDifferOnlyByNormalizationAreOneIDNumber(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let first = try await api.register(Self.decomposed, harness.accessKey())
                    #expect(first.status == .created)
                    #expect(Self.bytes(try first.decode(KeyDetail.self).summary.idNumber) == Array(Self.composed.utf8))
                    let before = try await harness.fingerprint()
                    let twin = try await api.register(Self.composed, harness.accessKey())
                    #expect(twin.status == .conflict)
                    #expect(twin.errorCode == "DUPLICATE_ID_NUMBER")

                    let other = try await api.register("Other", harness.accessKey(serial: "KW-AAAA-0002"))
                    #expect(other.status == .created)
                    let rename = try await api.call(
                        .patch, "/api/v1/license-keys/KW-AAAA-0002", json: AccessAPITests.json(["idNumber": Self.decomposed.uppercased()]))
                    #expect(rename.errorCode == "DUPLICATE_ID_NUMBER")
                    var after = try await harness.fingerprint()
                    after["registered_keys"]! -= 1
                    after["audit_events"]! -= 1
                    #expect(after == before, "only the key named Other was written")
                    #expect(
                        try await Self.stored("id_number", from: "registered_keys", orderBy: "id_number_folded", harness)
                            == [Array(Self.composed.utf8), Array("Other".utf8)])
                }
            }
        }

        @Test(arguments: Backend.services)
        func accessGroupIDNumbersAndNamesAreStoredNFC(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(), idNumber: "Main")
                try await harness.withAPI { api in
                    func group(_ idNumber: String, name: String) -> String {
                        AccessAPITests.json(["idNumber": idNumber, "name": name, "keySerial": key.serial, "component": "DOC", "menus": ["DC021"]])
                    }
                    let created = try await api.groups.create(json: group(Self.decomposed, name: "Le " + Self.decomposed))
                    #expect(created.status == .created)
                    #expect(Self.bytes(try created.value.idNumber) == Array(Self.composed.utf8))
                    #expect(Self.bytes(try created.value.name) == Array("Le \(Self.composed)".utf8))
                    let before = try await harness.fingerprint()
                    let twin = try await api.call(.post, "/api/v1/access-groups", json: group(Self.composed, name: "Twin"))
                    #expect(twin.status == .conflict)
                    #expect(twin.errorCode == "DUPLICATE_GROUP")
                    #expect(try await harness.fingerprint() == before)
                    for idNumber in [Self.composed, Self.decomposed, Self.decomposed.uppercased()] {
                        #expect(try await harness.store.group(idNumber)?.name == "Le \(Self.composed)", "\(idNumber.unicodeScalars.map(\.value))")
                    }
                    #expect(try await Self.stored("name", from: "access_groups", orderBy: "id", harness) == [Array("Le \(Self.composed)".utf8)])
                }
            }
        }

        @Test(arguments: Backend.services)
        func userNamesAreStoredNFCFromTheAPIAndTheCSVImport(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let created = try await api.users.create(login: "jose", name: "Jose\u{301}", email: "jose@example.com")
                    #expect(created.status == .created)
                    #expect(Self.bytes(try created.value.name) == Array("Jos\u{E9}".utf8))
                    let changed = try await api.users.update("jose", json: jsonObject(["name": "Jose\u{301} Garci\u{301}a"]))
                    #expect(Self.bytes(try changed.value.name) == Array("Jos\u{E9} Garc\u{ED}a".utf8))
                }
                _ = try await harness.registry.importUsers(csv: "login,name,email\nrene,Rene\u{301},rene@example.com\n", dryRun: false, actor: "test")
                #expect(
                    try await Self.stored("name", from: "registry_users", orderBy: "login_folded", harness) == [
                        Array("Jos\u{E9} Garc\u{ED}a".utf8), Array("Ren\u{E9}".utf8),
                    ])
            }
        }

        /// Overrides, embeddings, isolates and marks: U+202A to U+202E, U+2066 to U+2069, U+200E and U+200F.
        static let bidiControls: [Unicode.Scalar] = [
            "\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}", "\u{202E}", "\u{2066}", "\u{2067}", "\u{2068}", "\u{2069}", "\u{200E}", "\u{200F}",
        ]

        @Test(arguments: Backend.services, bidiControls)
        func bidirectionalControlsInIDNumbersAndNamesAreRefusedAndWriteNothing(backend: Backend, control: Unicode.Scalar) async throws {
            try await RegistryHarness.run(backend) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(), idNumber: "Main")
                try await harness.withAPI { api in
                    let text = "Invoice\(Character(control))fdp.exe"
                    let before = try await harness.fingerprint()
                    let replies = [
                        ("INVALID_ID_NUMBER", try await api.register(text, harness.accessKey())),
                        (
                            "INVALID_ID_NUMBER",
                            try await api.call(.patch, "/api/v1/license-keys/\(key.serial)", json: AccessAPITests.json(["idNumber": text]))
                        ),
                        (
                            "INVALID_NAME",
                            try await api.call(
                                .post, "/api/v1/users", json: AccessAPITests.json(["login": "eve", "name": text, "email": "eve@example.com"]))
                        ),
                        (
                            "INVALID_ID_NUMBER",
                            try await api.call(
                                .post, "/api/v1/access-groups",
                                json: AccessAPITests.json(
                                    ["idNumber": text, "name": "Readers", "keySerial": key.serial, "component": "DOC", "menus": ["DC021"]]))
                        ),
                        (
                            "INVALID_NAME",
                            try await api.call(
                                .post, "/api/v1/access-groups",
                                json: AccessAPITests.json(
                                    ["idNumber": "Readers", "name": text, "keySerial": key.serial, "component": "DOC", "menus": ["DC021"]]))
                        ),
                    ]
                    for (code, reply) in replies {
                        #expect(reply.status == .unprocessableContent, "\(code)")
                        #expect(reply.errorCode == code)
                        #expect(reply.error?.message?.isEmpty == false)
                    }
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }
    }
}
