import Benchmark
import Foundation
import KeywardDomain

/// The entitlement check (DESIGN.md section 9: under 200 ns median with 100k users, 1k groups, 50 keys), the
/// snapshot's compilation at start (under 50 ms at that size) and its patch after one change (under 1 ms).
enum AccessFixture {
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static let components = ["DOC", "WF", "AUD", "RSK", "TRN", "PRJ", "MNT", "CFG"]

    static let catalog = Catalog(
        version: "bench",
        components: components.map { code in
            Catalog.Component(
                code: code, name: code,
                menus: (0..<6).map { index in
                    Catalog.Menu(code: "\(code)\(String(format: "%03d", index))", name: "Menu \(index)", profile: Profile.allCases[index % 4])
                })
        })

    /// 100,000 users, 50 keys (35 nominative, 15 floating), 1,000 groups of about 150 users each (every user in one
    /// or two groups), sessions for a third of the floating users.
    static let model: AccessModel = {
        var random = SystemRandomNumberGenerator()
        let users = (0..<100_000).map { AccessModel.User(login: "user\($0)", active: $0 % 50 != 0) }
        let keys = (0..<50).map { index in
            AccessModel.Key(
                serial: "KW-BENCH-\(index)", profile: index % 5 == 0 ? .staff : .manager, useType: index < 35 ? .nominative : .floating,
                users: index < 35 ? 4_000 : 500, components: components, validFrom: now.addingTimeInterval(-86_400),
                expiresAt: now.addingTimeInterval(86_400 * 30))
        }
        var order: Int64 = 0
        let groups = (0..<1_000).map { index -> AccessModel.Group in
            let component = components[index % components.count]
            let members = (0..<150).map { offset -> AccessModel.Member in
                order += 1
                return AccessModel.Member(login: "user\((index * 100 + offset * 7) % 100_000)", order: order)
            }
            return AccessModel.Group(
                idNumber: "G\(index)", keySerial: keys[index % 50].serial, component: component,
                menus: (0..<4).map { "\(component)\(String(format: "%03d", $0))" }, members: members)
        }
        let sessions = groups.filter { Int($0.keySerial.split(separator: "-").last!)! >= 35 }.flatMap { group in
            group.members.prefix(50).map {
                AccessModel.Session(id: UUID().uuidString, login: $0.login, keySerial: group.keySerial, leaseExpiresAt: now.addingTimeInterval(600))
            }
        }
        _ = random.next()
        return AccessModel(users: users, groups: groups, keys: keys, sessions: sessions, catalog: catalog)
    }()

    /// Checks spread over users, components and menus: allowed and refused answers alike.
    static let checks: [(login: String, component: String, menu: String)] = (0..<1000).map { index in
        let component = components[index % components.count]
        return ("user\((index * 7919) % 100_000)", component, "\(component)\(String(format: "%03d", index % 6))")
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal], warmupIterations: 3, maxDuration: .seconds(5), maxIterations: 10_000)

    let snapshot = EntitlementSnapshot(AccessFixture.model)

    Benchmark("Entitlement check", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let now = AccessFixture.now
        for _ in benchmark.scaledIterations {
            for check in AccessFixture.checks {
                blackHole(snapshot.check(login: check.login, component: check.component, menu: check.menu, at: now))
            }
        }
    }

    Benchmark("Snapshot compile (100k users, 1k groups, 50 keys)", configuration: .init(maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(EntitlementSnapshot(AccessFixture.model))
        }
    }

    // One change, as the registry patches the snapshot after it (issue 17's budget: under 1 ms for a one-user
    // change). The fixture's groups have ids 1...1000 (their position, as `EntitlementSnapshot(_:)` gives them).
    let added = AccessPatch(assignments: [AccessPatch.Pair(group: 1, login: "user99999"): .some(1_000_000)])
    Benchmark("Snapshot patch: one user added to a group", configuration: .init(maxIterations: 2_000)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(snapshot.applying(added))
        }
    }

    let login = AccessFixture.model.groups[0].members[0].login
    let memberships = AccessFixture.model.groups.enumerated().flatMap { position, group in
        group.members.filter { $0.login == login }.map { AccessPatch.Assignment(group: Int64(position + 1), order: $0.order) }
    }
    let disabled = AccessPatch(users: [
        login: .some(AccessPatch.UserRow(user: AccessModel.User(login: login, active: false), memberships: memberships))
    ])
    Benchmark("Snapshot patch: one user disabled", configuration: .init(maxIterations: 2_000)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(snapshot.applying(disabled))
        }
    }

    var group = AccessFixture.model.groups[1]
    group.id = 5_000
    group.idNumber = "NEW"
    group.members = group.members.map { AccessModel.Member(login: $0.login, order: $0.order + 1_000_000) }
    let created = AccessPatch(groups: ["new": .some(group)])
    Benchmark("Snapshot patch: a group of 150 created", configuration: .init(maxIterations: 500)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(snapshot.applying(created))
        }
    }

    Benchmark("Sessions swap", configuration: .init(maxIterations: 200)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(snapshot.replacingSessions(AccessFixture.model.sessions))
        }
    }

    // What a login or heartbeat (addingSession) and a logout (settingSessionLease) do to the snapshot in force, with
    // the fixture's 15,000 sessions open.
    let session = AccessFixture.model.sessions[AccessFixture.model.sessions.count / 2]
    Benchmark("Session patch: login or heartbeat", configuration: .init(maxIterations: 2_000)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(snapshot.addingSession(session))
        }
    }

    Benchmark("Session patch: logout", configuration: .init(maxIterations: 2_000)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(snapshot.settingSessionLease(login: session.login, keySerial: session.keySerial, to: nil))
        }
    }
}
