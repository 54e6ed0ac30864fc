import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardAuthorityHTTP

extension AuthorityTests {
    /// The vendor's operators (DESIGN.md section 13): accounts with a role, tokens that are a person's, roles enforced
    /// on every route, and each action audited under the operator's login.
    @Suite struct OperatorTests {
        @Test(arguments: Backend.services)
        func aBadOperatorIsRefusedFieldByFieldAndNothingIsWritten(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                let before = try await harness.fingerprint()
                do {
                    _ = try await harness.authority.createOperator(
                        login: "no spaces allowed", name: "  ", role: "superuser", password: "short", actor: "test", cost: 4)
                    Issue.record("a bad operator was made")
                } catch let AuthorityError.invalid(problems) {
                    #expect(problems.map(\.field) == ["login", "name", "password", "role"])
                    #expect(problems.map(\.code) == ["INVALID_LOGIN", "INVALID_NAME", "INVALID_PASSWORD", "INVALID_ROLE"])
                    #expect(problems.last?.message.contains("admin (everything), clerk") == true)
                }
                #expect(try await harness.fingerprint() == before)
                _ = try await harness.authority.createOperator(
                    login: "Ana.Lima", name: "Ana Lima", role: "clerk", password: "a long enough password", actor: "test", cost: 4)
                let taken = try await harness.fingerprint()
                await #expect(throws: StoreError.self) {
                    _ = try await harness.authority.createOperator(
                        login: "ana.lima", name: "Another Ana", role: "auditor", password: "a long enough password", actor: "test", cost: 4)
                }
                #expect(try await harness.fingerprint() == taken)
                let made = try #require(try await harness.store.operatorRecord("ANA.LIMA"))
                #expect(made.login == "Ana.Lima" && made.role == .clerk && made.active)
                #expect(made.passwordHash.hasPrefix("$2") && !made.passwordHash.contains("a long enough password"))
            }
        }

        @Test(arguments: Backend.services)
        func eachRoleDoesWhatItMayAndTheAuditLogNamesThePerson(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                let clerk = try await harness.operatorToken("clerk.one", role: .clerk)
                let auditor = try await harness.operatorToken("auditor.one", role: .auditor)
                let admin = try await harness.operatorToken("admin.one", role: .admin)
                try await harness.withAPI { api in
                    // A clerk changes the licensing records, under their own name.
                    let created = try await api.call(.post, "/v1/organizations", token: clerk, json: #"{"id":"acme","legalName":"ACME Ltd."}"#)
                    #expect(created.status == .created)
                    let event = try #require(
                        try await AuditLog(database: harness.store.database).list(AuditQuery(action: "organization.created")).first)
                    #expect(event.actor == "operator:clerk.one")
                    // An auditor reads everything and changes nothing: 403, and only the refusal's audit line is written.
                    #expect(try await api.call(.get, "/v1/organizations", token: auditor).status == .ok)
                    #expect(try await api.call(.get, "/v1/audit-events", token: auditor).status == .ok)
                    let before = try await harness.fingerprint()
                    for (method, path, body) in [
                        (HTTPRequest.Method.post, "/v1/organizations", #"{"id":"globex","legalName":"Globex"}"#),
                        (.patch, "/v1/organizations/acme", #"{"legalName":"ACME Industries"}"#), (.post, "/v1/organizations/acme/tokens", "{}"),
                    ] {
                        let refused = try await api.call(method, path, token: auditor, json: body)
                        #expect(refused.status == .forbidden && refused.errorCode == "ROLE_FORBIDDEN", "\(method) \(path)")
                        #expect(refused.error?.message?.contains("auditor") == true)
                    }
                    var after = try await harness.fingerprint()
                    #expect(after.removeValue(forKey: "audit_events") == (before["audit_events"] ?? 0) + 3)
                    var expected = before
                    expected.removeValue(forKey: "audit_events")
                    #expect(after == expected)
                    let refusals = try await AuditLog(database: harness.store.database).list(AuditQuery(action: "operator.refused"))
                    #expect(refusals.count == 3 && refusals.allSatisfy { $0.actor == "operator:auditor.one" })
                    #expect(refusals.map(\.target).contains("POST /v1/organizations"))
                    // An operator's token is an admin's to revoke, not a clerk's.
                    let tokens = try await TokenStore(database: harness.store.database).list()
                    let auditorsToken = try #require(tokens.first { $0.subject == "auditor.one" })
                    #expect(try await api.call(.delete, "/v1/tokens/\(auditorsToken.id)", token: clerk).errorCode == "ROLE_FORBIDDEN")
                    #expect(try await api.call(.delete, "/v1/tokens/\(auditorsToken.id)", token: admin).status == .ok)
                    #expect(try await api.call(.get, "/v1/organizations", token: auditor).status == .unauthorized)
                }
            }
        }

        @Test func aDisabledOperatorIsRefusedAtOnceAndCannotBeGivenATokenUntilEnabled() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                let clerk = try await harness.operatorToken("clerk.two", role: .clerk)
                try await harness.withAPI { api in
                    #expect(try await api.call(.get, "/v1/organizations", token: clerk).status == .ok)
                    try await harness.store.setOperatorActive("clerk.two", false, actor: "test", now: harness.clock.now)
                    #expect(try await api.call(.get, "/v1/organizations", token: clerk).status == .unauthorized)
                    await #expect(throws: StoreError.self) {
                        _ = try await harness.store.createToken(
                            kind: TokenKind.operator, name: "again", subject: "clerk.two", actor: "test", now: harness.clock.now)
                    }
                    await #expect(throws: StoreError.self) {
                        _ = try await harness.store.createToken(
                            kind: TokenKind.operator, name: "nobody", subject: "ghost", actor: "test", now: harness.clock.now)
                    }
                    try await harness.store.setOperatorActive("clerk.two", true, actor: "test", now: harness.clock.now)
                    // The old token stays revoked; a new one works.
                    #expect(try await api.call(.get, "/v1/organizations", token: clerk).status == .unauthorized)
                    let fresh = try await harness.store.createToken(
                        kind: TokenKind.operator, name: "again", subject: "CLERK.TWO", actor: "test", now: harness.clock.now)
                    #expect(fresh.record.subject == "clerk.two")
                    #expect(try await api.call(.get, "/v1/organizations", token: fresh.token.text).status == .ok)
                    let actions = try await AuditLog(database: harness.store.database).list(AuditQuery(target: "operator:clerk.two")).map(\.action)
                    #expect(actions.contains("operator.disabled") && actions.contains("operator.enabled") && actions.contains("operator.created"))
                }
            }
        }

        @Test(arguments: Backend.services)
        func anAdminManagesOperatorsThroughTheAPIAndNoOneElseDoes(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                let admin = try await harness.operatorToken("root", role: .admin)
                let clerk = try await harness.operatorToken("clerk.three", role: .clerk)
                try await harness.withAPI { api in
                    let body = #"{"login":"Ana.Lima","name":"Ana Lima","role":"auditor","password":"a long passphrase of hers"}"#
                    let before = try await harness.fingerprint()
                    let refused = try await api.call(.post, "/v1/operators", token: clerk, json: body)
                    #expect(refused.status == .forbidden && refused.errorCode == "ROLE_FORBIDDEN")
                    let bad = try await api.call(
                        .post, "/v1/operators", token: admin, json: #"{"login":"a b","name":"","role":"owner","password":"short"}"#)
                    #expect(bad.status == .unprocessableContent)
                    #expect(bad.error?.details["problems"]?.array?.count == 4, "\(bad.text)")
                    var after = try await harness.fingerprint()
                    #expect(after.removeValue(forKey: "audit_events") == (before["audit_events"] ?? 0) + 1, "only the clerk's refusal is written")
                    var expected = before
                    expected.removeValue(forKey: "audit_events")
                    #expect(after == expected)

                    let made = try await api.call(.post, "/v1/operators", token: admin, json: body)
                    #expect(made.status == .created && made.text.contains(#""role":"auditor""#) && !made.text.contains("passphrase"))
                    #expect(try await api.call(.post, "/v1/operators", token: admin, json: body).errorCode == "LOGIN_TAKEN")
                    let listed = try await api.call(.get, "/v1/operators", token: clerk)
                    #expect(listed.status == .ok && listed.text.contains("Ana.Lima") && !listed.text.contains("$2"))
                    let token = try await api.call(.post, "/v1/operators/ana.lima/tokens", token: admin, json: #"{"name":"laptop"}"#)
                    #expect(
                        token.status == .created && token.text.contains(#""operatorLogin":"Ana.Lima""#) && token.text.contains(#""kind":"operator""#))
                    let anas = try #require(token.json["token"] as? String)
                    #expect(try await api.call(.get, "/v1/organizations", token: anas).status == .ok)
                    #expect(try await api.call(.post, "/v1/operators/root/disable", token: admin).errorCode == "OWN_ACCOUNT")
                    #expect(try await api.call(.post, "/v1/operators/nobody/disable", token: admin).errorCode == "UNKNOWN_OPERATOR")
                    let disabled = try await api.call(.post, "/v1/operators/ana.lima/disable", token: admin)
                    #expect(disabled.status == .ok && disabled.text.contains(#""active":false"#))
                    #expect(try await api.call(.get, "/v1/organizations", token: anas).status == .unauthorized)
                    #expect(try await api.call(.post, "/v1/operators/ana.lima/tokens", token: admin).errorCode == "OPERATOR_DISABLED")
                    #expect(try await api.call(.post, "/v1/operators/ana.lima/enable", token: admin).text.contains(#""active":true"#))
                }
            }
        }
    }
}
