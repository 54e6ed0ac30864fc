import Foundation
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import Testing

extension RegistryTests {
    /// Seats under concurrent requests, on SQLite and PostgreSQL: never over-allocated.
    @Suite struct AccessConcurrencyTests {
        static func outcome(_ body: @escaping @Sendable () async throws -> Void) async -> String {
            do {
                try await body()
                return "ok"
            } catch let error as StoreError {
                return error.code
            } catch let error as RegistryError {
                return error.code
            } catch {
                return "\(error)"
            }
        }

        @Test(arguments: Backend.services)
        func fiftyRequestsForTheLastTenSeatsGiveExactlyTen(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 20, components: ["DOC"]), idNumber: "Docs")
                let logins = (0..<60).map { "user\($0)" }
                for login in logins {
                    _ = try await harness.registry.createUser(UserInput(login: login, name: login, email: "\(login)@example.com"), actor: "test")
                }
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(
                        idNumber: "First", name: "First", keySerial: key.serial, component: "DOC", menus: ["DC021"],
                        users: Array(logins.prefix(10))), actor: "test")
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(idNumber: "Second", name: "Second", keySerial: key.serial, component: "DOC", menus: ["DC022"]),
                    actor: "test")
                let registry = harness.registry
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for login in logins.dropFirst(10) {
                        group.addTask {
                            await Self.outcome {
                                _ = try await registry.changeMembers(
                                    login.hasSuffix("1") ? "First" : "Second", add: true, logins: [login], actor: "test")
                            }
                        }
                    }
                    return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
                }
                #expect(outcomes == ["ok": 10, "SEAT_LIMIT_EXCEEDED": 40])
                let holders = SeatRules.nominativeHolders(
                    try await harness.store.accessModel(catalog: harness.registry.catalog, covered: [key.serial], now: harness.clock.now))
                #expect(holders[key.serial]?.count == 20)
            }
        }

        @Test(arguments: Backend.services)
        func twoHundredLoginsOnAFloatingKeyOfTwentyFiveGiveExactlyTwentyFive(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let key = try await harness.registerAndActivate(
                    harness.accessKey(users: 25, useType: .floating, components: ["WF"]), idNumber: "Floating")
                let logins = (0..<200).map { "user\($0)" }
                for login in logins {
                    _ = try await harness.registry.createUser(UserInput(login: login, name: login, email: "\(login)@example.com"), actor: "test")
                }
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(
                        idNumber: "Everyone", name: "Everyone", keySerial: key.serial, component: "WF", menus: ["WF001"],
                        users: logins), actor: "test")
                let registry = harness.registry
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for login in logins {
                        group.addTask { await Self.outcome { _ = try await registry.openSession(login: login, ip: nil, actor: "test") } }
                    }
                    return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
                }
                #expect(outcomes == ["ok": 25, "NO_SEAT_AVAILABLE": 175])
                #expect(try await harness.store.sessions(open: true, limit: 1000, now: harness.clock.now).count == 25)
                // The snapshot agrees: exactly the 25 with a session may use the key.
                let snapshot = harness.registry.access.snapshot
                #expect(logins.filter { snapshot.check(login: $0, component: "WF", menu: "WF001", at: harness.clock.now).allowed }.count == 25)
            }
        }
    }
}

extension RegistryTests {
    /// Two registry instances on one PostgreSQL database: each sees the other's access changes.
    @Suite struct AccessWatcherTests {
        /// Another registry instance on the harness's database, with its snapshot built as `serve` builds it at start.
        static func secondInstance(_ harness: RegistryHarness) async throws -> Registry {
            let other = Registry(
                store: harness.store, installation: harness.registry.installation, trust: harness.registry.trust,
                catalog: harness.registry.catalog, connection: harness.registry.connection, now: { harness.clock.now })
            try await other.loadAccess()
            return other
        }

        /// With the floor of counted audit events kept (60 s) and moved at every look (0 s).
        @Test(arguments: Backend.available.filter { $0 == .postgres }, [60, 0])
        func anInstanceSeesAccessChangesMadeByAnother(backend: Backend, settleSeconds: Int) async throws {
            try await RegistryHarness.run(backend) { harness in
                let key = try await harness.registerAndActivate(
                    harness.accessKey(users: 5, useType: .floating, components: ["WF"]), idNumber: "Float")
                let other = try await Self.secondInstance(harness)
                let watcher = AccessWatcher(registry: other, settle: .seconds(settleSeconds), logger: .init(label: "test"))
                #expect(try await watcher.poll() == "nothing")

                _ = try await harness.registry.createUser(UserInput(login: "ann", name: "Ann", email: "ann@example.com"), actor: "test")
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(idNumber: "G", name: "G", keySerial: key.serial, component: "WF", menus: ["WF001"], users: ["ann"]),
                    actor: "test")
                #expect(
                    other.access.snapshot.check(login: "ann", component: "WF", menu: "WF001", at: harness.clock.now).code == .unknownUser,
                    "not seen yet")
                #expect(try await watcher.poll() == "full")
                #expect(other.access.snapshot.check(login: "ann", component: "WF", menu: "WF001", at: harness.clock.now).code == .noSession)

                _ = try await harness.registry.openSession(login: "ann", ip: nil, actor: "test")
                #expect(try await watcher.poll() == "sessions")
                #expect(other.access.snapshot.check(login: "ann", component: "WF", menu: "WF001", at: harness.clock.now).allowed)
                #expect(try await watcher.poll() == "nothing")

                // A password change is audited but changes no access: no rebuild.
                try await harness.store.setPassword("ann", hash: "x", actor: "test", now: harness.clock.now)
                #expect(try await watcher.poll() == "nothing")

                // A synchronization that brought a new catalog: the other instance rebuilds with it, not with its own.
                var catalog = harness.registry.catalog
                catalog.version += "-next"
                let index = try #require(catalog.components.firstIndex { $0.code == "WF" })
                catalog.components[index].menus.append(Catalog.Menu(code: "WF900", name: "New", profile: .staff))
                try await harness.store.saveSettings(
                    [.catalog: String(decoding: try JSONEncoder().encode(catalog), as: UTF8.self)],
                    actor: "synchronization", now: harness.clock.now)
                try await harness.registry.access.replaceCatalog(catalog)
                #expect(other.access.snapshot.check(login: "ann", component: "WF", menu: "WF900", at: harness.clock.now).code == .unknownMenu)
                #expect(try await watcher.poll() == "full")
                #expect(other.catalog == catalog)
                #expect(
                    other.access.snapshot.check(login: "ann", component: "WF", menu: "WF900", at: harness.clock.now).code == .noAccess,
                    "the new menu is known; ann's group does not grant it")
            }
        }

        /// An audit event's id is taken when it is written and seen when its transaction commits, so an event with a
        /// lower id can appear after one with a higher id. The watcher compared only the highest id, and missed such a
        /// late commit for good: the other instance kept answering without the change.
        @Test(arguments: Backend.available.filter { $0 == .postgres })
        func anInstanceSeesAChangeCommittedAfterALaterOne(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let other = try await Self.secondInstance(harness)
                let watcher = AccessWatcher(registry: other, logger: .init(label: "test"))
                #expect(try await watcher.poll() == "nothing")
                func known(_ login: String) -> Bool {
                    other.access.snapshot.check(login: login, component: "WF", menu: "WF001", at: harness.clock.now).code != .unknownUser
                }

                // "late" is written (its audit event takes its id) in a transaction that stays open...
                let (written, wroteLate) = AsyncStream<Void>.makeStream()
                let (release, commitLate) = AsyncStream<Void>.makeStream()
                let late = Task {
                    defer { wroteLate.finish() }  // a failed write ends the wait below instead of hanging the test
                    try await harness.store.database.write { sql in
                        try await sql.raw(
                            """
                            INSERT INTO registry_users (login_folded, login, name, email, active, builtin, created_at)
                            VALUES ('late', 'late', 'Late', 'late@example.com', TRUE, FALSE, 0)
                            """
                        ).run()
                        _ = try await AuditLog.append(
                            .init(actor: "test", action: "user.created", target: "user:late"), at: harness.clock.now, on: sql)
                        wroteLate.yield()
                        for await _ in release { break }
                    }
                }
                for await _ in written { break }
                // ...while "early" is written and committed after it, with a higher id, and seen.
                _ = try await harness.registry.createUser(UserInput(login: "early", name: "Early", email: "early@example.com"), actor: "test")
                #expect(try await watcher.poll() == "full")
                #expect(known("early") && !known("late"))

                commitLate.yield()
                try await late.value
                #expect(try await watcher.poll() == "full", "the event committed late is seen")
                #expect(known("late"))
                #expect(try await watcher.poll() == "nothing")
            }
        }
    }
}
