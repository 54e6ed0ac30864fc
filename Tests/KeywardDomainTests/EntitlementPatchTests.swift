import Foundation
import KeywardDomain
import KeywardTestSupport
import Testing

extension DomainTests {
    /// Patched equals rebuilt: random sequences of access changes, each applied to the snapshot as a patch (what the store
    /// reads back after the change), answer every question exactly as a snapshot compiled again from the whole model, and
    /// as the rules read straight off the model (`EntitlementSnapshotTests.reference`, `SeatRules`).
    @Suite struct EntitlementPatchTests {
        typealias Rules = EntitlementSnapshotTests
        static let now = Rules.now

        /// The model as a store would hold it, with each change giving the patch the store would read back.
        struct World {
            var model: AccessModel
            var nextOrder: Int64 = 1_000
            var nextGroup: Int64 = 100
            var nextUser = 0

            init(_ model: AccessModel) {
                var model = model
                for index in model.groups.indices {
                    model.groups[index].id = Int64(index + 1)
                    model.groups[index].members = model.groups[index].members.map {
                        AccessModel.Member(login: AccessModel.fold($0.login), order: $0.order)
                    }
                }
                self.model = model
            }

            func row(_ login: String) -> AccessPatch.UserRow? {
                guard let user = model.users.first(where: { AccessModel.fold($0.login) == AccessModel.fold(login) }) else { return nil }
                let memberships = model.groups.flatMap { group in
                    group.members.filter { $0.login == AccessModel.fold(login) }.map { AccessPatch.Assignment(group: group.id!, order: $0.order) }
                }
                return AccessPatch.UserRow(user: user, memberships: memberships)
            }

            func groupPatch(_ idNumbers: [String]) -> AccessPatch {
                var patch = AccessPatch()
                for idNumber in idNumbers {
                    patch.groups[IDNumber.folded(idNumber)] = .some(model.groups.first { IDNumber.folded($0.idNumber) == IDNumber.folded(idNumber) })
                }
                return patch
            }

            var regularUsers: [AccessModel.User] { model.users.filter { !$0.builtin } }

            /// One random change to the model, and its patch.
            mutating func change(_ random: inout SeededGenerator) -> (String, AccessPatch) {
                let keys = model.keys.map(\.serial) + ["KW-unregistered"]
                switch Int.random(in: 0..<12, using: &random) {
                case 0:
                    guard let user = regularUsers.randomElement(using: &random), let index = model.users.firstIndex(of: user) else { break }
                    model.users[index].active.toggle()
                    return ("toggle \(user.login)", AccessPatch(users: [AccessModel.fold(user.login): row(user.login)]))
                case 1:
                    nextUser += 1
                    let login = "new\(nextUser)"
                    model.users.append(AccessModel.User(login: login, active: Bool.random(using: &random)))
                    return ("create \(login)", AccessPatch(users: [login: row(login)]))
                case 2, 3:
                    guard let index = model.groups.indices.randomElement(using: &random) else { break }
                    let outside = regularUsers.filter { user in !model.groups[index].members.contains { $0.login == AccessModel.fold(user.login) } }
                    let chosen = outside.filter { _ in Int.random(in: 0..<3, using: &random) == 0 }.prefix(Int.random(in: 1...30, using: &random))
                    guard !chosen.isEmpty else { break }
                    var patch = AccessPatch()
                    for user in chosen {
                        nextOrder += Int64.random(in: 1...5, using: &random)
                        model.groups[index].members.append(AccessModel.Member(login: AccessModel.fold(user.login), order: nextOrder))
                        patch.assignments[AccessPatch.Pair(group: model.groups[index].id!, login: user.login)] = .some(nextOrder)
                    }
                    return ("add \(chosen.count) to \(model.groups[index].idNumber)", patch)
                case 4:
                    guard let index = model.groups.indices.randomElement(using: &random), !model.groups[index].members.isEmpty else { break }
                    let removed = model.groups[index].members.filter { _ in Bool.random(using: &random) }
                    model.groups[index].members.removeAll { removed.contains($0) }
                    var patch = AccessPatch()
                    // The store reads back every login it was given, those that were not in the group too.
                    for login in removed.map(\.login) + ["user1"] {
                        let now = model.groups[index].members.first { $0.login == AccessModel.fold(login) }?.order
                        patch.assignments[AccessPatch.Pair(group: model.groups[index].id!, login: login)] = .some(now)
                    }
                    return ("remove \(removed.count) from \(model.groups[index].idNumber)", patch)
                case 5:
                    guard let index = model.groups.indices.randomElement(using: &random) else { break }
                    let old = model.groups[index].idNumber
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0: model.groups[index].active.toggle()
                    case 1: model.groups[index].keySerial = keys.randomElement(using: &random)!
                    case 2:
                        let component = ["CFG", "DOC", "WF"].randomElement(using: &random)!
                        model.groups[index].component = component
                        model.groups[index].menus = Rules.catalog.component(component)!.menus.map(\.code).filter { _ in Bool.random(using: &random) }
                    default: model.groups[index].idNumber = "R\(nextGroup)"
                    }
                    nextGroup += 1
                    return ("edit \(old)", groupPatch([old, model.groups[index].idNumber]))
                case 6:
                    guard let index = model.groups.indices.randomElement(using: &random) else { break }
                    let idNumber = model.groups.remove(at: index).idNumber
                    return ("delete \(idNumber)", groupPatch([idNumber]))
                case 7:
                    nextGroup += 1
                    let members = regularUsers.filter { _ in Bool.random(using: &random) }.map { user -> AccessModel.Member in
                        nextOrder += 1
                        return AccessModel.Member(login: AccessModel.fold(user.login), order: nextOrder)
                    }
                    let component = ["CFG", "DOC", "WF"].randomElement(using: &random)!
                    model.groups.append(
                        AccessModel.Group(
                            id: nextGroup, idNumber: "N\(nextGroup)", keySerial: keys.randomElement(using: &random)!, component: component,
                            menus: Rules.catalog.component(component)!.menus.map(\.code), active: Int.random(in: 0..<4, using: &random) > 0,
                            members: members))
                    return ("create N\(nextGroup) with \(members.count)", groupPatch(["N\(nextGroup)"]))
                case 8, 9:
                    guard let index = model.keys.indices.randomElement(using: &random) else { break }
                    switch Int.random(in: 0..<6, using: &random) {
                    case 0: model.keys[index].users = Int.random(in: 0...6, using: &random)
                    case 1: model.keys[index].useType = model.keys[index].useType == .floating ? .nominative : .floating
                    case 2: model.keys[index].revoked.toggle()
                    case 3: model.keys[index].covered.toggle()
                    case 4: model.keys.remove(at: index)
                    default:
                        model.keys.append(
                            AccessModel.Key(
                                serial: "KW-n\(nextGroup)", profile: .manager, useType: .nominative, users: 2, components: ["CFG", "DOC", "WF"],
                                validFrom: now.addingTimeInterval(-60), expiresAt: nil))
                        nextGroup += 1
                    }
                    return ("keys", AccessPatch(keys: model.keys))
                case 10:
                    // A bulk change: many users toggled at once (an import, a directory push).
                    let chosen = regularUsers.filter { _ in Bool.random(using: &random) }
                    var patch = AccessPatch()
                    for user in chosen {
                        let index = model.users.firstIndex(of: user)!
                        model.users[index].active.toggle()
                        patch.users[AccessModel.fold(user.login)] = .some(row(user.login))
                    }
                    return ("toggle \(chosen.count)", patch)
                default:
                    // Nothing changed, yet the store reads rows back (a retried or repeated patch).
                    guard let user = regularUsers.randomElement(using: &random) else { break }
                    return ("again \(user.login)", AccessPatch(users: [AccessModel.fold(user.login): row(user.login)], keys: model.keys))
                }
                return ("nothing", AccessPatch())
            }
        }

        /// Fails, naming the question, where the two snapshots answer differently or the patched one breaks the rules.
        static func expectAgreement(
            _ patched: EntitlementSnapshot, _ rebuilt: EntitlementSnapshot, _ model: AccessModel, _ step: String, logins sample: [String]? = nil,
            sourceLocation: SourceLocation = #_sourceLocation
        ) -> Int {
            var compared = 0
            let logins = sample ?? model.users.map(\.login) + ["nobody"] + model.users.prefix(1).map { $0.login.uppercased() }
            let times = [now, now.addingTimeInterval(-2 * 86_400), now.addingTimeInterval(3 * 86_400)]
            for login in logins {
                for component in Rules.catalog.components {
                    for menu in component.menus {
                        for time in times {
                            let a = patched.check(login: login, component: component.code, menu: menu.code, at: time)
                            let b = rebuilt.check(login: login, component: component.code, menu: menu.code, at: time)
                            #expect(a == b, "\(step): \(login) \(component.code)/\(menu.code)", sourceLocation: sourceLocation)
                            compared += 1
                        }
                        // The rules read straight off the model are slow: checked on the small models only.
                        guard sample == nil else { continue }
                        let expected = Rules.reference(model, login: login, component: component.code, menu: menu.code, at: now)
                        #expect(
                            patched.check(login: login, component: component.code, menu: menu.code, at: now).code == expected.code,
                            "\(step): \(login) \(component.code)/\(menu.code) against the rules", sourceLocation: sourceLocation)
                    }
                }
                #expect(
                    patched.sessionCandidates(login: login, at: now).map(\.serial) == rebuilt.sessionCandidates(login: login, at: now).map(\.serial),
                    "\(step): session candidates of \(login)", sourceLocation: sourceLocation)
                #expect(patched.knows(login) == rebuilt.knows(login), sourceLocation: sourceLocation)
                #expect(patched.isBuiltin(login) == rebuilt.isBuiltin(login), sourceLocation: sourceLocation)
                for key in model.keys {
                    #expect(
                        patched.isOverLimit(login: login, keySerial: key.serial) == rebuilt.isOverLimit(login: login, keySerial: key.serial),
                        "\(step): \(login) over the limit of \(key.serial)", sourceLocation: sourceLocation)
                }
            }
            let allocation = SeatRules.allocation(model)
            for key in model.keys where key.useType == .nominative {
                let rules: (held: Int, over: Int) = allocation[key.serial].map { (held: $0.within.count, over: $0.over.count) } ?? (0, 0)
                let counted = patched.seatCount(keySerial: key.serial)
                #expect(counted.held == rules.held && counted.over == rules.over, "\(step): seats on \(key.serial)", sourceLocation: sourceLocation)
            }
            return compared
        }

        @Test(arguments: [20_261_202, 7, 1_234_567, 99])
        func patchedSnapshotsAnswerAsRebuiltOnes(seed: UInt64) {
            var random = SeededGenerator(seed: seed)
            var compared = 0
            var kinds: Set<String> = []
            for _ in 0..<25 {
                var world = World(Rules.randomModel(&random))
                var patched = EntitlementSnapshot(world.model)
                for step in 0..<30 {
                    let (change, patch) = world.change(&random)
                    kinds.insert(String(change.prefix(while: { $0 != " " })))
                    patched = patched.applying(patch)
                    // Sessions come and go beside the changes, patched one by one as the registry does.
                    if let user = world.regularUsers.randomElement(using: &random), let key = world.model.keys.randomElement(using: &random) {
                        let session = AccessModel.Session(
                            id: "s\(step)", login: user.login, keySerial: key.serial, leaseExpiresAt: Self.now.addingTimeInterval(600))
                        world.model.sessions.append(session)
                        patched = patched.addingSession(session)
                    }
                    compared += Self.expectAgreement(patched, EntitlementSnapshot(world.model), world.model, "step \(step) (\(change))")
                }
            }
            #expect(compared > 10_000)
            #expect(kinds.isSuperset(of: ["toggle", "create", "add", "remove", "edit", "delete", "keys", "again"]), "\(kinds)")
        }

        /// A ranking of 5,000 on a key of 4,000: users moved one at a time, and many at once, around the limit.
        @Test func seatsFollowTheRankingAroundTheLimit() {
            let users = (0..<5_000).map { AccessModel.User(login: "u\($0)") }
            let members = users.enumerated().map { AccessModel.Member(login: $0.element.login, order: Int64($0.offset + 1)) }
            let key = AccessModel.Key(
                serial: "KW-1", profile: .manager, useType: .nominative, users: 4_000, components: ["DOC"],
                validFrom: Self.now.addingTimeInterval(-60),
                expiresAt: nil)
            var world = World(
                AccessModel(
                    users: users, groups: [AccessModel.Group(idNumber: "G", keySerial: "KW-1", component: "DOC", menus: ["DC021"], members: members)],
                    keys: [key], catalog: Rules.catalog))
            var patched = EntitlementSnapshot(world.model)
            #expect(patched.seatCount(keySerial: "KW-1") == (held: 4_000, over: 1_000))
            // The oldest holder is disabled: the first user beyond the limit takes the seat.
            world.model.users[0].active = false
            patched = patched.applying(AccessPatch(users: ["u0": world.row("u0")]))
            #expect(patched.check(login: "u4000", component: "DOC", menu: "DC021", at: Self.now).allowed)
            #expect(!patched.check(login: "u4001", component: "DOC", menu: "DC021", at: Self.now).allowed)
            // Re-enabled, they take it back.
            world.model.users[0].active = true
            patched = patched.applying(AccessPatch(users: ["u0": world.row("u0")]))
            #expect(!patched.check(login: "u4000", component: "DOC", menu: "DC021", at: Self.now).allowed)
            #expect(patched.check(login: "u0", component: "DOC", menu: "DC021", at: Self.now).allowed)
            // 100 holders disabled at once, then the key renewed for 4,050 users.
            var patch = AccessPatch()
            for index in stride(from: 0, to: 1_000, by: 10) {
                world.model.users[index].active = false
                patch.users["u\(index)"] = .some(world.row("u\(index)"))
            }
            patched = patched.applying(patch)
            world.model.keys[0].users = 4_050
            patched = patched.applying(AccessPatch(keys: world.model.keys))
            let sample = (0..<60).map { "u\($0)" } + (3_950..<4_120).map { "u\($0)" } + ["u4999", "nobody"]
            #expect(Self.expectAgreement(patched, EntitlementSnapshot(world.model), world.model, "after the renewal", logins: sample) > 1_000)
            #expect(patched.seatCount(keySerial: "KW-1") == (held: 4_050, over: 850))
        }

        /// 20,000 users created one patch at a time, as a directory provisions them, then half of them removed from their
        /// group and a few disabled: the snapshot's tables grow (and regroup their shards) as they go, and every user
        /// answers as in a snapshot compiled at once.
        @Test func aSnapshotGrownOneUserAtATimeAnswersAsOneCompiledAtOnce() {
            let key = AccessModel.Key(
                serial: "KW-1", profile: .manager, useType: .nominative, users: 15_000, components: ["DOC"],
                validFrom: Self.now.addingTimeInterval(-60), expiresAt: nil)
            var world = World(
                AccessModel(
                    users: [], groups: [AccessModel.Group(idNumber: "G", keySerial: "KW-1", component: "DOC", menus: ["DC021"], members: [])],
                    keys: [key], catalog: Rules.catalog))
            var patched = EntitlementSnapshot(world.model)
            for index in 0..<20_000 {
                let login = "dir\(index)"
                world.model.users.append(AccessModel.User(login: login))
                world.model.groups[0].members.append(AccessModel.Member(login: login, order: Int64(index + 1)))
                patched = patched.applying(
                    AccessPatch(
                        users: [login: .some(AccessPatch.UserRow(user: AccessModel.User(login: login), memberships: []))],
                        assignments: [AccessPatch.Pair(group: 1, login: login): .some(Int64(index + 1))]))
            }
            #expect(patched.seatCount(keySerial: "KW-1") == (held: 15_000, over: 5_000))
            var removed = AccessPatch()
            for index in stride(from: 0, to: 20_000, by: 2) {
                removed.assignments[AccessPatch.Pair(group: 1, login: "dir\(index)")] = .some(nil)
            }
            world.model.groups[0].members.removeAll { Int($0.login.dropFirst(3))! % 2 == 0 }
            patched = patched.applying(removed)
            for index in stride(from: 1, to: 20_000, by: 1_001) {
                world.model.users[index].active = false
                patched = patched.applying(AccessPatch(users: ["dir\(index)": world.row("dir\(index)")]))
            }
            let rebuilt = EntitlementSnapshot(world.model)
            var disagreements = 0
            for index in 0..<20_000 {
                let login = "dir\(index)"
                let a = patched.check(login: login, component: "DOC", menu: "DC021", at: Self.now)
                if a != rebuilt.check(login: login, component: "DOC", menu: "DC021", at: Self.now) || !patched.knows(login) { disagreements += 1 }
            }
            #expect(disagreements == 0)
            #expect(patched.check(login: "dir1", component: "DOC", menu: "DC021", at: Self.now).code == .userDisabled)
            #expect(patched.check(login: "dir3", component: "DOC", menu: "DC021", at: Self.now).allowed)
            #expect(patched.check(login: "dir2", component: "DOC", menu: "DC021", at: Self.now).code == .noAccess)
            #expect(!patched.knows("dir20000"))
        }
    }
}
