import Benchmark
import Foundation
import KeywardDomain

/// The entitlement check (DESIGN.md section 9: under 200 ns median with 100k users, 1k groups, 50 keys) and the
/// snapshot's compilation after a change (under 50 ms at that size).
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

    // One change, as the registry rebuilds after it: a group gains a user; the user table is reused.
    var changed = AccessFixture.model
    changed.groups[0].members.append(AccessModel.Member(login: "user99999", order: 1_000_000))
    let changedModel = changed
    Benchmark("Snapshot rebuild after one change", configuration: .init(maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(EntitlementSnapshot(changedModel, previous: snapshot))
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
