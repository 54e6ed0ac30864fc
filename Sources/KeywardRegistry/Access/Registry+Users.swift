import Foundation
import HummingbirdBcrypt
import KeywardDomain
import KeywardStore

/// A user as the API takes it: `{login, name, email, password?, active}`.
public struct UserInput: Sendable, Hashable, Codable {
    public var login: String
    public var name: String
    public var email: String
    public var password: String?
    public var active: Bool?

    public init(login: String, name: String, email: String, password: String? = nil, active: Bool? = nil) {
        self.login = login
        self.name = name
        self.email = email
        self.password = password
        self.active = active
    }
}

/// The rules for a user's fields (``PersonRules``, which the authority's operators follow too), each refusal as the
/// registry's.
public enum UserRules {
    public static func login(_ text: String) throws(RegistryError) -> String { try checked { () throws(FieldError) in try PersonRules.login(text) } }
    public static func name(_ text: String) throws(RegistryError) -> String { try checked { () throws(FieldError) in try PersonRules.name(text) } }
    public static func email(_ text: String) throws(RegistryError) -> String { try checked { () throws(FieldError) in try PersonRules.email(text) } }
    public static func tokenName(_ text: String) throws(RegistryError) -> String {
        try checked { () throws(FieldError) in try PersonRules.tokenName(text) }
    }
    public static func password(_ text: String) throws(RegistryError) -> String {
        try checked { () throws(FieldError) in try PersonRules.password(text) }
    }

    static func checked(_ rule: () throws(FieldError) -> String) throws(RegistryError) -> String {
        do {
            return try rule()
        } catch {
            throw .invalid(error)
        }
    }
}

extension Registry {
    /// Creates a user. The built-in administrator's login is reserved.
    public func createUser(_ input: UserInput, actor: String) async throws -> RegistryUser {
        let login = try UserRules.login(input.login)
        let name = try UserRules.name(input.name)
        let email = try UserRules.email(input.email)
        var hash: String?
        if let password = input.password { hash = try await passwords.hash(try UserRules.password(password)) }
        if let existing = try await store.user(login), existing.builtin { throw Self.reserved(login) }
        return try await access.changing(.users([login])) {
            try await store.createUser(
                login: login, name: name, email: email, passwordHash: hash, active: input.active ?? true, actor: actor, now: now())
        }
    }

    /// Changes a user's name, e-mail, password or state; fields left `nil` stay.
    public func updateUser(_ login: String, name: String?, email: String?, password: String??, active: Bool?, actor: String) async throws
        -> RegistryUser
    {
        try await requireMayChange(user: login, actor: actor)
        var changes = UserChanges()
        changes.name = try name.map { text throws(RegistryError) in try UserRules.name(text) }
        changes.email = try email.map { text throws(RegistryError) in try UserRules.email(text) }
        if let password {
            if let password {
                changes.passwordHash = .some(try await passwords.hash(try UserRules.password(password)))
            } else {
                changes.passwordHash = .some(nil)
            }
        }
        changes.active = active
        let user: RegistryUser
        if active != nil {
            user = try await access.changing(.users([login])) { try await store.updateUser(login, changes, actor: actor, now: now()) }
        } else {
            user = try await store.updateUser(login, changes, actor: actor, now: now())
        }
        // Disabling a user or changing their password revoked their tokens.
        if active == false || password != nil { tokenCache.removeAll() }
        if active == false { await retryAssignmentErrorsAfterChange() }
        return user
    }

    static func reserved(_ login: String) -> RegistryError {
        .refused(code: "LOGIN_RESERVED", message: "The login \(login) belongs to the built-in administrator. Choose another one.", kind: .conflict)
    }
}
