import Foundation
import KeywardDomain
import KeywardStore
import NIOConcurrencyHelpers

/// Reads the organization's LDAP directory (Active Directory, OpenLDAP) and applies it (DESIGN.md section 10): its
/// users, groups and memberships, in one transaction, so a failure anywhere, the server down, the bind refused, a
/// search cut off, changes nothing and says why in the history. One at a time, across instances.
public final class LDAPSynchronizer: Sendable {
    public let registry: Registry
    /// Entries per page (RFC 2696): within Active Directory's MaxPageSize (1,000) and OpenLDAP's default size limit.
    static let pageSize = 500
    /// Above this many users touched, the snapshot is rebuilt rather than patched.
    static let patchLimit = 5_000
    /// The databases a synchronization runs on in this process: one at a time on each, whichever synchronizer
    /// starts it (the server's, the API's, a test's).
    private static let running = NIOLockedValueBox<Set<ObjectIdentifier>>([])
    let holder = "registry-" + UUID().uuidString.lowercased()
    /// Outlives the longest run (100,000 users read and applied); a crashed holder's lease frees itself after it.
    static let leaseDuration: TimeInterval = 15 * 60
    /// Who changes access when the directory does, for held changes.
    public static let actor = "directory:ldap"

    public init(registry: Registry) {
        self.registry = registry
    }

    /// Runs one synchronization; `SYNC_IN_PROGRESS` when one is already under way, `LDAP_NOT_CONFIGURED` before the
    /// settings are saved.
    @discardableResult
    public func run(trigger: SynchronizationRun.Trigger, actor: String) async throws -> DirectorySyncRun {
        guard let (settings, password) = registry.ldap.configured else { throw RegistryError.ldapNotConfigured }
        guard let client = registry.ldap.client else { throw RegistryError.ldapUnavailable }
        let database = ObjectIdentifier(registry.store.database)
        guard Self.running.withLockedValue({ $0.insert(database).inserted }) else { throw RegistryError.syncInProgress }
        defer { _ = Self.running.withLockedValue { $0.remove(database) } }
        let store = registry.store
        let shared = store.database.kind == .postgres
        if shared,
            try await !store.acquireSyncLease(
                .directory, holder: holder, now: registry.now(), expiresAt: registry.now().addingTimeInterval(Self.leaseDuration))
        {
            throw RegistryError.syncInProgress
        }
        do {
            let run = try await runHoldingLease(trigger: trigger, actor: actor, settings: settings, password: password, client: client)
            if shared { try await store.releaseSyncLease(.directory, holder: holder) }
            return run
        } catch {
            if shared { try? await store.releaseSyncLease(.directory, holder: holder) }
            throw error
        }
    }

    private func runHoldingLease(
        trigger: SynchronizationRun.Trigger, actor: String, settings: LDAPSyncSettings, password: String, client: any LDAPDirectory
    ) async throws -> DirectorySyncRun {
        let store = registry.store
        let id = try await store.startDirectorySync(trigger: trigger, actor: actor, now: registry.now())
        let counts: DirectorySyncCounts
        do {
            let snapshot = try await Self.read(settings: settings, password: password, timeout: registry.ldap.timeout, client: client)
            let applied = try await store.applyDirectorySnapshot(
                snapshot, source: .ldap, actor: actor, now: registry.now(), guard: registry.removalGuard(actor: Self.actor),
                notice: registry.directoryNotice)
            counts = applied.counts
            if applied.effect.change.users.count > Self.patchLimit {
                try await registry.access.refresh()
            } else if !applied.effect.change.isEmpty {
                try await registry.access.apply(applied.effect.change)
            }
        } catch let failure as LDAPFailure {
            try await store.finishDirectorySync(
                id, outcome: .failed, counts: DirectorySyncCounts(), error: (failure.code, failure.message), now: registry.now())
            return try await record(id)
        } catch let error as StoreError {
            try await store.finishDirectorySync(
                id, outcome: .failed, counts: DirectorySyncCounts(), error: (error.code, error.message), now: registry.now())
            return try await record(id)
        }
        try await store.finishDirectorySync(
            id, outcome: counts.changedAnything ? .succeeded : .unchanged, counts: counts, error: nil, now: registry.now())
        return try await record(id)
    }

    public func record(_ id: Int64) async throws -> DirectorySyncRun {
        guard let run = try await registry.store.directorySyncs(beforeID: id + 1, limit: 1).first else {
            throw StoreError(code: "STORE_FAILURE", message: "The directory synchronization record is missing.")
        }
        return run
    }

    /// Searches the users, then the groups, and keeps only what the registry takes of them, page by page: the
    /// entries themselves are let go as soon as each page is read.
    static func read(settings: LDAPSyncSettings, password: String, timeout: Duration, client: any LDAPDirectory) async throws(LDAPFailure)
        -> DirectorySnapshot
    {
        let connection = settings.connection(password: password, timeout: timeout)
        let collected = NIOLockedValueBox<(users: [DirectorySnapshot.User], skipped: [String])>(([], []))
        try await client.search(
            connection, base: settings.baseDN, filter: settings.userFilter,
            attributes: [settings.loginAttribute, settings.nameAttribute, settings.emailAttribute, settings.externalIdAttribute],
            pageSize: pageSize
        ) { entries in
            var users: [DirectorySnapshot.User] = []
            var skipped: [String] = []
            for entry in entries {
                switch user(entry, settings: settings) {
                case .user(let user): users.append(user)
                case .skipped(let reason): skipped.append(reason)
                }
            }
            collected.withLockedValue { state in
                state.users += users
                state.skipped += skipped
            }
        }
        let (users, skipped) = collected.withLockedValue { ($0.users, $0.skipped) }
        let groups = try await client.search(
            connection, base: settings.baseDN, filter: settings.groupFilter,
            attributes: [settings.groupNameAttribute, settings.memberAttribute, settings.externalIdAttribute], pageSize: pageSize)
        return DirectorySnapshot(users: users, groups: Self.groups(groups, users: users, settings: settings), skipped: skipped)
    }

    enum Taken {
        case user(DirectorySnapshot.User)
        case skipped(String)
    }

    /// What an entry says of a user, as the registry takes it: it needs a login the registry accepts (else it is
    /// skipped, in words); its id is its external id (`entryUUID`, `objectGUID`), or its DN without one.
    static func user(_ entry: LDAPEntry, settings: LDAPSyncSettings) -> Taken {
        guard let value = entry.first(settings.loginAttribute) else {
            return .skipped("\(entry.dn): no \(settings.loginAttribute), the login attribute.")
        }
        let login: String
        do {
            login = try UserRules.login(value)
        } catch {
            return .skipped("\(entry.dn): \(value) is not a login the registry takes (\(error.message))")
        }
        let externalId = entry.first(settings.externalIdAttribute)
        let name = entry.first(settings.nameAttribute).flatMap { try? UserRules.name($0) } ?? login
        let email = entry.first(settings.emailAttribute).flatMap { try? UserRules.email($0) } ?? ""
        var attributes = [("dn", entry.dn)]
        for attribute in [settings.loginAttribute, settings.nameAttribute, settings.emailAttribute] {
            if let value = entry.first(attribute) { attributes.append((attribute, value)) }
        }
        return .user(
            DirectorySnapshot.User(
                id: "ldap:" + (externalId ?? normalized(entry.dn)), login: login, name: name, email: email, externalId: externalId,
                attributes: jsonObject(attributes), dn: entry.dn))
    }

    /// A JSON object of text members, keys in order: written by hand, since a synchronization writes 100,000.
    static func jsonObject(_ members: [(String, String)]) -> String {
        func quoted(_ text: String) -> String {
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        var seen: Set<String> = []
        let unique = members.filter { seen.insert($0.0).inserted }.sorted { $0.0 < $1.0 }
        return "{" + unique.map { quoted($0.0) + ":" + quoted($0.1) }.joined(separator: ",") + "}"
    }

    /// The groups, their members matched by DN, or by login for `memberUid`-style groups.
    static func groups(_ groups: [LDAPEntry], users: [DirectorySnapshot.User], settings: LDAPSyncSettings) -> [DirectorySnapshot.Group] {
        guard !groups.isEmpty else { return [] }
        var byDN: [String: String] = [:]
        var byLogin: [String: String] = [:]
        for user in users {
            if let dn = user.dn { byDN[normalized(dn)] = user.id }
            byLogin[AccessModel.fold(user.login)] = user.id
        }
        return groups.map { entry in
            let externalId = entry.first(settings.externalIdAttribute)
            let name = entry.first(settings.groupNameAttribute).flatMap { try? UserRules.name($0) } ?? entry.dn
            let members = entry.values(settings.memberAttribute).compactMap { value in
                byDN[normalized(value)] ?? byLogin[AccessModel.fold(value.trimmingCharacters(in: .whitespaces))]
            }
            return DirectorySnapshot.Group(
                id: "ldap:" + (externalId ?? normalized(entry.dn)), displayName: String(name.prefix(200)), externalId: externalId,
                attributes: ["dn": .string(entry.dn)], members: members)
        }
    }

    /// A DN compared as LDAP does, roughly: case and the spaces after separators do not count.
    static func normalized(_ dn: String) -> String {
        dn.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ",").lowercased()
    }
}
