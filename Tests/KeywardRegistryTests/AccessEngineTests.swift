import Foundation
import KeywardDomain
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Testing

extension RegistryTests {
    /// The access engine end to end: every change the registry makes patches its snapshot from what the change touched,
    /// and the patched snapshot answers exactly as one rebuilt from the whole store.
    @Suite struct AccessEngineTests {
        static let menus: [(component: String, menu: String)] = [
            ("DOC", "DC021"), ("DOC", "DC022"), ("DOC", "DC024"), ("WF", "WF001"), ("WF", "WF002"), ("CFG", "CM009"),
        ]

        /// The snapshot a full rebuild from the store makes now.
        static func rebuilt(_ registry: Registry) async throws -> EntitlementSnapshot {
            let certificate = try await registry.store.activation()?.certificate
            return EntitlementSnapshot(
                try await registry.store.accessModel(
                    catalog: registry.catalog, covered: Set(certificate?.serials ?? []),
                    coveredUntil: certificate?.expiresAt.flatMap(Timestamp.parse), now: registry.now()))
        }

        /// Every check, session choice and seat of `logins` on `serials`, as the registry's snapshot and a rebuilt one answer.
        static func expectAgreement(_ registry: Registry, logins: [String], serials: [String], step: String) async throws -> Int {
            let patched = registry.access.snapshot
            let rebuilt = try await rebuilt(registry)
            let now = registry.now()
            var compared = 0
            for login in logins {
                for (component, menu) in menus {
                    let a = patched.check(login: login, component: component, menu: menu, at: now)
                    let b = rebuilt.check(login: login, component: component, menu: menu, at: now)
                    #expect(a == b, "\(step): \(login) \(component)/\(menu)")
                    compared += 1
                }
                #expect(
                    patched.sessionCandidates(login: login, at: now).map(\.serial) == rebuilt.sessionCandidates(login: login, at: now).map(\.serial),
                    "\(step): session candidates of \(login)")
                for serial in serials {
                    #expect(
                        patched.isOverLimit(login: login, keySerial: serial) == rebuilt.isOverLimit(login: login, keySerial: serial),
                        "\(step): \(login) over the limit of \(serial)")
                }
            }
            for serial in serials {
                #expect(patched.seatCount(keySerial: serial) == rebuilt.seatCount(keySerial: serial), "\(step): seats on \(serial)")
            }
            return compared
        }

        @Test(arguments: Backend.services)
        func randomChangesPatchTheSnapshotAsARebuildWouldMakeIt(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let registry = harness.registry
                var random = SeededGenerator(seed: 20_261_202)
                var logins = (0..<14).map { "user\($0)" }
                for login in logins {
                    _ = try await registry.createUser(UserInput(login: login, name: login, email: "\(login)@acme.test"), actor: "test")
                }
                var serials: [String] = []
                for (users, useType) in [(3, UseType.nominative), (5, .nominative), (2, .floating), (8, .nominative)] {
                    let key = try await registry.register(
                        idNumber: "K\(serials.count)",
                        accessKey: harness.accessKey(users: users, useType: useType, components: ["DOC", "WF", "CFG"]),
                        actor: "test")
                    serials.append(key.serial)
                }
                try await registry.install(harness.certificate(serials: serials), method: .offline, actor: "test")
                var groups: [String] = []
                var sessions: [String] = []
                var outcomes: [String: Int] = [:]
                var compared = 0
                for step in 0..<70 {
                    let kind = Int.random(in: 0..<11, using: &random)
                    let name: String
                    do {
                        switch kind {
                        case 0:
                            let login = logins.randomElement(using: &random)!
                            let user = try #require(try await registry.store.user(login))
                            name = "toggle \(login)"
                            _ = try await registry.updateUser(login, name: nil, email: nil, password: nil, active: !user.active, actor: "test")
                        case 1:
                            let login = "late\(step)"
                            name = "create \(login)"
                            logins.append(login)
                            _ = try await registry.createUser(UserInput(login: login, name: login, email: "\(login)@acme.test"), actor: "test")
                        case 2, 3:
                            guard let group = groups.randomElement(using: &random) else { fallthrough }
                            let chosen = logins.filter { _ in Int.random(in: 0..<3, using: &random) == 0 }
                            name = "add \(chosen.count) to \(group)"
                            _ = try await registry.changeMembers(group, add: true, logins: chosen.isEmpty ? [logins[0]] : chosen, actor: "test")
                        case 4:
                            let idNumber = "G\(step)"
                            let members = logins.filter { _ in Bool.random(using: &random) }
                            name = "create \(idNumber) with \(members.count)"
                            let component = ["DOC", "WF"].randomElement(using: &random)!
                            _ = try await registry.createGroup(
                                AccessGroupInput(
                                    idNumber: idNumber, name: idNumber, keySerial: serials.randomElement(using: &random)!, component: component,
                                    menus: component == "DOC" ? ["DC021", "DC022"] : ["WF001"], users: members), actor: "test")
                            groups.append(idNumber)
                        case 5:
                            guard let group = groups.randomElement(using: &random), let record = try await registry.store.group(group) else {
                                fallthrough
                            }
                            let chosen = record.users.filter { _ in Bool.random(using: &random) }
                            guard !chosen.isEmpty else { fallthrough }
                            name = "remove \(chosen.count) from \(group)"
                            _ = try await registry.changeMembers(group, add: false, logins: chosen, actor: "test")
                        case 6:
                            guard let index = groups.indices.randomElement(using: &random), let record = try await registry.store.group(groups[index])
                            else { fallthrough }
                            let renamed = Bool.random(using: &random) ? "R\(step)" : record.idNumber
                            name = "edit \(record.idNumber) as \(renamed)"
                            _ = try await registry.updateGroup(
                                record.idNumber,
                                AccessGroupInput(
                                    idNumber: renamed, name: record.name,
                                    keySerial: Bool.random(using: &random) ? serials.randomElement(using: &random)! : record.keySerial,
                                    component: record.component, menus: record.menus, active: Bool.random(using: &random)), actor: "test")
                            groups[index] = renamed
                        case 7:
                            guard let index = groups.indices.randomElement(using: &random) else { fallthrough }
                            name = "delete \(groups[index])"
                            try await registry.deleteGroup(groups[index], actor: "test")
                            groups.remove(at: index)
                        case 8:
                            let login = logins.randomElement(using: &random)!
                            name = "open a session for \(login)"
                            sessions.append(try await registry.openSession(login: login, ip: nil, actor: "test").id)
                        case 9:
                            guard let index = sessions.indices.randomElement(using: &random) else { fallthrough }
                            name = "end a session"
                            _ = try await registry.endSession(sessions.remove(at: index), reason: .logout, actor: "test")
                        default:
                            // A new key, or the vendor revoking one through a signed certificate; then an activation.
                            harness.clock.advance(by: 1)
                            if Bool.random(using: &random) {
                                name = "register and activate a key"
                                let key = try await registry.register(
                                    idNumber: "K\(step)", accessKey: harness.accessKey(users: Int.random(in: 1...4, using: &random)), actor: "test")
                                serials.append(key.serial)
                                try await registry.install(harness.certificate(serials: serials), method: .offline, actor: "test")
                            } else {
                                let revoked = serials.randomElement(using: &random)!
                                name = "revoke \(revoked)"
                                let certificate = ActivationCertificate(
                                    installationId: "inst-test-1", organization: Organization(id: "acme", legalName: "ACME"),
                                    environment: registry.installation.environment, serials: serials.filter { $0 != revoked },
                                    issuedAt: harness.clock.now,
                                    revoked: [FeedEnvelope.Revoked(serial: revoked, revokedAt: harness.clock.now, reason: "test")])
                                try await registry.install(certificate.signed(with: harness.signingKey), method: .offline, force: true, actor: "test")
                            }
                        }
                        outcomes["done", default: 0] += 1
                    } catch {
                        // Refusals (a seat limit hit, a revoked key, no access) write nothing; the snapshot must agree still.
                        let code = (error as? RegistryError)?.code ?? (error as? StoreError)?.code
                        outcomes[try #require(code, "\(error)"), default: 0] += 1
                        compared += try await Self.expectAgreement(registry, logins: logins, serials: serials, step: "step \(step) (refused \(kind))")
                        continue
                    }
                    compared += try await Self.expectAgreement(registry, logins: logins, serials: serials, step: "step \(step) (\(name))")
                }
                #expect(outcomes["done", default: 0] > 35, "\(outcomes)")
                #expect(compared > 5_000)
            }
        }

        @Test(arguments: Backend.services)
        func aChangeReadsOnlyWhatItTouched(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let registry = harness.registry
                for number in 0..<30 {
                    _ = try await registry.createUser(UserInput(login: "u\(number)", name: "U", email: "u\(number)@acme.test"), actor: "test")
                }
                let key = try await harness.registerAndActivate(harness.accessKey(users: 25), idNumber: "Main")
                _ = try await registry.createGroup(
                    AccessGroupInput(
                        idNumber: "Docs", name: "Docs", keySerial: key.serial, component: "DOC", menus: ["DC021"], users: (0..<25).map { "u\($0)" }),
                    actor: "test")
                let patch = try await registry.store.accessPatch(for: .assignments(["u25", "U3"], group: "Docs"), covered: [], coveredUntil: nil)
                #expect(patch.users.isEmpty && patch.groups.isEmpty && patch.keys == nil)
                #expect(Set(patch.assignments.keys.map(\.login)) == ["u25", "u3"])
                #expect(patch.assignments.values.filter { $0 != nil }.count == 1, "u3 is in Docs, u25 is not")
                // Every seat is taken: u25 gets one when u0 leaves.
                await #expect(throws: StoreError.self) { try await registry.changeMembers("Docs", add: true, logins: ["u25"], actor: "test") }
                _ = try await registry.changeMembers("Docs", add: false, logins: ["u0"], actor: "test")
                #expect(!registry.access.snapshot.check(login: "u0", component: "DOC", menu: "DC021", at: registry.now()).allowed)
                _ = try await registry.changeMembers("Docs", add: true, logins: ["u25"], actor: "test")
                #expect(registry.access.snapshot.check(login: "u25", component: "DOC", menu: "DC021", at: registry.now()).allowed)
                #expect(registry.access.snapshot.seatCount(keySerial: key.serial) == (held: 25, over: 0))
                _ = try await Self.expectAgreement(registry, logins: (0..<30).map { "u\($0)" }, serials: [key.serial], step: "after the moves")
            }
        }

        @Test(arguments: Backend.services)
        func aSynchronizationThatAddsKeysTakesACatalogAndActivatesRebuildsOnce(backend: Backend) async throws {
            var next = try Catalog.shipped()
            next.version += "-next"
            let catalog = next
            try await SynchronizationTests.withAuthority(catalog: catalog) { authority, url, token in
                for _ in 0..<3 { _ = try await authority.issue(SynchronizationTests.spec, organizationId: "acme", actor: "test") }
                try await RegistryHarness.run(
                    backend, authority: AuthorityClient(baseURL: url, token: token, http: .forTests), trusting: authority.keyring.publicKeys
                ) { harness in
                    harness.clock.set(Date())
                    let before = harness.registry.access.rebuilds
                    let run = try await Synchronizer(registry: harness.registry, autoActivate: true).run(trigger: .manual, actor: "user:admin")
                    #expect(run.outcome == .succeeded && run.added == 3)
                    #expect(harness.registry.catalog.version == catalog.version)
                    #expect(try await harness.registry.activationState().status == .active)
                    #expect(harness.registry.access.rebuilds - before == 1, "one rebuild for the keys and the catalog; the activation patches")
                    _ = try await Self.expectAgreement(
                        harness.registry, logins: ["admin", "nobody"], serials: try await harness.store.keys().map(\.serial),
                        step: "after the synchronization")
                }
            }
        }

        /// Waits up to 10 s for `condition`, checking every 10 ms.
        static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                if try await condition() { return true }
                try await Task.sleep(for: .milliseconds(10))
            }
            return false
        }

        /// Two instances on one PostgreSQL database, the second with its listener and no poll at all: every kind of change
        /// made on the first reaches it through `LISTEN`, patched in as the first patched it; and after its listening
        /// connection is killed, it listens again and rebuilds for what it missed meanwhile.
        @Test(arguments: Backend.available.filter { $0 == .postgres })
        func anotherInstanceHearsEveryChangeThroughListenWithThePollOff(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let registry = harness.registry
                let float = try await harness.registerAndActivate(
                    harness.accessKey(users: 5, useType: .floating, components: ["WF"]), idNumber: "Float")
                let other = try await AccessWatcherTests.secondInstance(harness)
                let listener = AccessListener(registry: other, retry: .milliseconds(50), logger: .init(label: "test"))
                try await withThrowingTaskGroup { group in
                    group.addTask { try await listener.run() }
                    #expect(try await Self.eventually { listener.connections == 1 })
                    func seen(_ login: String, _ code: EntitlementCode) async throws -> Bool {
                        try await Self.eventually {
                            other.access.snapshot.check(login: login, component: "WF", menu: "WF001", at: harness.clock.now).code == code
                        }
                    }
                    _ = try await registry.createUser(UserInput(login: "ann", name: "Ann", email: "ann@example.com"), actor: "test")
                    #expect(try await seen("ann", .noAccess), "a user created")
                    _ = try await registry.createGroup(
                        AccessGroupInput(idNumber: "G", name: "G", keySerial: float.serial, component: "WF", menus: ["WF001"], users: ["ann"]),
                        actor: "test")
                    #expect(try await seen("ann", .noSession), "a group created")
                    let session = try await registry.openSession(login: "ann", ip: nil, actor: "test")
                    #expect(try await seen("ann", .allowed), "a session opened")
                    _ = try await registry.endSession(session.id, reason: .logout, actor: "test")
                    #expect(try await seen("ann", .noSession), "a session ended")
                    _ = try await registry.updateUser("ann", name: nil, email: nil, password: nil, active: false, actor: "test")
                    #expect(try await seen("ann", .userDisabled), "a user disabled")
                    _ = try await registry.updateUser("ann", name: nil, email: nil, password: nil, active: true, actor: "test")
                    _ = try await registry.createUser(UserInput(login: "bob", name: "Bob", email: "bob@example.com"), actor: "test")
                    _ = try await registry.changeMembers("G", add: true, logins: ["bob"], actor: "test")
                    #expect(try await seen("bob", .noSession), "a user added to a group")
                    try await registry.deleteGroup("G", actor: "test")
                    #expect(try await seen("ann", .noAccess), "a group deleted")

                    // The listening connection dies (as when PostgreSQL restarts); a change made meanwhile is not heard...
                    // Only this test's database: the other tests running beside it keep their connections.
                    try await harness.store.database.read { sql in
                        try await sql.raw(
                            """
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                            WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid() AND datname = current_database()
                            """
                        ).run()
                    }
                    _ = try await registry.createUser(UserInput(login: "cyd", name: "Cyd", email: "cyd@example.com"), actor: "test")
                    // ...but listening again rebuilds, and the change is there.
                    #expect(try await Self.eventually { listener.connections >= 2 })
                    #expect(try await seen("cyd", .noAccess))
                    #expect(try await Self.eventually { other.access.snapshot.knows("cyd") })
                    group.cancelAll()
                }
                _ = try await Self.expectAgreement(other, logins: ["ann", "bob", "cyd"], serials: [float.serial], step: "on the other instance")
            }
        }

        /// The audit poll beside a listener: while the listener heard every change between two looks, the poll rebuilds
        /// nothing (a busy instance used to reload every table every 15 s for changes it had already patched in); once the
        /// listener stops, the poll rebuilds for what it did not hear.
        @Test(arguments: Backend.available.filter { $0 == .postgres })
        func thePollRebuildsOnlyWhatTheListenerDidNotHear(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let registry = harness.registry
                let other = try await AccessWatcherTests.secondInstance(harness)
                let listener = AccessListener(registry: other, retry: .milliseconds(50), logger: .init(label: "test"))
                let watcher = AccessWatcher(registry: other, listener: listener, logger: .init(label: "test"))
                let listening = Task { try await listener.run() }
                #expect(try await Self.eventually { listener.connections == 1 })
                #expect(try await watcher.poll() == "nothing", "the first look takes the mark")
                _ = try await registry.createUser(UserInput(login: "ann", name: "Ann", email: "ann@example.com"), actor: "test")
                #expect(try await Self.eventually { other.access.snapshot.knows("ann") }, "heard")
                let rebuilds = other.access.rebuilds
                #expect(try await watcher.poll() == "heard")
                #expect(other.access.rebuilds == rebuilds, "no rebuild for a change the listener heard")

                listening.cancel()
                #expect(try await Self.eventually { listener.heard == nil })
                _ = try await registry.createUser(UserInput(login: "bob", name: "Bob", email: "bob@example.com"), actor: "test")
                #expect(try await watcher.poll() == "full")
                #expect(other.access.snapshot.knows("bob"))
                #expect(other.access.rebuilds == rebuilds + 1)
            }
        }

        /// 150 heartbeats at once: committed in far fewer transactions, every acknowledged renewal stored and in the
        /// snapshot, and the one for an ended session refused on its own.
        @Test(arguments: Backend.services)
        func heartbeatsAreCommittedInGroupsAndNoAcknowledgedRenewalIsLost(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let registry = harness.registry
                let key = try await harness.registerAndActivate(
                    harness.accessKey(users: 300, useType: .floating, components: ["WF"]), idNumber: "Float")
                let logins = (0..<150).map { "u\($0)" }
                for login in logins {
                    _ = try await registry.createUser(UserInput(login: login, name: login, email: "\(login)@acme.test"), actor: "test")
                }
                _ = try await registry.createGroup(
                    AccessGroupInput(idNumber: "G", name: "G", keySerial: key.serial, component: "WF", menus: ["WF001"], users: logins), actor: "test"
                )
                var sessions: [String] = []
                for login in logins { sessions.append(try await registry.openSession(login: login, ip: nil, actor: "test").id) }
                _ = try await registry.endSession(sessions[0], reason: .logout, actor: "test")
                harness.clock.advance(by: 60)
                let before = registry.heartbeatCommits
                let answers = await withTaskGroup(of: (String, Result<Date, any Error>).self) { group in
                    for id in sessions {
                        group.addTask {
                            do { return (id, .success(try await registry.heartbeat(id).leaseExpiresAt)) } catch { return (id, .failure(error)) }
                        }
                    }
                    var answers: [String: Result<Date, any Error>] = [:]
                    for await (id, answer) in group { answers[id] = answer }
                    return answers
                }
                let commits = registry.heartbeatCommits - before
                #expect(commits >= 1 && commits < sessions.count, "\(commits) transactions for \(sessions.count) heartbeats")
                if case .failure(let error as StoreError)? = answers[sessions[0]] {
                    #expect(error.code == "SESSION_ENDED")
                } else {
                    Issue.record("the ended session's heartbeat was not refused: \(String(describing: answers[sessions[0]]))")
                }
                let renewed = harness.clock.now.addingTimeInterval(Registry.sessionLease)
                for id in sessions.dropFirst() {
                    #expect((try? answers[id]?.get()) == renewed, "\(id)")
                    #expect(try await registry.store.session(id)?.leaseExpiresAt == renewed, "stored")
                }
                // Past the first lease, within the renewed one: allowed only through the renewals patched in.
                let later = harness.clock.now.addingTimeInterval(Registry.sessionLease - 30)
                #expect(registry.access.snapshot.check(login: "u1", component: "WF", menu: "WF001", at: later).allowed)
                #expect(!registry.access.snapshot.check(login: "u0", component: "WF", menu: "WF001", at: later).allowed)
            }
        }
    }
}
