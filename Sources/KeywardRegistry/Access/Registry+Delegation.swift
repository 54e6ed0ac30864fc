import Foundation
import KeywardDomain
import KeywardStore

/// Delegated administration cannot climb: a manager of users (CM011) or of access groups (CM010) may not change a
/// user who holds a menu the manager does not hold (setting their password and logging in as them would give it),
/// nor grant a menu the manager does not hold (adding oneself to a License key group would give CM009).
/// The built-in administrator and the command line (which runs as the service's own account) are not limited.
extension Registry {
    /// The person an actor names, when it is a registry user other than the built-in administrator.
    func delegatedUser(_ actor: String) -> String? {
        guard actor.hasPrefix("user:") else { return nil }
        let login = String(actor.dropFirst("user:".count))
        return access.snapshot.isBuiltin(login) ? nil : login
    }

    /// Refuses with `403 FORBIDDEN` when `actor` would grant or touch menus of `component` it does not hold itself.
    func requireHolds(_ menus: some Sequence<String>, of component: String, actor: String) throws {
        guard let login = delegatedUser(actor) else { return }
        let held = Set(access.snapshot.entitlements(login: login, at: now())[component] ?? [])
        let missing = Set(menus).subtracting(held).sorted()
        guard missing.isEmpty else {
            throw RegistryError.refused(
                code: "FORBIDDEN",
                message:
                    "You may not grant or change access to \(component) \(missing.prefix(10).joined(separator: ", ")): your own access does not include \(missing.count == 1 ? "it" : "them"). Ask an administrator who holds \(missing.count == 1 ? "that menu" : "those menus").",
                kind: .forbidden, details: ["component": .string(component), "menus": .array(missing.map(JSONValue.string))])
        }
    }

    /// Refuses with `403 FORBIDDEN` when the user `login` holds (through any of their groups) a menu `actor` does not.
    func requireMayChange(user login: String, actor: String) async throws {
        guard let manager = delegatedUser(actor), AccessModel.fold(manager) != AccessModel.fold(login) else { return }
        for (component, menus) in try await store.menusGranted(to: login).sorted(by: { $0.key < $1.key }) {
            do {
                try requireHolds(menus, of: component, actor: actor)
            } catch RegistryError.refused(_, _, _, let details) {
                let names: [JSONValue] = if case .array(let values)? = details["menus"] { values } else { [] }
                throw RegistryError.refused(
                    code: "FORBIDDEN",
                    message:
                        "You may not change \(login): their access groups grant \(component) menus your own access does not include. Ask an administrator who holds them.",
                    kind: .forbidden, details: ["login": .string(login), "component": .string(component), "menus": .array(names)])
            }
        }
    }

    /// Refuses when `actor` may not change group `idNumber` (it grants menus the actor does not hold).
    func requireMayChange(group idNumber: String, actor: String) async throws {
        guard delegatedUser(actor) != nil, let grant = try await store.grant(ofGroup: idNumber) else { return }
        try requireHolds(grant.menus, of: grant.component, actor: actor)
    }
}
