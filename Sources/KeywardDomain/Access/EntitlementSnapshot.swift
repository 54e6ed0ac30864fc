import Foundation

/// An immutable, compiled form of the access rules for answering entitlement checks fast (the suite asks thousands
/// of times a second). Built from an `AccessModel`; swapped whole when anything changes. Open sessions change most
/// often, so they live beside the compiled index and are replaced on their own.
public struct EntitlementSnapshot: Sendable {
    /// The heavy part: users, groups, keys and seats, compiled. Shared between snapshots that differ only in sessions.
    final class Index: Sendable {
        struct CompiledGroup: Sendable {
            let component: String
            /// One bit per catalog menu index.
            let menus: [UInt64]
            let key: Int32
        }

        struct CompiledKey: Sendable {
            let serial: String
            let profile: Profile
            let floating: Bool
            let users: Int
            let components: Set<String>
            let validFrom: Date
            let expiresAt: Date?
            let revoked: Bool
            let covered: Bool
            let coveredUntil: Date?

            func isCovered(at now: Date) -> Bool { covered && (coveredUntil.map { now < $0 } ?? true) }
        }

        struct CatalogMenu: Sendable {
            let component: String
            let profile: Profile
        }

        let menuIndex: [String: Int]
        let menus: [CatalogMenu]
        let userIndex: [String: Int32]
        let userActive: [Bool]
        /// Per user: the active groups listing them.
        let userGroups: Adjacency
        /// Per user: the nominative keys on which they hold a seat within the limit.
        let userSeats: Adjacency
        let groups: [CompiledGroup]
        let keys: [CompiledKey]
        let keyIndex: [String: Int32]
        /// Built-in administrators' logins, folded: they administer without a seat.
        let builtin: Set<String>

        /// For each user, a list of numbers (groups, keys), all in one flat array: 100,000 users cost two arrays, not
        /// 100,000.
        struct Adjacency: Sendable {
            let offsets: [Int32]
            let values: [Int32]

            init(_ pairs: [(Int32, Int32)], count: Int) {
                var offsets = Array(repeating: Int32(0), count: count + 1)
                for (owner, _) in pairs { offsets[Int(owner) + 1] += 1 }
                for index in 0..<count { offsets[index + 1] += offsets[index] }
                var next = offsets
                var values = Array(repeating: Int32(0), count: pairs.count)
                for (owner, value) in pairs {
                    values[Int(next[Int(owner)])] = value
                    next[Int(owner)] += 1
                }
                self.offsets = offsets
                self.values = values
            }

            subscript(owner: Int) -> ArraySlice<Int32> { values[Int(offsets[owner])..<Int(offsets[owner + 1])] }
        }

        /// The users, folded and numbered.
        struct UserTable: Sendable {
            let index: [String: Int32]
            let active: [Bool]
            let logins: [String]

            init(_ users: [AccessModel.User]) {
                var index: [String: Int32] = [:]
                var active: [Bool] = []
                var logins: [String] = []
                index.reserveCapacity(users.count)
                active.reserveCapacity(users.count)
                logins.reserveCapacity(users.count)
                for user in users where !user.builtin {
                    let login = AccessModel.fold(user.login)
                    index[login] = Int32(active.count)
                    active.append(user.active)
                    logins.append(login)
                }
                self.index = index
                self.active = active
                self.logins = logins
            }
        }

        let users: [AccessModel.User]
        let userTable: UserTable

        /// A group's members and their user numbers (-1: no such user), kept for the next rebuild.
        struct ResolvedMembers: Sendable {
            let members: [AccessModel.Member]
            let users: [Int32]
        }

        let resolved: [String: ResolvedMembers]

        init(_ model: AccessModel, previous: Index? = nil) {
            var menuIndex: [String: Int] = [:]
            var menus: [CatalogMenu] = []
            for component in model.catalog.components {
                for menu in component.menus where menuIndex[menu.code] == nil {
                    menuIndex[menu.code] = menus.count
                    menus.append(CatalogMenu(component: component.code, profile: menu.profile))
                }
            }
            var keyIndex: [String: Int32] = [:]
            let keys = model.keys.enumerated().map { offset, key in
                keyIndex[key.serial] = Int32(offset)
                return CompiledKey(
                    serial: key.serial, profile: key.profile, floating: key.useType == .floating, users: key.users, components: Set(key.components),
                    validFrom: key.validFrom, expiresAt: key.expiresAt, revoked: key.revoked, covered: key.covered,
                    coveredUntil: key.coveredUntil)
            }
            // The user table is the largest part and changes least: reused when the users are the same as last time,
            // and with it each unchanged group's members as resolved to user numbers (hashing 100,000s of logins is
            // most of a rebuild).
            let same = previous.flatMap { $0.users == model.users ? $0 : nil }
            let users = same?.userTable ?? UserTable(model.users)
            let userIndex = users.index
            let userActive = users.active
            let logins = users.logins
            var resolved: [String: ResolvedMembers] = [:]
            resolved.reserveCapacity(model.groups.count)
            for group in model.groups {
                if let old = same?.resolved[group.idNumber], old.members == group.members {
                    resolved[group.idNumber] = old
                } else {
                    resolved[group.idNumber] = ResolvedMembers(
                        members: group.members,
                        users: group.members.map { userIndex[AccessModel.fold($0.login)] ?? -1 })
                }
            }
            var groupPairs: [(Int32, Int32)] = []
            var groups: [CompiledGroup] = []
            let words = (menus.count + 63) / 64
            for group in model.groups {
                guard let key = keyIndex[group.keySerial] else { continue }
                var bits = Array(repeating: UInt64(0), count: words)
                for code in group.menus {
                    if let index = menuIndex[code] { bits[index / 64] |= 1 << UInt64(index % 64) }
                }
                let index = Int32(groups.count)
                groups.append(CompiledGroup(component: group.component, menus: bits, key: key))
                guard group.active, let members = resolved[group.idNumber] else { continue }
                for user in members.users where user >= 0 { groupPairs.append((user, index)) }
            }
            // Seats, by the rules of SeatRules but on indices: each active user's oldest assignment on each nominative
            // key, ranked; the first `users` of them hold a seat.
            var oldest = Array(repeating: [Int32: Int64](), count: keys.count)
            for group in model.groups {
                guard let key = keyIndex[group.keySerial], !keys[Int(key)].floating, let members = resolved[group.idNumber] else { continue }
                for (position, user) in members.users.enumerated() where user >= 0 && userActive[Int(user)] {
                    let order = members.members[position].order
                    if let known = oldest[Int(key)][user], known <= order { continue }
                    oldest[Int(key)][user] = order
                }
            }
            var seatPairs: [(Int32, Int32)] = []
            for (key, orders) in oldest.enumerated() where !orders.isEmpty {
                let limit = keys[key].users
                let ranked =
                    orders.count <= limit
                    ? Array(orders.keys)
                    : orders.sorted { ($0.value, logins[Int($0.key)]) < ($1.value, logins[Int($1.key)]) }.prefix(limit).map(\.key)
                for user in ranked { seatPairs.append((user, Int32(key))) }
            }
            self.menuIndex = menuIndex
            self.menus = menus
            self.users = model.users
            self.userTable = users
            self.resolved = resolved
            self.userIndex = userIndex
            self.userActive = userActive
            self.userGroups = Adjacency(groupPairs, count: userActive.count)
            self.userSeats = Adjacency(seatPairs, count: userActive.count)
            self.groups = groups
            self.keys = keys
            self.keyIndex = keyIndex
            self.builtin = Set(model.users.filter(\.builtin).map { AccessModel.fold($0.login) })
        }
    }

    let index: Index
    /// Open sessions' lease ends, by user index and key index packed together.
    let sessions: [Int64: Date]

    /// Compiles `model` (its sessions included), reusing what `previous` compiled of the same users.
    public init(_ model: AccessModel, previous: EntitlementSnapshot? = nil) {
        let index = Index(model, previous: previous?.index)
        self.init(index: index, sessions: Self.compile(model.sessions, index))
    }

    init(index: Index, sessions: [Int64: Date]) {
        self.index = index
        self.sessions = sessions
    }

    /// The same snapshot with other open sessions: cheap, the compiled index is shared.
    public func replacingSessions(_ sessions: [AccessModel.Session]) -> EntitlementSnapshot {
        EntitlementSnapshot(index: index, sessions: Self.compile(sessions, index))
    }

    /// The same snapshot with one session opened or renewed, without reloading the others. Exact, because a
    /// session's lease only ever grows until it ends (an ended one needs `settingSessionLease` or `replacingSessions`).
    public func addingSession(_ session: AccessModel.Session) -> EntitlementSnapshot {
        var sessions = self.sessions
        Self.add(session, to: &sessions, index)
        return EntitlementSnapshot(index: index, sessions: sessions)
    }

    /// The same snapshot with `login`'s lease on `keySerial` set to `lease`, or removed when nil: after one of the
    /// user's sessions on that key ended, `lease` is the latest of their other open sessions there, read from the store.
    public func settingSessionLease(login: String, keySerial: String, to lease: Date?) -> EntitlementSnapshot {
        guard let slot = Self.slot(login: login, keySerial: keySerial, index) else { return self }
        var sessions = self.sessions
        sessions[slot] = lease
        return EntitlementSnapshot(index: index, sessions: sessions)
    }

    static func compile(_ sessions: [AccessModel.Session], _ index: Index) -> [Int64: Date] {
        var result: [Int64: Date] = [:]
        for session in sessions { add(session, to: &result, index) }
        return result
    }

    private static func add(_ session: AccessModel.Session, to sessions: inout [Int64: Date], _ index: Index) {
        guard let slot = slot(login: session.login, keySerial: session.keySerial, index) else { return }
        sessions[slot] = max(sessions[slot] ?? .distantPast, session.leaseExpiresAt)
    }

    /// Where a user's lease on a key is kept: user index and key index packed together; nil for an unknown user or key.
    private static func slot(login: String, keySerial: String, _ index: Index) -> Int64? {
        guard let user = index.userIndex[AccessModel.fold(login)], let key = index.keyIndex[keySerial] else { return nil }
        return Int64(user) << 32 | Int64(key)
    }

    /// May `login` open `menu` of `component` at `now`?
    public func check(login: String, component: String, menu: String, at now: Date) -> EntitlementDecision {
        guard let menuNumber = index.menuIndex[menu], index.menus[menuNumber].component == component else {
            return EntitlementDecision(code: .unknownMenu)
        }
        guard let user = index.userIndex[login] ?? index.userIndex[AccessModel.fold(login)] else { return EntitlementDecision(code: .unknownUser) }
        guard index.userActive[Int(user)] else { return EntitlementDecision(code: .userDisabled) }
        let required = index.menus[menuNumber].profile
        let word = menuNumber / 64
        let bit = UInt64(1) << UInt64(menuNumber % 64)
        var best = EntitlementDecision(code: .noAccess)
        for groupNumber in index.userGroups[Int(user)] {
            let group = index.groups[Int(groupNumber)]
            guard group.menus[word] & bit != 0, group.component == component else { continue }
            let key = index.keys[Int(group.key)]
            let code: EntitlementCode
            if !key.components.contains(component) {
                code = .componentNotInKey
            } else if !key.profile.includes(required) {
                code = .profileTooLow
            } else if !key.isCovered(at: now) {
                code = .keyNotActivated
            } else if key.revoked || now < key.validFrom || key.expiresAt.map({ now >= $0 }) == true {
                code = .keyNotValid
            } else if key.floating {
                let lease = sessions[Int64(user) << 32 | Int64(group.key)]
                code = lease.map { $0 > now } == true ? .allowed : .noSession
            } else {
                code = index.userSeats[Int(user)].contains(group.key) ? .allowed : .overLimit
            }
            if code == .allowed { return EntitlementDecision(code: .allowed, keySerial: key.serial, profile: key.profile) }
            if code.rank > best.code.rank { best = EntitlementDecision(code: code, keySerial: key.serial, profile: key.profile) }
        }
        return best
    }

    /// Every menu `login` may open at `now`, by component code.
    public func entitlements(login: String, at now: Date) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for (code, number) in index.menuIndex {
            let component = index.menus[number].component
            if check(login: login, component: component, menu: code, at: now).allowed { result[component, default: []].append(code) }
        }
        return result.mapValues { $0.sorted() }
    }

    /// The keys a session for `login` may use at `now`, best first: nominative keys on which the user holds a seat
    /// (they cost nothing more), then floating keys, each through an active group of the user, covered, valid and
    /// carrying the group's component. Empty: the user has no access at all.
    public func sessionCandidates(login: String, at now: Date) -> [(serial: String, floating: Bool, users: Int)] {
        guard let user = index.userIndex[AccessModel.fold(login)], index.userActive[Int(user)] else { return [] }
        var nominative: [Int32] = []
        var floating: [Int32] = []
        for groupNumber in index.userGroups[Int(user)] {
            let group = index.groups[Int(groupNumber)]
            let key = index.keys[Int(group.key)]
            guard key.isCovered(at: now), !key.revoked, key.validFrom <= now, key.expiresAt.map({ now < $0 }) ?? true,
                key.components.contains(group.component)
            else { continue }
            if key.floating {
                if !floating.contains(group.key) { floating.append(group.key) }
            } else if index.userSeats[Int(user)].contains(group.key), !nominative.contains(group.key) {
                nominative.append(group.key)
            }
        }
        return (nominative + floating).map { (index.keys[Int($0)].serial, index.keys[Int($0)].floating, index.keys[Int($0)].users) }
    }

    /// Whether an active user assigned to nominative key `keySerial` is beyond its number of users (no seat, no
    /// access until one frees up). Only meaningful for users in one of the key's groups.
    public func isOverLimit(login: String, keySerial: String) -> Bool {
        guard let user = index.userIndex[AccessModel.fold(login)], index.userActive[Int(user)], let key = index.keyIndex[keySerial],
            !index.keys[Int(key)].floating
        else { return false }
        return !index.userSeats[Int(user)].contains(key)
    }

    /// Whether `login` is a built-in administrator.
    public func isBuiltin(_ login: String) -> Bool { index.builtin.contains(AccessModel.fold(login)) }

    /// Whether the user exists (any case) and is not the built-in administrator.
    public func knows(_ login: String) -> Bool { index.userIndex[AccessModel.fold(login)] != nil }
}
