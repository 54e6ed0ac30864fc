import Foundation
import KeywardDomain
import KeywardTestSupport
import Testing

extension DomainTests {
    /// The compiled snapshot against the rules of DESIGN.md section 4, evaluated directly and slowly.
    @Suite struct EntitlementSnapshotTests {
        static let catalog = Catalog(
            version: "test",
            components: [
                .init(
                    code: "CFG", name: "Configuration",
                    menus: [
                        .init(code: "CM009", name: "License key", profile: .manager),
                        .init(code: "CM012", name: "Session", profile: .staff),
                    ]),
                .init(
                    code: "DOC", name: "Document",
                    menus: [
                        .init(code: "DC021", name: "Documents", profile: .view),
                        .init(code: "DC022", name: "Approve", profile: .basic),
                        .init(code: "DC023", name: "Templates", profile: .staff),
                        .init(code: "DC024", name: "Retention", profile: .manager),
                    ]),
                .init(
                    code: "WF", name: "Workflow",
                    menus: [
                        .init(code: "WF001", name: "Tasks", profile: .view),
                        .init(code: "WF002", name: "Designer", profile: .manager),
                    ]),
            ])
        static let now = Date(timeIntervalSince1970: 1_780_000_000)

        /// The rules, read straight off the model: for each active group listing the user and granting the menu, what
        /// stops it; the best reason wins.
        static func reference(_ model: AccessModel, login: String, component: String, menu: String, at now: Date) -> (
            allowed: Set<String>, code: EntitlementCode
        ) {
            guard let menuEntry = model.catalog.component(component)?.menus.first(where: { $0.code == menu }) else { return ([], .unknownMenu) }
            guard let user = model.users.first(where: { !$0.builtin && $0.login.lowercased() == login.lowercased() }) else {
                return ([], .unknownUser)
            }
            guard user.active else { return ([], .userDisabled) }
            let order: [EntitlementCode] = [.noAccess, .componentNotInKey, .profileTooLow, .keyNotActivated, .keyNotValid, .overLimit, .noSession]
            var allowed: Set<String> = []
            var best = EntitlementCode.noAccess
            for group in model.groups
            where group.active && group.component == component && group.menus.contains(menu)
                && group.members.contains(where: { $0.login.lowercased() == user.login.lowercased() })
            {
                guard let key = model.keys.first(where: { $0.serial == group.keySerial }) else { continue }
                var code: EntitlementCode
                if !key.components.contains(component) {
                    code = .componentNotInKey
                } else if !key.profile.includes(menuEntry.profile) {
                    code = .profileTooLow
                } else if !key.covered {
                    code = .keyNotActivated
                } else if !key.isValid(at: now) {
                    code = .keyNotValid
                } else if key.useType == .floating {
                    let open = model.sessions.contains {
                        $0.login.lowercased() == user.login.lowercased() && $0.keySerial == key.serial && $0.leaseExpiresAt > now
                    }
                    code = open ? .allowed : .noSession
                } else {
                    // Seat holders: active non-built-in users in any group on the key, ranked by their oldest assignment.
                    var oldest: [String: Int64] = [:]
                    for other in model.groups where other.keySerial == key.serial {
                        for member in other.members {
                            let login = member.login.lowercased()
                            guard let holder = model.users.first(where: { $0.login.lowercased() == login }), holder.active, !holder.builtin else {
                                continue
                            }
                            oldest[login] = min(oldest[login] ?? .max, member.order)
                        }
                    }
                    let ranked = oldest.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
                    code = ranked.prefix(key.users).contains(user.login.lowercased()) ? .allowed : .overLimit
                }
                if code == .allowed {
                    allowed.insert(key.serial)
                    continue
                }
                let rank = { (c: EntitlementCode) in c == .noSession ? order.firstIndex(of: .overLimit)! : order.firstIndex(of: c)! }
                if rank(code) > rank(best) { best = code }
            }
            return (allowed, allowed.isEmpty ? best : .allowed)
        }

        static func randomModel(_ random: inout SeededGenerator) -> AccessModel {
            let users = (0..<Int.random(in: 1...12, using: &random)).map { index in
                AccessModel.User(
                    login: index % 3 == 0 ? "User\(index)" : "user\(index)", active: Int.random(in: 0..<5, using: &random) > 0,
                    builtin: index == 0 && Bool.random(using: &random))
            }
            let components = ["CFG", "DOC", "WF"]
            let keys = (0..<Int.random(in: 1...4, using: &random)).map { index in
                AccessModel.Key(
                    serial: "KW-\(index)", profile: Profile.allCases.randomElement(using: &random)!,
                    useType: Bool.random(using: &random) ? .floating : .nominative,
                    users: Int.random(in: 1...4, using: &random), components: components.filter { _ in Int.random(in: 0..<4, using: &random) > 0 },
                    validFrom: now.addingTimeInterval(Int.random(in: 0..<8, using: &random) == 0 ? 3600 : -86_400),
                    expiresAt: Int.random(in: 0..<8, using: &random) == 0 ? now.addingTimeInterval(-1) : now.addingTimeInterval(86_400),
                    revoked: Int.random(in: 0..<10, using: &random) == 0, covered: Int.random(in: 0..<6, using: &random) > 0)
            }
            var order: Int64 = 0
            let groups = (0..<Int.random(in: 0...6, using: &random)).map { index -> AccessModel.Group in
                let component = components.randomElement(using: &random)!
                let menus = catalog.component(component)!.menus.map(\.code).filter { _ in Bool.random(using: &random) }
                let members = users.filter { _ in Int.random(in: 0..<3, using: &random) == 0 }.map { user -> AccessModel.Member in
                    order += Int64.random(in: 1...3, using: &random)
                    return AccessModel.Member(login: Bool.random(using: &random) ? user.login.uppercased() : user.login, order: order)
                }
                return AccessModel.Group(
                    idNumber: "G\(index)", keySerial: keys.randomElement(using: &random)!.serial, component: component, menus: menus,
                    active: Int.random(in: 0..<5, using: &random) > 0, members: members)
            }
            let sessions = users.compactMap { user -> AccessModel.Session? in
                guard Bool.random(using: &random), let key = keys.randomElement(using: &random) else { return nil }
                return AccessModel.Session(
                    id: UUID().uuidString, login: user.login, keySerial: key.serial,
                    leaseExpiresAt: now.addingTimeInterval(Bool.random(using: &random) ? 600 : -1))
            }
            return AccessModel(users: users, groups: groups, keys: keys, sessions: sessions, catalog: catalog)
        }

        @Test func theSnapshotAgreesWithTheRulesOnRandomModels() {
            var random = SeededGenerator(seed: 20_261_129)
            var allowedSeen = 0
            var refusals: Set<EntitlementCode> = []
            for round in 0..<400 {
                var model = Self.randomModel(&random)
                for index in model.groups.indices { model.groups[index].id = Int64(index + 1) }
                // Every other round patches a snapshot of the same users with other groups, as an access change does.
                var earlier = model
                earlier.groups = Array(earlier.groups.reversed().dropFirst())
                let patch = AccessPatch(groups: Dictionary(uniqueKeysWithValues: model.groups.map { (IDNumber.folded($0.idNumber), .some($0)) }))
                let snapshot = round % 2 == 0 ? EntitlementSnapshot(model) : EntitlementSnapshot(earlier).applying(patch)
                let logins = model.users.map(\.login) + ["nobody", model.users[0].login.uppercased()]
                for login in logins {
                    for component in ["CFG", "DOC", "WF"] {
                        for menu in ["CM009", "CM012", "DC021", "DC022", "DC023", "DC024", "WF001", "WF002"] {
                            let expected = Self.reference(model, login: login, component: component, menu: menu, at: Self.now)
                            let answer = snapshot.check(login: login, component: component, menu: menu, at: Self.now)
                            #expect(answer.code == expected.code, "round \(round): \(login) \(component)/\(menu)")
                            #expect(answer.allowed == (expected.code == .allowed))
                            if answer.allowed {
                                allowedSeen += 1
                                #expect(expected.allowed.contains(answer.keySerial ?? ""), "round \(round): the key named grants it")
                            } else {
                                refusals.insert(answer.code)
                            }
                        }
                    }
                }
            }
            // The random models reach every outcome, so the comparison covers every rule.
            #expect(allowedSeen > 100)
            #expect(
                refusals.isSuperset(of: [
                    .unknownMenu, .unknownUser, .userDisabled, .noAccess, .componentNotInKey, .profileTooLow,
                    .keyNotActivated, .keyNotValid, .overLimit, .noSession,
                ]), "\(refusals)")
        }

        @Test func addingSessionsOneByOneAnswersAsReloadingThemAll() {
            var random = SeededGenerator(seed: 20_261_130)
            for round in 0..<200 {
                var model = Self.randomModel(&random)
                let all = model.sessions
                // A few renewals: the same session again with a later lease, as a heartbeat sends it.
                let renewals = all.filter { _ in Bool.random(using: &random) }.map { session in
                    var renewed = session
                    renewed.leaseExpiresAt = Self.now.addingTimeInterval(1200)
                    return renewed
                }
                model.sessions = []
                var patched = EntitlementSnapshot(model)
                for session in all + renewals { patched = patched.addingSession(session) }
                model.sessions = all + renewals
                let reloaded = EntitlementSnapshot(model)
                for login in model.users.map(\.login) {
                    for (component, menu) in [("CFG", "CM009"), ("DOC", "DC021"), ("DOC", "DC024"), ("WF", "WF001")] {
                        for offset: TimeInterval in [0, 900] {
                            let time = Self.now.addingTimeInterval(offset)
                            #expect(
                                patched.check(login: login, component: component, menu: menu, at: time)
                                    == reloaded.check(login: login, component: component, menu: menu, at: time),
                                "round \(round): \(login) \(component)/\(menu) at +\(offset) s")
                        }
                    }
                }
            }
        }

        @Test func oldestAssignmentsKeepTheirSeatsAndDisabledUsersHoldNone() {
            let key = AccessModel.Key(
                serial: "KW-N", profile: .staff, useType: .nominative, users: 2, components: ["DOC"], validFrom: Self.now.addingTimeInterval(-10),
                expiresAt: nil)
            var model = AccessModel(
                users: ["ann", "bob", "cyd"].map { AccessModel.User(login: $0) },
                groups: [
                    AccessModel.Group(
                        idNumber: "G", keySerial: "KW-N", component: "DOC", menus: ["DC021"],
                        members: [.init(login: "cyd", order: 3), .init(login: "ann", order: 1), .init(login: "bob", order: 2)]),
                    AccessModel.Group(idNumber: "H", keySerial: "KW-N", component: "DOC", menus: ["DC022"], members: [.init(login: "ann", order: 9)]),
                ],
                keys: [key], catalog: Self.catalog)
            #expect(SeatRules.allocation(model)["KW-N"]?.within == ["ann", "bob"], "one seat per user, however many groups")
            #expect(SeatRules.allocation(model)["KW-N"]?.over == ["cyd"])
            #expect(EntitlementSnapshot(model).check(login: "cyd", component: "DOC", menu: "DC021", at: Self.now).code == .overLimit)
            model.users[1].active = false
            #expect(SeatRules.allocation(model)["KW-N"]?.within == ["ann", "cyd"], "a disabled user's seat goes to the next")
            #expect(EntitlementSnapshot(model).check(login: "CYD", component: "DOC", menu: "DC021", at: Self.now).allowed)
            #expect(EntitlementSnapshot(model).entitlements(login: "ann", at: Self.now) == ["DOC": ["DC021", "DC022"]])
        }

        @Test func aFloatingSeatLastsAsLongAsItsLease() {
            let key = AccessModel.Key(
                serial: "KW-F", profile: .manager, useType: .floating, users: 1, components: ["WF"], validFrom: Self.now.addingTimeInterval(-10),
                expiresAt: nil)
            let model = AccessModel(
                users: [AccessModel.User(login: "ann")],
                groups: [
                    AccessModel.Group(idNumber: "G", keySerial: "KW-F", component: "WF", menus: ["WF002"], members: [.init(login: "ann", order: 1)])
                ],
                keys: [key], catalog: Self.catalog)
            let snapshot = EntitlementSnapshot(model)
            #expect(snapshot.check(login: "ann", component: "WF", menu: "WF002", at: Self.now).code == .noSession)
            let open = snapshot.replacingSessions([
                AccessModel.Session(id: "s", login: "ann", keySerial: "KW-F", leaseExpiresAt: Self.now.addingTimeInterval(900))
            ])
            #expect(
                open.check(login: "ann", component: "WF", menu: "WF002", at: Self.now)
                    == EntitlementDecision(code: .allowed, keySerial: "KW-F", profile: .manager))
            #expect(
                open.check(login: "ann", component: "WF", menu: "WF002", at: Self.now.addingTimeInterval(901)).code == .noSession,
                "an expired lease grants nothing")
            #expect(open.check(login: "ann", component: "WF", menu: "DC021", at: Self.now).code == .unknownMenu, "a menu of another component")
        }
    }
}
