import Foundation
import HashTreeCollections

/// An immutable, compiled form of the access rules for answering entitlement checks fast (the suite asks thousands
/// of times a second). Compiled once from an `AccessModel` at start, then patched: each access change gives an
/// ``AccessPatch`` and ``applying(_:)`` makes the next snapshot from this one, touching only what the patch touches.
///
/// Readers never lock: they keep the snapshot they read for their request. The large parts are persistent hash
/// tries (`TreeDictionary`), so a patched snapshot shares every node it did not change with the one before it, and a
/// one-user change costs a few path copies, not a copy of 100,000 users. Seats on a nominative key are a ranking of
/// its active users by their oldest assignment (DESIGN.md section 4, `SeatRules`); the first `users` of it hold a
/// seat. A patch moves only the users it touches in a ranking and re-decides the seats of those users and of the few
/// whose rank crossed the key's limit because of them.
///
/// Open sessions change most often; they are patched on their own (``addingSession(_:)``, ``settingSessionLease(login:keySerial:to:)``).
public struct EntitlementSnapshot: Sendable {
    struct CatalogMenu: Sendable {
        let component: String
        /// The component's number in ``Menus/components``.
        let componentNumber: Int
        let profile: Profile
    }

    /// The catalog's menus, numbered: a group's menus are a bit set over these numbers.
    struct Menus: Sendable {
        let index: [String: Int]
        let menus: [CatalogMenu]
        /// The catalog's component codes, numbered: a key's components are a bit set over these numbers.
        let components: [String: Int]

        init(_ catalog: Catalog) {
            var index: [String: Int] = [:]
            var menus: [CatalogMenu] = []
            var components: [String: Int] = [:]
            for component in catalog.components {
                let number = components[component.code] ?? components.count
                components[component.code] = number
                for menu in component.menus where index[menu.code] == nil {
                    index[menu.code] = menus.count
                    menus.append(CatalogMenu(component: component.code, componentNumber: number, profile: menu.profile))
                }
            }
            self.index = index
            self.menus = menus
            self.components = components
        }

        /// One bit per catalog component number among `codes`; codes the catalog does not know have no bit.
        func componentBits(_ codes: some Sequence<String>) -> [UInt64] {
            var bits = Array(repeating: UInt64(0), count: (components.count + 63) / 64)
            for code in codes {
                if let number = components[code] { bits[number / 64] |= 1 << UInt64(number % 64) }
            }
            return bits
        }

        func bits(_ codes: [String]) -> [UInt64] {
            var bits = Array(repeating: UInt64(0), count: (menus.count + 63) / 64)
            for code in codes {
                if let number = index[code] { bits[number / 64] |= 1 << UInt64(number % 64) }
            }
            return bits
        }
    }

    /// A registered key as the checks read it: a reference, so a check retains one object and copies nothing.
    final class CompiledKey: Sendable {
        let source: AccessModel.Key
        let serial: String
        let profile: Profile
        let floating: Bool
        let users: Int
        let components: Set<String>
        /// `components` as bits over the catalog's component numbers (``Menus/components``).
        let componentBits: [UInt64]
        let validFrom: Date
        let expiresAt: Date?
        let revoked: Bool
        let covered: Bool
        let coveredUntil: Date?

        init(_ key: AccessModel.Key, menus: Menus) {
            source = key
            componentBits = menus.componentBits(key.components)
            serial = key.serial
            profile = key.profile
            floating = key.useType == .floating
            users = key.users
            components = Set(key.components)
            validFrom = key.validFrom
            expiresAt = key.expiresAt
            revoked = key.revoked
            covered = key.covered
            coveredUntil = key.coveredUntil
        }

        func carries(component number: Int) -> Bool {
            number / 64 < componentBits.count && componentBits[number / 64] & (1 << UInt64(number % 64)) != 0
        }

        func isCovered(at now: Date) -> Bool { covered && (coveredUntil.map { now < $0 } ?? true) }
        func isValid(at now: Date) -> Bool { !revoked && validFrom <= now && (expiresAt.map { now < $0 } ?? true) }
        /// How many seats its ranking holds: none on a floating key.
        var seats: Int { floating ? 0 : max(users, 0) }
    }

    struct CompiledGroup: Sendable {
        let idNumber: String
        let component: String
        /// The component's number in ``Menus/components``; -1 when the catalog does not list it.
        let componentNumber: Int
        /// One bit per catalog menu number.
        let menus: [UInt64]
        /// The key's number (``EntitlementSnapshot/keyNumbers``), whether or not that key is registered.
        let key: Int32
        let active: Bool
        /// Its users (by number) and their assignment order.
        var members: TreeDictionary<Int32, Int64>
    }

    struct Membership: Sendable, Hashable {
        let group: Int64
        var order: Int64
    }

    /// Where a user stands in a nominative key's ranking: their oldest assignment there.
    struct Standing: Sendable, Hashable {
        let key: Int32
        let order: Int64
    }

    struct User: Sendable {
        let number: Int32
        var active: Bool
        /// Every group listing the user, active or not, by group id.
        var memberships: [Membership]
        /// The nominative keys whose ranking lists the user.
        var standings: [Standing]
        /// The keys on which the user holds a seat.
        var seats: [Int32]
    }

    /// One place in a key's ranking: oldest assignment first, then login.
    struct Rank: Sendable, Hashable {
        let order: Int64
        let user: Int32
    }

    /// A persistent map built for reads: a key's hash picks one of a few hundred shards, a binary search over the
    /// shard's sorted hashes finds the key, and the reader retains one shared object, copying none of its arrays. A
    /// write copies only the shard it changes (a few dozen entries) and the array of shards; every other shard is
    /// shared with the map before it. (An open-addressed shard answered no faster here, and its writes were slower.) (A hash trie,
    /// `TreeDictionary`, shares as well, but a lookup walks and retains four nodes for 100,000 keys: the check took
    /// twice its 200 ns budget.)
    struct SharedTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
        final class Entry: Sendable {
            let value: Value
            init(_ value: Value) { self.value = value }
        }

        struct Slot: Sendable {
            var hash: Int
            var key: Key
            var entry: Entry
        }

        /// Keys sorted by hash, found by binary search over the hashes; never changed once made.
        final class Shard: Sendable {
            /// Ascending; equal hashes are next to each other.
            let hashes: [Int]
            let keys: [Key]
            let entries: [Entry]

            init(_ items: [Slot]) {
                let sorted = items.sorted { $0.hash < $1.hash }
                hashes = sorted.map(\.hash)
                keys = sorted.map(\.key)
                entries = sorted.map(\.entry)
            }

            /// The first position whose hash is not below `hash`.
            func lowerBound(_ hash: Int) -> Int {
                var low = 0
                var high = hashes.count
                while low < high {
                    let middle = (low + high) / 2
                    if hashes[middle] < hash { low = middle + 1 } else { high = middle }
                }
                return low
            }

            func position(of key: Key, hash: Int) -> Int? {
                var at = lowerBound(hash)
                while at < hashes.count, hashes[at] == hash {
                    if keys[at] == key { return at }
                    at += 1
                }
                return nil
            }

            var items: [Slot] { hashes.indices.map { Slot(hash: hashes[$0], key: keys[$0], entry: entries[$0]) } }
        }

        /// A power of two.
        private(set) var shards: [Shard]
        private(set) var count: Int

        init() {
            shards = (0..<64).map { _ in Shard([]) }
            count = 0
        }

        /// `pairs` in about one shard per 64 keys, and at least `minimum` shards (a power of two).
        init(uniqueKeysWithValues pairs: [(Key, Entry)], shardsAtLeast minimum: Int = 64) {
            self.init(slots: pairs.map { Slot(hash: $0.0.hashValue, key: $0.0, entry: $0.1) }, shardsAtLeast: minimum)
        }

        private init(slots: [Slot], shardsAtLeast minimum: Int) {
            var shardCount = minimum
            while shardCount * 64 < slots.count { shardCount *= 2 }
            var buckets = Array(repeating: [Slot](), count: shardCount)
            for slot in slots { buckets[slot.hash & (shardCount - 1)].append(slot) }
            shards = buckets.map { Shard($0) }
            count = slots.count
        }

        subscript(key: Key) -> Value? {
            get { entry(key)?.value }
            set { store(newValue.map(Entry.init), for: key) }
        }

        /// The stored object itself, for readers that should not copy the value.
        func entry(_ key: Key) -> Entry? {
            let hash = key.hashValue
            let shard = shards[hash & (shards.count - 1)]
            guard let at = shard.position(of: key, hash: hash) else { return nil }
            return shard.entries[at]
        }

        @discardableResult
        mutating func removeValue(forKey key: Key) -> Value? {
            let old = entry(key)
            if old != nil { store(nil, for: key) }
            return old?.value
        }

        var all: some Sequence<(key: Key, value: Value)> {
            shards.lazy.flatMap { shard in shard.keys.indices.lazy.map { (shard.keys[$0], shard.entries[$0].value) } }
        }

        private mutating func store(_ entry: Entry?, for key: Key) {
            let hash = key.hashValue
            let number = hash & (shards.count - 1)
            let shard = shards[number]
            var items = shard.items
            if let at = shard.position(of: key, hash: hash) {
                if let entry {
                    items[at].entry = entry
                } else {
                    items.remove(at: at)
                    count -= 1
                }
            } else if let entry {
                items.insert(Slot(hash: hash, key: key, entry: entry), at: shard.lowerBound(hash))
                count += 1
            } else {
                return
            }
            shards[number] = Shard(items)
            // Keep shards small as the map grows one key at a time: four times as many once they average 256 keys.
            if count > shards.count * 256 {
                self = SharedTable(slots: shards.flatMap(\.items), shardsAtLeast: shards.count * 4)
            }
        }
    }

    /// The registered keys by number: an array, since key numbers are small and dense.
    struct KeyTable: Sendable {
        private var slots: [CompiledKey?] = []

        subscript(number: Int32) -> CompiledKey? {
            get { Int(number) < slots.count ? slots[Int(number)] : nil }
            set {
                if Int(number) >= slots.count { slots.append(contentsOf: repeatElement(nil, count: Int(number) - slots.count + 1)) }
                slots[Int(number)] = newValue
            }
        }

        /// The numbers of the registered keys.
        var numbers: [Int32] { slots.indices.filter { slots[$0] != nil }.map { Int32($0) } }
    }

    let menus: Menus
    /// Users by folded login; the built-in administrators are not among them.
    var users: SharedTable<String, User>
    var logins: TreeDictionary<Int32, String>
    var nextUser: Int32
    /// Built-in administrators' folded logins: they administer without a seat.
    var builtin: Set<String>
    var groups: SharedTable<Int64, CompiledGroup>
    /// Group ids by folded ID #.
    var groupIDs: [String: Int64]
    /// Numbers given to key serials as they are first seen; never reused, so sessions and groups keep theirs.
    var keyNumbers: [String: Int32]
    /// The registered keys.
    var keys: KeyTable
    /// Each registered nominative key's ranking.
    var rankings: [Int32: [Rank]]
    /// Open sessions' lease ends, by user number and key number packed together.
    var sessions: TreeDictionary<Int64, Date>

    /// Compiles `model` (its sessions included): at start, after a synchronization, and as the reference the patched
    /// snapshots are tested against.
    public init(_ model: AccessModel) {
        // The same rules as the patches, applied in bulk to flat tables first and put into the tries once: compiling
        // 100,000 users one patch at a time would copy each user's entry once per group they are in.
        let menus = Menus(model.catalog)
        var keyNumbers: [String: Int32] = [:]
        func number(_ serial: String) -> Int32 {
            if let number = keyNumbers[serial] { return number }
            let number = Int32(keyNumbers.count)
            keyNumbers[serial] = number
            return number
        }
        var keys = KeyTable()
        for key in model.keys { keys[number(key.serial)] = CompiledKey(key, menus: menus) }

        // Users: numbered by their row, the last row of a login winning as in a patch; built-in administrators get no
        // entry. Numbers need not be dense, only unique.
        var numbers: [String: Int32] = [:]
        numbers.reserveCapacity(model.users.count)
        var logins = [String](repeating: "", count: model.users.count)
        var active = [Bool](repeating: false, count: model.users.count)
        for (row, user) in model.users.enumerated() {
            let login = AccessModel.fold(user.login)
            numbers[login] = Int32(row)
            logins[row] = login
            active[row] = user.active
        }
        var builtin: Set<String> = []
        for (login, row) in numbers where model.users[Int(row)].builtin { builtin.insert(login) }
        for login in builtin { numbers[login] = nil }

        // Groups: the last of an ID # wins, then the last of an id.
        var byIDNumber: [String: AccessModel.Group] = [:]
        var idNumberOrder: [String] = []
        for (position, group) in model.groups.enumerated() {
            var group = group
            group.id = group.id ?? Int64(position + 1)
            if byIDNumber.updateValue(group, forKey: IDNumber.folded(group.idNumber)) == nil { idNumberOrder.append(IDNumber.folded(group.idNumber)) }
        }
        var chosen: [Int64: (idNumber: String, group: AccessModel.Group)] = [:]
        for idNumber in idNumberOrder {
            guard let group = byIDNumber[idNumber], let id = group.id else { continue }
            chosen[id] = (idNumber, group)
        }
        var memberships = Array(repeating: [Membership](), count: logins.count)
        var oldest: [Int32: [Int32: Int64]] = [:]
        var groupEntries: [(Int64, SharedTable<Int64, CompiledGroup>.Entry)] = []
        var groupIDs: [String: Int64] = [:]
        for (id, (idNumber, group)) in chosen {
            let key = number(group.keySerial)
            var members: [Int32: Int64] = [:]
            for member in group.members {
                guard let user = numbers[AccessModel.fold(member.login)] else { continue }
                members[user] = min(members[user] ?? .max, member.order)
            }
            let ranked = keys[key].map { !$0.floating } ?? false
            for (user, order) in members {
                memberships[Int(user)].append(Membership(group: id, order: order))
                if ranked, active[Int(user)] { oldest[key, default: [:]][user] = min(oldest[key]?[user] ?? .max, order) }
            }
            let compiled = CompiledGroup(
                idNumber: idNumber, component: group.component, componentNumber: menus.components[group.component] ?? -1,
                menus: menus.bits(group.menus), key: key, active: group.active, members: TreeDictionary(uniqueKeysWithValues: members))
            groupEntries.append((id, SharedTable.Entry(compiled)))
            groupIDs[idNumber] = id
        }

        // Seats: each nominative key's ranking, oldest assignment first, then login; its first `users` hold a seat.
        var rankings: [Int32: [Rank]] = [:]
        var standings = Array(repeating: [Standing](), count: logins.count)
        var seats = Array(repeating: [Int32](), count: logins.count)
        for (key, orders) in oldest {
            let ranking = orders.map { Rank(order: $0.value, user: $0.key) }.sorted { (a: Rank, b: Rank) -> Bool in
                if a.order != b.order { return a.order < b.order }
                return logins[Int(a.user)] < logins[Int(b.user)]
            }
            let limit = keys[key]?.seats ?? 0
            for (place, rank) in ranking.enumerated() {
                standings[Int(rank.user)].append(Standing(key: key, order: rank.order))
                if place < limit { seats[Int(rank.user)].append(key) }
            }
            rankings[key] = ranking
        }

        self.menus = menus
        self.keyNumbers = keyNumbers
        self.keys = keys
        self.builtin = builtin
        self.groupIDs = groupIDs
        self.groups = SharedTable(uniqueKeysWithValues: groupEntries)
        self.rankings = rankings
        self.users = SharedTable(
            uniqueKeysWithValues: numbers.map { login, number in
                let index = Int(number)
                let user = User(
                    number: number, active: active[index], memberships: memberships[index].sorted { $0.group < $1.group },
                    standings: standings[index], seats: seats[index])
                return (login, SharedTable.Entry(user))
            })
        self.logins = TreeDictionary(uniqueKeysWithValues: numbers.lazy.map { ($0.value, $0.key) })
        nextUser = Int32(model.users.count)
        sessions = [:]
        for session in model.sessions { Self.add(session, to: &sessions, self) }
    }

    // MARK: Patching

    /// The snapshot after `patch`, made from this one: what the patch does not touch is shared, not copied.
    public func applying(_ patch: AccessPatch) -> EntitlementSnapshot {
        var next = self
        next.apply(patch)
        return next
    }

    /// Which users' standing on which keys a patch may have moved, and which keys' rankings are made again whole.
    struct Touched {
        var users: [Int32: Set<Int32>] = [:]
        var keys: Set<Int32> = []

        mutating func insert(user: Int32, key: Int32) { users[key, default: []].insert(user) }
    }

    private mutating func apply(_ patch: AccessPatch) {
        var touched = Touched()
        let oldKeys = keys
        if let newKeys = patch.keys {
            var table = KeyTable()
            for key in newKeys { table[keyNumber(key.serial)] = CompiledKey(key, menus: menus) }
            for number in Set(oldKeys.numbers).union(table.numbers) where oldKeys[number]?.source != table[number]?.source {
                touched.keys.insert(number)
            }
            keys = table
        }
        // Users first, so that groups made in the same patch find them; then groups, then single assignments.
        for (login, row) in patch.users {
            guard let row else { continue }  // users are never deleted: nothing to undo
            if row.user.builtin {
                builtin.insert(login)
                continue
            }
            if users[login] == nil {
                users[login] = User(number: nextUser, active: row.user.active, memberships: [], standings: [], seats: [])
                logins[nextUser] = login
                nextUser += 1
            }
            setUser(login, active: row.user.active, memberships: row.memberships, touched: &touched)
        }
        for (idNumber, group) in patch.groups {
            if let id = groupIDs[idNumber] { removeGroup(id, touched: &touched) }
            if let group, let id = group.id, groups[id] != nil { removeGroup(id, touched: &touched) }
        }
        for (idNumber, group) in patch.groups {
            guard let group, let id = group.id else { continue }
            insertGroup(group, id: id, idNumber: idNumber, touched: &touched)
        }
        for (pair, order) in patch.assignments {
            assign(login: pair.login, group: pair.group, order: order, touched: &touched)
        }
        for key in Set(touched.users.keys).union(touched.keys) {
            rerank(key, touchedUsers: touched.users[key] ?? [], whole: touched.keys.contains(key), oldKey: oldKeys[key])
        }
    }

    private mutating func keyNumber(_ serial: String) -> Int32 {
        if let number = keyNumbers[serial] { return number }
        let number = Int32(keyNumbers.count)
        keyNumbers[serial] = number
        return number
    }

    /// Sets a user's state and every group they are in, as the store has them now.
    private mutating func setUser(_ login: String, active: Bool, memberships: [AccessPatch.Assignment], touched: inout Touched) {
        guard var user = users[login] else { return }
        let wanted = Dictionary(memberships.filter { groups[$0.group] != nil }.map { ($0.group, $0.order) }) { first, _ in first }
        let activityChanged = user.active != active
        user.active = active
        for membership in user.memberships where wanted[membership.group] != membership.order || activityChanged {
            if let group = groups[membership.group] { touched.insert(user: user.number, key: group.key) }
        }
        for membership in user.memberships where wanted[membership.group] == nil {
            groups[membership.group]?.members.removeValue(forKey: user.number)
        }
        for (group, order) in wanted {
            if groups[group]?.members[user.number] != order {
                groups[group]?.members[user.number] = order
                if let key = groups[group]?.key { touched.insert(user: user.number, key: key) }
            }
        }
        user.memberships = wanted.map { Membership(group: $0.key, order: $0.value) }.sorted { $0.group < $1.group }
        users[login] = user
    }

    private mutating func removeGroup(_ id: Int64, touched: inout Touched) {
        guard let group = groups.removeValue(forKey: id) else { return }
        if groupIDs[group.idNumber] == id { groupIDs[group.idNumber] = nil }
        for (number, _) in group.members {
            guard let login = logins[number] else { continue }
            users[login]?.memberships.removeAll { $0.group == id }
            touched.insert(user: number, key: group.key)
        }
    }

    private mutating func insertGroup(_ model: AccessModel.Group, id: Int64, idNumber: String, touched: inout Touched) {
        let key = keyNumber(model.keySerial)
        var members = TreeDictionary<Int32, Int64>()
        for member in model.members {
            let login = AccessModel.fold(member.login)
            guard var user = users[login] else { continue }
            // A login listed twice keeps its oldest assignment.
            let order = min(members[user.number] ?? .max, member.order)
            members[user.number] = order
            Self.insert(Membership(group: id, order: order), into: &user.memberships)
            users[login] = user
            touched.insert(user: user.number, key: key)
        }
        groups[id] = CompiledGroup(
            idNumber: idNumber, component: model.component, componentNumber: menus.components[model.component] ?? -1,
            menus: menus.bits(model.menus), key: key, active: model.active, members: members)
        groupIDs[idNumber] = id
    }

    private mutating func assign(login: String, group id: Int64, order: Int64?, touched: inout Touched) {
        guard var user = users[login], let group = groups[id], group.members[user.number] != order else { return }
        if let order {
            groups[id]?.members[user.number] = order
            Self.insert(Membership(group: id, order: order), into: &user.memberships)
        } else {
            groups[id]?.members.removeValue(forKey: user.number)
            user.memberships.removeAll { $0.group == id }
        }
        users[login] = user
        touched.insert(user: user.number, key: group.key)
    }

    private static func insert(_ membership: Membership, into memberships: inout [Membership]) {
        if let position = memberships.firstIndex(where: { $0.group >= membership.group }) {
            if memberships[position].group == membership.group {
                memberships[position] = membership
            } else {
                memberships.insert(membership, at: position)
            }
        } else {
            memberships.append(membership)
        }
    }

    // MARK: Seats

    /// Where `login`'s standing on `key` belongs now: their oldest assignment in a group on it, if they are active and
    /// the key is a registered nominative key.
    private func standing(of user: User, on key: Int32) -> Int64? {
        guard user.active, let compiled = keys[key], !compiled.floating else { return nil }
        var oldest: Int64?
        for membership in user.memberships where groups[membership.group]?.key == key {
            oldest = min(oldest ?? .max, membership.order)
        }
        return oldest
    }

    private func precedes(_ a: Rank, _ b: Rank) -> Bool {
        if a.order != b.order { return a.order < b.order }
        return (logins[a.user] ?? "") < (logins[b.user] ?? "")
    }

    /// The first position in `ranking` not before `rank`.
    private func position(of rank: Rank, in ranking: [Rank]) -> Int {
        var low = 0
        var high = ranking.count
        while low < high {
            let middle = (low + high) / 2
            if precedes(ranking[middle], rank) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Re-decides one key's ranking and seats after a patch: moving only `touchedUsers` in it, or making it again whole
    /// when the key itself changed (`whole`: registered, removed, renewed, switched between nominative and floating).
    private mutating func rerank(_ key: Int32, touchedUsers: Set<Int32>, whole: Bool, oldKey: CompiledKey?) {
        let old = rankings[key] ?? []
        let oldLimit = oldKey?.seats ?? 0
        let newLimit = keys[key]?.seats ?? 0
        let nominative = keys[key].map { !$0.floating } ?? false
        var ranking: [Rank]
        /// Users whose standing or seat may differ from what their entry says.
        var candidates: Set<Int32>
        let remade = whole && (oldKey?.floating != keys[key]?.floating || oldKey == nil || keys[key] == nil)
        if !nominative {
            ranking = []
            candidates = Set(old.map(\.user)).union(touchedUsers)
        } else if remade {
            var oldest: [Int32: Int64] = [:]
            for (_, group) in groups.all where group.key == key {
                for (number, order) in group.members {
                    guard let login = logins[number], users[login]?.active == true else { continue }
                    oldest[number] = min(oldest[number] ?? .max, order)
                }
            }
            ranking = oldest.map { Rank(order: $0.value, user: $0.key) }
            ranking.sort(by: precedes)
            candidates = Set(old.map(\.user)).union(ranking.map(\.user)).union(touchedUsers)
        } else {
            ranking = old
            // A few users move by binary search; many are taken out in one pass and merged back in.
            let few = touchedUsers.count <= 16
            var moved: [Rank] = []
            for number in touchedUsers {
                guard let login = logins[number], let user = users[login] else { continue }
                let before = user.standings.first { $0.key == key }.map { Rank(order: $0.order, user: number) }
                let after = standing(of: user, on: key).map { Rank(order: $0, user: number) }
                if few {
                    guard before != after else { continue }
                    if let before {
                        var at = position(of: before, in: ranking)
                        while at < ranking.count, ranking[at] != before { at += 1 }
                        if at < ranking.count { ranking.remove(at: at) }
                    }
                    if let after { ranking.insert(after, at: position(of: after, in: ranking)) }
                } else if let after {
                    moved.append(after)
                }
            }
            if !few {
                moved.sort(by: precedes)
                ranking = merge(ranking.filter { !touchedUsers.contains($0.user) }, moved)
            }
            // Only users within `touchedUsers.count` places of either limit can have crossed it.
            candidates = touchedUsers
            let reach = touchedUsers.count
            let low = max(0, min(oldLimit, newLimit) - reach)
            let high = min(ranking.count, max(oldLimit, newLimit) + reach)
            if low < high { for rank in ranking[low..<high] { candidates.insert(rank.user) } }
        }
        var positions: [Int32: Int] = [:]
        if remade || !nominative || candidates.count > 64 {
            positions.reserveCapacity(ranking.count)
            for (place, rank) in ranking.enumerated() { positions[rank.user] = place }
        }
        for number in candidates {
            guard let login = logins[number], var user = users[login] else { continue }
            let standing = standing(of: user, on: key)
            var place: Int?
            if let standing {
                if positions.isEmpty {
                    let rank = Rank(order: standing, user: number)
                    var at = position(of: rank, in: ranking)
                    while at < ranking.count, ranking[at] != rank { at += 1 }
                    place = at < ranking.count ? at : nil
                } else {
                    place = positions[number]
                }
            }
            let seated = place.map { $0 < newLimit } ?? false
            let hadSeat = user.seats.contains(key)
            let stood = user.standings.first { $0.key == key }?.order
            guard seated != hadSeat || stood != standing else { continue }
            user.standings.removeAll { $0.key == key }
            if let standing { user.standings.append(Standing(key: key, order: standing)) }
            if seated && !hadSeat { user.seats.append(key) }
            if !seated && hadSeat { user.seats.removeAll { $0 == key } }
            users[login] = user
        }
        rankings[key] = ranking.isEmpty ? nil : ranking
    }

    private func merge(_ a: [Rank], _ b: [Rank]) -> [Rank] {
        var result: [Rank] = []
        result.reserveCapacity(a.count + b.count)
        var i = 0
        var j = 0
        while i < a.count, j < b.count {
            if precedes(b[j], a[i]) {
                result.append(b[j])
                j += 1
            } else {
                result.append(a[i])
                i += 1
            }
        }
        result.append(contentsOf: a[i...])
        result.append(contentsOf: b[j...])
        return result
    }

    // MARK: Sessions

    /// The same snapshot with other open sessions: the compiled rest is shared.
    public func replacingSessions(_ sessions: [AccessModel.Session]) -> EntitlementSnapshot {
        var next = self
        next.sessions = [:]
        for session in sessions { Self.add(session, to: &next.sessions, self) }
        return next
    }

    /// The same snapshot with one session opened or renewed, without reloading the others. Exact, because a
    /// session's lease only ever grows until it ends (an ended one needs `settingSessionLease` or `replacingSessions`).
    public func addingSession(_ session: AccessModel.Session) -> EntitlementSnapshot {
        var next = self
        Self.add(session, to: &next.sessions, self)
        return next
    }

    /// The same snapshot with `login`'s lease on `keySerial` set to `lease`, or removed when nil: after one of the
    /// user's sessions on that key ended, `lease` is the latest of their other open sessions there, read from the store.
    public func settingSessionLease(login: String, keySerial: String, to lease: Date?) -> EntitlementSnapshot {
        guard let slot = slot(login: login, keySerial: keySerial) else { return self }
        var next = self
        next.sessions[slot] = lease
        return next
    }

    /// The same snapshot with `login`'s leases set to `leases` (by key serial), every other key's lease of theirs
    /// removed: after another instance opened, renewed or ended one of their sessions.
    public func settingSessionLeases(login: String, to leases: [String: Date]) -> EntitlementSnapshot {
        guard let user = users[AccessModel.fold(login)] else { return self }
        var next = self
        for (serial, number) in keyNumbers {
            let slot = Int64(user.number) << 32 | Int64(number)
            if let lease = leases[serial], keys[number] != nil {
                next.sessions[slot] = lease
            } else if next.sessions[slot] != nil {
                next.sessions[slot] = nil
            }
        }
        return next
    }

    private static func add(_ session: AccessModel.Session, to sessions: inout TreeDictionary<Int64, Date>, _ snapshot: EntitlementSnapshot) {
        guard let slot = snapshot.slot(login: session.login, keySerial: session.keySerial) else { return }
        sessions[slot] = max(sessions[slot] ?? .distantPast, session.leaseExpiresAt)
    }

    /// Where a user's lease on a key is kept: user number and key number packed together; nil for an unknown user or key.
    private func slot(login: String, keySerial: String) -> Int64? {
        guard let user = users[AccessModel.fold(login)], let key = keyNumbers[keySerial], keys[key] != nil else { return nil }
        return Int64(user.number) << 32 | Int64(key)
    }

    // MARK: Answers

    /// May `login` open `menu` of `component` at `now`?
    public func check(login: String, component: String, menu: String, at now: Date) -> EntitlementDecision {
        guard let menuNumber = menus.index[menu], menus.menus[menuNumber].component == component else {
            return EntitlementDecision(code: .unknownMenu)
        }
        // The user and each group are read in place through their shared entries (`entry.value.…`): copying a
        // `User` or a `CompiledGroup` out would retain each of its arrays, and retains are most of a check's cost.
        guard let entry = users.entry(login) ?? users.entry(AccessModel.fold(login)) else { return EntitlementDecision(code: .unknownUser) }
        guard entry.value.active else { return EntitlementDecision(code: .userDisabled) }
        let required = menus.menus[menuNumber].profile
        let componentNumber = menus.menus[menuNumber].componentNumber
        let word = menuNumber / 64
        let bit = UInt64(1) << UInt64(menuNumber % 64)
        var best = EntitlementDecision(code: .noAccess)
        for membership in entry.value.memberships {
            guard let group = groups.entry(membership.group), group.value.active, group.value.componentNumber == componentNumber,
                group.value.menus[word] & bit != 0, let key = keys[group.value.key]
            else {
                continue
            }
            let code: EntitlementCode
            if !key.carries(component: componentNumber) {
                code = .componentNotInKey
            } else if !key.profile.includes(required) {
                code = .profileTooLow
            } else if !key.isCovered(at: now) {
                code = .keyNotActivated
            } else if !key.isValid(at: now) {
                code = .keyNotValid
            } else if key.floating {
                let lease = sessions[Int64(entry.value.number) << 32 | Int64(group.value.key)]
                code = lease.map { $0 > now } == true ? .allowed : .noSession
            } else {
                code = entry.value.seats.contains(group.value.key) ? .allowed : .overLimit
            }
            if code == .allowed { return EntitlementDecision(code: .allowed, keySerial: key.serial, profile: key.profile) }
            if code.rank > best.code.rank { best = EntitlementDecision(code: code, keySerial: key.serial, profile: key.profile) }
        }
        return best
    }

    /// Every menu `login` may open at `now`, by component code.
    public func entitlements(login: String, at now: Date) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for (code, number) in menus.index {
            let component = menus.menus[number].component
            if check(login: login, component: component, menu: code, at: now).allowed { result[component, default: []].append(code) }
        }
        return result.mapValues { $0.sorted() }
    }

    /// The keys a session for `login` may use at `now`, best first: nominative keys on which the user holds a seat
    /// (they cost nothing more), then floating keys, each through an active group of the user, covered, valid and
    /// carrying the group's component. Empty: the user has no access at all.
    public func sessionCandidates(login: String, at now: Date) -> [(serial: String, floating: Bool, users: Int)] {
        guard let user = users[AccessModel.fold(login)], user.active else { return [] }
        var nominative: [Int32] = []
        var floating: [Int32] = []
        for membership in user.memberships {
            guard let group = groups[membership.group], group.active, let key = keys[group.key], key.isCovered(at: now), key.isValid(at: now),
                key.components.contains(group.component)
            else { continue }
            if key.floating {
                if !floating.contains(group.key) { floating.append(group.key) }
            } else if user.seats.contains(group.key), !nominative.contains(group.key) {
                nominative.append(group.key)
            }
        }
        return (nominative + floating).compactMap { number in keys[number].map { ($0.serial, $0.floating, $0.users) } }
    }

    /// Whether an active user assigned to nominative key `keySerial` is beyond its number of users (no seat, no
    /// access until one frees up). Only meaningful for users in one of the key's groups.
    public func isOverLimit(login: String, keySerial: String) -> Bool {
        guard let user = users[AccessModel.fold(login)], user.active, let number = keyNumbers[keySerial], let key = keys[number], !key.floating
        else { return false }
        return !user.seats.contains(number)
    }

    /// How many users hold a seat on nominative key `keySerial`, and how many more are assigned beyond its limit.
    public func seatCount(keySerial: String) -> (held: Int, over: Int) {
        guard let number = keyNumbers[keySerial], let key = keys[number], !key.floating else { return (0, 0) }
        let ranked = rankings[number]?.count ?? 0
        return (min(ranked, key.seats), max(0, ranked - key.seats))
    }

    /// The users assigned to nominative key `keySerial` beyond its limit, most recently assigned last (folded logins).
    public func overLimitLogins(keySerial: String) -> [String] {
        guard let number = keyNumbers[keySerial], let key = keys[number], !key.floating, let ranking = rankings[number], ranking.count > key.seats
        else { return [] }
        return ranking[key.seats...].compactMap { logins[$0.user] }
    }

    /// Whether `login` is a built-in administrator.
    public func isBuiltin(_ login: String) -> Bool { builtin.contains(AccessModel.fold(login)) }

    /// Whether the user exists (any case) and is not the built-in administrator.
    public func knows(_ login: String) -> Bool { users[AccessModel.fold(login)] != nil }
}
