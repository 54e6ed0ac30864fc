import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// What API fuzzing (scripts/verify_api.py, schemathesis against registry.yaml) found in the registry's routes, one test
    /// per defect, so none comes back.
    @Suite struct APIFuzzRegressionTests {
        /// `POST /api/v1/sessions/disconnect` took any text as a login: a malformed one reached the audit log as the event's
        /// target and came back as `422 INVALID_AUDIT_EVENT` ("The audit event's target must be…"), a code the description
        /// does not have and a message about nothing the caller sent.
        @Test func disconnectingRefusesWhatIsNotALoginByName() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    let before = try await harness.fingerprint()
                    for login in ["/åÜë\n", String(repeating: "x", count: 300), "", "j smith"] {
                        let reply = try await api.call(.post, "/api/v1/sessions/disconnect", json: AccessAPITests.json(["login": login]))
                        #expect(reply.status == .unprocessableContent, "\(login.debugDescription)")
                        #expect(reply.errorCode == "INVALID_LOGIN")
                        #expect(reply.error?.details == ["field": "login"])
                    }
                    let wrongType = try await api.call(.post, "/api/v1/sessions/disconnect", json: #"{"login": {}}"#)
                    #expect(wrongType.status == .unprocessableContent)
                    #expect(wrongType.errorCode == "INVALID_FIELD")
                    #expect(try await harness.fingerprint() == before, "no refusal wrote anything")

                    // A well-formed login, known or not, and no login at all still disconnect.
                    for body in [#"{"login": "J.Smith"}"#, #"{"login": null}"#, "{}"] {
                        let reply = try await api.call(.post, "/api/v1/sessions/disconnect", json: body)
                        #expect(reply.status == .ok, "\(body)")
                        #expect((try? reply.decode(SessionsController.Disconnected.self))?.disconnected == 0)
                    }
                }
            }
        }

        /// A user's name and e-mail were checked with Foundation's `CharacterSet.controlCharacters`, which on Linux also
        /// holds the unassigned code points of plane 14: a schema-valid name was refused `INVALID_NAME`. The rule is now
        /// the description's (and the ID #'s): no control (Cc) or format (Cf) characters.
        @Test func namesAndEmailsRefuseControlAndFormatCharactersOnly() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    let accepted: [(String, String)] = [
                        ("N\u{E864F}", "n@example.com"), ("Zoë \u{1F600}", "a\u{E864F}@example.com"), ("\u{E000} Private", "p@example.com"),
                    ]
                    for (index, (name, email)) in accepted.enumerated() {
                        let reply = try await api.call(
                            .post, "/api/v1/users", json: AccessAPITests.json(["login": "ok\(index)", "name": name, "email": email]))
                        #expect(reply.status == .created, "\(name.debugDescription) \(email.debugDescription)")
                        #expect((try? reply.decode(UserResponse.self))?.name == name)
                    }
                    let refused: [(String, String, String)] = [
                        ("x\u{E0020}", "x@example.com", "INVALID_NAME"),  // a tag character, format (Cf)
                        ("a\u{200B}b", "x@example.com", "INVALID_NAME"),  // zero width space, format (Cf)
                        ("a\u{7}b", "x@example.com", "INVALID_NAME"),  // control (Cc)
                        ("X", "a\u{200B}@example.com", "INVALID_EMAIL"),
                        ("X", "a\u{85}@example.com", "INVALID_EMAIL"),
                    ]
                    for (name, email, code) in refused {
                        let reply = try await api.call(
                            .post, "/api/v1/users", json: AccessAPITests.json(["login": "no", "name": name, "email": email]))
                        #expect(reply.status == .unprocessableContent, "\(name.debugDescription) \(email.debugDescription)")
                        #expect(reply.errorCode == code)
                    }
                }
            }
        }

        /// An `@` followed by an emoji modifier or a combining mark is one `Character` with it, so splitting the address by
        /// `Character` found no `@` and refused a schema-valid address (found by the full schemathesis run). The address is
        /// now read scalar by scalar, and its length counted in scalars, as the description's `maxLength` counts.
        @Test func anEmailIsReadScalarByScalar() throws {
            for email in ["\u{DE}@\u{1F3FB}\u{23A}.-\u{10F}5", "ann@\u{301}example.com", "x@" + String(repeating: "e\u{301}", count: 125) + ".c"] {
                #expect(throws: Never.self, "\(email.debugDescription)") { _ = try UserRules.email(email) }
            }
            let tooLong = "x@" + String(repeating: "e\u{301}", count: 126) + ".c"  // 128 characters, 256 scalars
            #expect(throws: RegistryError.self) { _ = try UserRules.email(tooLong) }
            #expect(throws: RegistryError.self) { _ = try UserRules.email("a\u{301}b.example.com") }
        }

        /// `POST /api/v1/settings/authority/test` with a `token` but no `url` ignored the token: a malformed token was
        /// answered `200 CONNECTED` (the saved connection's result), and a well-formed one was never tried.
        @Test func testingTheConnectionUsesATokenSentWithoutAURL() async throws {
            try await SynchronizationTests.withAuthority { authority, url, token in
                try await RegistryHarness.run(.sqliteFile, trusting: authority.keyring.publicKeys) { harness in
                    harness.clock.set(Date())
                    try await harness.withAPI { api in
                        // Nothing saved yet: a malformed token is refused as such, before anything is looked up.
                        let unsaved = try await api.call(.post, "/api/v1/settings/authority/test", json: AccessAPITests.json(["token": "secret"]))
                        #expect(unsaved.status == .unprocessableContent)
                        #expect(unsaved.errorCode == "INVALID_TOKEN")
                        #expect(
                            try await api.call(
                                .post, "/api/v1/settings/authority/test",
                                json: AccessAPITests.json(["token": "kw_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
                            ).errorCode == "NO_AUTHORITY")

                        #expect(
                            try await api.call(.put, "/api/v1/settings/authority", json: AccessAPITests.json(["url": url, "token": token])).status
                                == .ok)
                        let malformed = try await api.call(.post, "/api/v1/settings/authority/test", json: AccessAPITests.json(["token": "\u{84}"]))
                        #expect(malformed.status == .unprocessableContent)
                        #expect(malformed.errorCode == "INVALID_TOKEN")
                        #expect(malformed.error?.details == ["field": "token"])

                        // A well-formed token the authority does not know is tried against the saved URL, and fails.
                        let other = try await api.call(
                            .post, "/api/v1/settings/authority/test",
                            json: AccessAPITests.json(["token": "kw_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]))
                        #expect(other.status == .ok)
                        #expect(try other.decode(ConnectionTest.self).ok == false)
                        #expect(try other.decode(ConnectionTest.self).code == "AUTHORITY_UNAUTHORIZED")

                        // The saved token, blank or absent, still connects.
                        for body in [["token": " "], [:]] as [[String: String]] {
                            let saved = try await api.call(.post, "/api/v1/settings/authority/test", json: AccessAPITests.json(body))
                            #expect((try? saved.decode(ConnectionTest.self))?.code == "CONNECTED", "\(body)")
                        }
                    }
                }
            }
        }
    }
}
