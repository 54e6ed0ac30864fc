import Foundation
import KeywardDomain
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardCLI

extension CLITests {
    /// `keyward authority operator ...` and the operator `init` makes: the vendor's staff from the command line.
    @Suite struct AuthorityOperatorCLITests {
        @Test func initMakesTheAdminAndOperatorsAreMadeListedAndDisabled() async throws {
            try await withTemporaryDirectory(created: false) { directory in
                let data = ["--data-dir", directory.path]
                let initialized = await Keyward.call(["authority", "init", "--json"] + data)
                let output = try JSONDecoder().decode([String: String].self, from: Data(initialized.stdout.utf8))
                #expect(output["adminPassword"]?.count == 24, "a generated password is printed once: \(initialized.stdout)")
                #expect(output["operatorToken"]?.hasPrefix("kw_") == true)

                let made = await Keyward.call(
                    ["authority", "operator", "create", "--login", "ana.lima", "--name", "Ana Lima", "--role", "clerk"] + data)
                #expect(made.status == 0, "\(made.stderr)")
                #expect(made.stdout.contains("Operator ana.lima (Ana Lima, clerk) created.") && made.stdout.contains("password: "))
                let badRole = await Keyward.call(["authority", "operator", "create", "--login", "bo", "--name", "Bo", "--role", "superuser"] + data)
                #expect(
                    badRole.status == 2 && badRole.stderr.contains("--role") && badRole.stderr.contains("auditor (reads only)"), "\(badRole.stderr)")
                let taken = await Keyward.call(
                    ["authority", "operator", "create", "--login", "ANA.LIMA", "--name", "Ana", "--role", "auditor"] + data)
                #expect(taken.status == 1 && taken.stderr.contains("LOGIN_TAKEN"), "\(taken.stderr)")

                let listed = await Keyward.call(["authority", "operator", "list", "--json"] + data)
                let operators = try JSONDecoder().decode([[String: String]].self, from: Data(listed.stdout.utf8))
                #expect(operators.map { $0["login"] } == ["admin", "ana.lima"])
                #expect(operators.map { $0["role"] } == ["admin", "clerk"])
                #expect(!listed.stdout.contains("$2"), "no password hash is listed")

                let token = await Keyward.call(["authority", "token", "create", "--operator", "--login", "ana.lima"] + data)
                #expect(token.status == 0 && token.stdout.hasPrefix("kw_") && token.stderr.contains("operator for ana.lima"), "\(token.stderr)")
                let ghost = await Keyward.call(["authority", "token", "create", "--operator", "--login", "ghost"] + data)
                #expect(ghost.status == 1 && ghost.stderr.contains("There is no operator ghost"), "\(ghost.stderr)")

                let disabled = await Keyward.call(["authority", "operator", "disable", "ana.lima"] + data)
                #expect(disabled.status == 0 && disabled.stdout.contains("disabled; their tokens are revoked"))
                let tokens = await Keyward.call(["authority", "token", "list"] + data).stdout
                let anas = tokens.split(separator: "\n").filter { $0.contains("ana.lima") }
                #expect(anas.count == 1 && anas[0].contains("revoked"), "\(tokens)")
                let enabled = await Keyward.call(["authority", "operator", "enable", "ana.lima", "--json"] + data)
                let record = try JSONDecoder().decode([String: String].self, from: Data(enabled.stdout.utf8))
                #expect(enabled.status == 0 && record["login"] == "ana.lima" && record["active"] == "yes" && record["role"] == "clerk")
                #expect(await Keyward.call(["authority", "operator", "disable", "nobody"] + data).stderr.contains("UNKNOWN_OPERATOR"))
            }
        }

        @Test func theOperatorsPasswordComesFromTheEnvironmentOrIsGenerated() {
            #expect(
                AuthorityOperatorCommand.password(environment: ["KEYWARD_OPERATOR_PASSWORD": "chosen by the admin"]) == ("chosen by the admin", false)
            )
            let generated = AuthorityOperatorCommand.password(environment: [:])
            #expect(generated.generated && generated.password.count == 24)
            #expect(AuthorityOperatorCommand.password(environment: [:]).password != generated.password)
        }
    }
}
