import Foundation
import HummingbirdBcrypt
import KeywardDomain
import KeywardStore

/// The vendor's operators: their accounts follow the registry users' rules (``PersonRules``), and their passwords are
/// bcrypt hashes.
extension Authority {
    /// bcrypt's cost for operators' passwords (2^12 rounds), as for the registry's users.
    public static let passwordCost: UInt8 = 12

    /// Makes an operator after checking every field; each refusal names its field, and nothing is written.
    public func createOperator(
        login: String, name: String, role: String, password: String, actor: String, cost: UInt8 = Authority.passwordCost
    ) async throws -> OperatorRecord {
        var problems: [FieldError] = []
        var checked = (login: login, name: name, password: password)
        do { checked.login = try PersonRules.login(login) } catch { problems.append(error) }
        do { checked.name = try PersonRules.name(name) } catch { problems.append(error) }
        do { checked.password = try PersonRules.password(password) } catch { problems.append(error) }
        let chosen = OperatorRole(rawValue: role)
        if chosen == nil {
            problems.append(
                FieldError(
                    field: "role", code: "INVALID_ROLE",
                    message: "The role is admin (everything), clerk (organizations, agreements, keys, activations) or auditor (reads only)."))
        }
        guard problems.isEmpty, let chosen else { throw AuthorityError.invalid(problems) }
        let hash = Bcrypt.hash(checked.password, cost: cost)
        return try await store.createOperator(login: checked.login, name: checked.name, role: chosen, passwordHash: hash, actor: actor, now: now())
    }

    /// A password good for an operator: 24 letters and digits (about 140 bits).
    public static func generatedPassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return String((0..<24).map { _ in alphabet.randomElement()! })
    }
}

extension Authority {
    /// The active operator whose login and password these are, or `nil` (the same for an unknown login, a wrong
    /// password and a disabled operator). Compared even for unknown logins, against a decoy of the same cost, so timing
    /// does not tell which logins exist. The caller throttles.
    public func authenticateOperator(login: String, password: String, passwords: PasswordHasher) async throws -> OperatorRecord? {
        let account = login.count <= 64 ? try await store.operatorRecord(login) : nil
        let matches = try await passwords.verify(password, against: account?.passwordHash)
        guard let account, matches, account.active else { return nil }
        return account
    }
}
