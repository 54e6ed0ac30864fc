import Foundation
import KeywardDomain
import KeywardLDAP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import NIOConcurrencyHelpers
import Testing

@testable import KeywardRegistryHTTP

/// An LDAP client in front of the real one that can stop slapd (SIGSTOP) once a number of pages have been read, so
/// the search asking for the next page times out, or hold a search until told to go on.
final class SteeredLDAP: LDAPDirectory, @unchecked Sendable {
    let real = OpenLDAPDirectory()
    /// Pages read so far, after how many to stop the server, and its process.
    let state = NIOLockedValueBox<(pages: Int, stopAfter: Int?, process: Int32?)>((0, nil, nil))
    let gate = NIOLockedValueBox<CheckedContinuation<Void, Never>?>(nil)
    let entered = NIOLockedValueBox<CheckedContinuation<Void, Never>?>(nil)
    let holding = NIOLockedValueBox(false)

    func search(
        _ settings: LDAPConnectionSettings, base: String, filter: String, attributes: [String], pageSize: Int,
        page: @escaping @Sendable ([LDAPEntry]) -> Void
    ) async throws(LDAPFailure) {
        if holding.withLockedValue({ $0 }) {
            await withCheckedContinuation { continuation in
                gate.withLockedValue { $0 = continuation }
                entered.withLockedValue { $0 }?.resume()
            }
        }
        let state = self.state
        try await real.search(settings, base: base, filter: filter, attributes: attributes, pageSize: pageSize) { entries in
            page(entries)
            let stop = state.withLockedValue { state -> Int32? in
                state.pages += 1
                return state.stopAfter == state.pages ? state.process : nil
            }
            if let stop { kill(stop, SIGSTOP) }
        }
    }

    func bind(_ settings: LDAPConnectionSettings) async throws(LDAPFailure) { try await real.bind(settings) }

    /// Waits until a search is held, then lets `body` run before it goes on.
    func whileHeld(_ body: () async throws -> Void) async throws {
        await withCheckedContinuation { continuation in entered.withLockedValue { $0 = continuation } }
        try await body()
        holding.withLockedValue { $0 = false }
        gate.withLockedValue { $0 }?.resume()
    }
}

extension RegistryTests {
    /// The LDAP synchronization against a real slapd: users, groups and memberships taken, only what changed written,
    /// users no longer found disabled, seats held, the mass-removal guard, and every failure leaving the registry as it was.
    @Suite(.enabled(if: Slapd.available, "slapd is not installed (Debian: apt-get install slapd ldap-utils)"))
    struct LDAPSyncTests {
        static func form(_ slapd: Slapd, password: String = Slapd.rootPassword) -> LDAPSettingsForm {
            LDAPSettingsForm(url: slapd.url, bindDN: Slapd.rootDN, password: password, baseDN: Slapd.suffix)
        }

        static func people(_ count: Int, from first: Int = 1) -> [(uid: String, name: String, mail: String)] {
            (first..<(first + count)).map { (uid: "user\($0)", name: "User Number\($0)", mail: "user\($0)@acme.example") }
        }

        static func fingerprint(_ harness: RegistryHarness) async throws -> [String: Int] {
            try await KeywardTestSupport.fingerprint(
                harness.store.database,
                tables: [
                    "registry_users", "group_members", "directory_groups", "directory_group_members", "assignment_errors", "held_changes",
                    "audit_events",
                ])
        }

        /// Each registry user's login, source and whether they are active.
        static func users(_ harness: RegistryHarness) async throws -> [String: (source: String, active: Bool)] {
            try await harness.store.database.read { sql in
                var result: [String: (String, Bool)] = [:]
                for row in try await sql.raw("SELECT login, source, active FROM registry_users WHERE builtin = \(bind: false)").all() {
                    result[try row.decode(column: "login", as: String.self)] = (
                        try row.decode(column: "source", as: String.self), try row.decode(column: "active", as: Bool.self)
                    )
                }
                return result
            }
        }

        @Test(arguments: Backend.available)
        func aSynchronizationTakesUsersGroupsAndMembersThenWritesOnlyWhatChanged(backend: Backend) async throws {
            let ldap = LDAPConnection(client: OpenLDAPDirectory(), timeout: .seconds(5))
            try await Slapd.with(
                users: Self.people(5), groups: [(cn: "Quality", members: ["user1", "user2", "user3"]), (cn: "Sales", members: ["user4"])]
            ) { slapd in
                try await RegistryHarness.run(backend, ldap: ldap) { harness in
                    let registry = harness.registry
                    // user5 was made by hand before the directory came: the directory's entry takes them over by login.
                    _ = try await registry.createUser(UserInput(login: "user5", name: "Hand Made", email: "hand@acme.example"), actor: "test")
                    try await registry.saveLDAPSettings(Self.form(slapd), actor: "test")
                    let synchronizer = LDAPSynchronizer(registry: registry)
                    let first = try await synchronizer.run(trigger: .manual, actor: "test")
                    #expect(first.outcome == .succeeded, "\(first.summary)")
                    #expect(first.counts.usersAdded == 5 && first.counts.groupsAdded == 2 && first.counts.membershipsAdded == 4, "\(first.counts)")
                    var users = try await Self.users(harness)
                    #expect(users.count == 5 && users.values.allSatisfy { $0.source == "ldap" && $0.active }, "\(users)")
                    let quality = try #require(
                        try await harness.store.directoryGroups(source: .ldap, members: true).first { $0.displayName == "Quality" })
                    #expect(quality.members.map(\.login).sorted() == ["user1", "user2", "user3"])
                    #expect(quality.id.hasPrefix("ldap:") && quality.externalId?.count == 36, "its entryUUID")

                    // An access group on a 2-seat key takes Quality's members: two fit, the third waits for a seat.
                    let key = try await harness.registerAndActivate(harness.accessKey(users: 2, components: ["DOC"]), idNumber: "Docs")
                    _ = try await registry.createGroup(
                        AccessGroupInput(idNumber: "Readers", name: "Readers", keySerial: key.serial, component: "DOC", menus: ["DC021"]),
                        actor: "test")
                    let linked = try await registry.linkDirectoryGroups([quality.id], toAccessGroup: "Readers", actor: "test")
                    #expect(linked.added == 2 && linked.assignmentErrors == 1)

                    // Nothing changed in the directory: nothing is written.
                    let before = try await Self.fingerprint(harness)
                    let second = try await synchronizer.run(trigger: .manual, actor: "test")
                    #expect(second.outcome == .unchanged && second.counts.usersUnchanged == 5, "\(second.summary)")
                    var after = try await Self.fingerprint(harness)
                    after["audit_events"]? -= 1  // the run's own event
                    #expect(after == before)

                    // user1 leaves the directory, user3's e-mail changes, user6 arrives in Quality.
                    try await slapd.modify(
                        """
                        dn: uid=user1,ou=people,\(Slapd.suffix)
                        changetype: delete

                        dn: uid=user3,ou=people,\(Slapd.suffix)
                        changetype: modify
                        replace: mail
                        mail: third@acme.example

                        dn: uid=user6,ou=people,\(Slapd.suffix)
                        changetype: add
                        objectClass: inetOrgPerson
                        uid: user6
                        cn: User Number6
                        sn: Number6
                        mail: user6@acme.example

                        dn: cn=Quality,ou=groups,\(Slapd.suffix)
                        changetype: modify
                        delete: member
                        member: uid=user1,ou=people,\(Slapd.suffix)
                        -
                        add: member
                        member: uid=user6,ou=people,\(Slapd.suffix)

                        """)
                    let third = try await synchronizer.run(trigger: .manual, actor: "test")
                    #expect(third.outcome == .succeeded, "\(third.summary)")
                    #expect(third.counts.usersAdded == 1 && third.counts.usersUpdated == 1 && third.counts.usersDisabled == 1, "\(third.counts)")
                    #expect(third.counts.membershipsAdded == 1 && third.counts.membershipsRemoved == 1, "\(third.counts)")
                    users = try await Self.users(harness)
                    #expect(users["user1"]?.active == false, "disabled, never deleted")
                    #expect(try await harness.store.user("user3")?.email == "third@acme.example")
                    // user1's seat went to the one who waited (user3 or user2, the earliest membership first).
                    let members = try await harness.store.directoryOnlyMembers(ofAccessGroup: "Readers")
                    #expect(members.count == 2 && !members.contains("user1"), "\(members)")
                    #expect(try await harness.store.assignmentErrors().map(\.login) == ["user6"], "the latest membership waits")
                    let history = try await harness.store.directorySyncs()
                    #expect(history.map(\.outcome) == [.succeeded, .unchanged, .succeeded])
                    #expect(third.summary.contains("1 user added") && third.summary.contains("1 disabled"), "\(third.summary)")
                }
            }
        }

        @Test func aRefusedBindADownServerAndATimeoutChangeNothingAndSayWhy() async throws {
            let steered = SteeredLDAP()
            let ldap = LDAPConnection(client: steered, timeout: .seconds(2))
            try await Slapd.with(users: Self.people(600), groups: [(cn: "Quality", members: ["user1"])]) { slapd in
                try await RegistryHarness.run(.sqliteFile, ldap: ldap) { harness in
                    let registry = harness.registry
                    let synchronizer = LDAPSynchronizer(registry: registry)
                    await #expect(throws: RegistryError.self) { try await synchronizer.run(trigger: .manual, actor: "test") }
                    try await registry.saveLDAPSettings(Self.form(slapd, password: "not the password"), actor: "test")
                    let before = try await Self.fingerprint(harness)
                    let refused = try await synchronizer.run(trigger: .manual, actor: "test")
                    #expect(refused.outcome == .failed && refused.errorCode == "LDAP_BIND_REFUSED", "\(refused)")
                    #expect(refused.summary.contains("Nothing was changed") && !refused.summary.contains("not the password"))
                    var after = try await Self.fingerprint(harness)
                    #expect(after == before, "a refused bind writes nothing but its history")

                    // The server stops answering after the first page of users (500 of 600): the search times out
                    // asking for the next page, and nothing of what was read is applied.
                    try await registry.saveLDAPSettings(Self.form(slapd), actor: "test")
                    let saved = try await Self.fingerprint(harness)
                    steered.state.withLockedValue { $0 = (0, 1, slapd.process.processIdentifier) }
                    let stopped = try await synchronizer.run(trigger: .manual, actor: "test")
                    kill(slapd.process.processIdentifier, SIGCONT)
                    #expect(stopped.outcome == .failed && stopped.errorCode == "LDAP_TIMEOUT", "\(stopped)")
                    after = try await Self.fingerprint(harness)
                    #expect(after == saved)
                    #expect(try await Self.users(harness).isEmpty)
                    steered.state.withLockedValue { $0 = (0, nil, nil) }
                    let recovered = try await synchronizer.run(trigger: .manual, actor: "test")
                    #expect(recovered.outcome == .succeeded && recovered.counts.usersAdded == 600, "\(recovered)")
                }
            }
            // The server goes away: unreachable, said in the history.
            try await RegistryHarness.run(.sqliteFile, ldap: ldap) { harness in
                let gone = LDAPSettingsForm(
                    url: "ldap://127.0.0.1:\(try Slapd.freePort())", bindDN: Slapd.rootDN, password: "x", baseDN: Slapd.suffix)
                try await harness.registry.saveLDAPSettings(gone, actor: "test")
                let down = try await LDAPSynchronizer(registry: harness.registry).run(trigger: .scheduled, actor: "system:schedule")
                #expect(down.outcome == .failed && down.errorCode == "LDAP_UNREACHABLE", "\(down)")
                #expect(try await harness.store.directorySyncs(trigger: .scheduled).first?.errorMessage?.contains("cannot be reached") == true)
            }
        }

        /// A bind DN the server limits (OpenLDAP's default: 500 entries, here 5) cannot read the whole directory: the
        /// search is refused as a whole, never applied in part, which would disable everyone it did not return.
        @Test func aSearchCutShortByTheServersSizeLimitChangesNothing() async throws {
            try await Slapd.with(users: Self.people(12), sizeLimit: "5") { slapd in
                try await slapd.modify(
                    """
                    dn: cn=reader,\(Slapd.suffix)
                    changetype: add
                    objectClass: person
                    cn: reader
                    sn: Reader
                    userPassword: reader-password

                    """)
                try await RegistryHarness.run(.sqliteFile, ldap: LDAPConnection(client: OpenLDAPDirectory(), timeout: .seconds(5))) { harness in
                    var form = Self.form(slapd)
                    form.bindDN = "cn=reader,\(Slapd.suffix)"
                    form.password = "reader-password"
                    try await harness.registry.saveLDAPSettings(form, actor: "test")
                    let before = try await Self.fingerprint(harness)
                    let run = try await LDAPSynchronizer(registry: harness.registry).run(trigger: .manual, actor: "test")
                    #expect(run.outcome == .failed && run.errorCode == "LDAP_SIZE_LIMIT", "\(run)")
                    #expect(run.errorMessage?.contains("size.prtotal=unlimited") == true, "\(run)")
                    #expect(try await Self.fingerprint(harness) == before)
                }
            }
        }

        @Test func oneSynchronizationRunsAtATime() async throws {
            let steered = SteeredLDAP()
            steered.holding.withLockedValue { $0 = true }
            try await Slapd.with(users: Self.people(2)) { slapd in
                try await RegistryHarness.run(.sqliteFile, ldap: LDAPConnection(client: steered, timeout: .seconds(5))) { harness in
                    try await harness.registry.saveLDAPSettings(Self.form(slapd), actor: "test")
                    let synchronizer = LDAPSynchronizer(registry: harness.registry)
                    async let first = synchronizer.run(trigger: .manual, actor: "first")
                    try await steered.whileHeld {
                        do {
                            _ = try await synchronizer.run(trigger: .manual, actor: "second")
                            Issue.record("a second synchronization ran beside the first")
                        } catch let error as RegistryError {
                            #expect(error.code == "SYNC_IN_PROGRESS")
                        }
                        try await harness.withAPI { api in
                            let busy = try await api.call(.post, "/api/v1/directory/synchronizations")
                            #expect(busy.status == .conflict && busy.errorCode == "SYNC_IN_PROGRESS", "\(busy.text)")
                        }
                    }
                    let run = try await first
                    #expect(run.outcome == .succeeded && run.actor == "first")
                    #expect(try await harness.store.directorySyncs().count == 1)
                }
            }
        }

        @Test(arguments: Backend.available)
        func anEmptiedGroupOrAFilterThatFindsNobodyIsHeldForAnAdministrator(backend: Backend) async throws {
            let ldap = LDAPConnection(client: OpenLDAPDirectory(), timeout: .seconds(5))
            let members = (1...12).map { "user\($0)" }
            try await Slapd.with(users: Self.people(12), groups: [(cn: "Quality", members: members)]) { slapd in
                try await RegistryHarness.run(backend, ldap: ldap) { harness in
                    let registry = harness.registry
                    try await registry.saveLDAPSettings(Self.form(slapd), actor: "test")
                    let synchronizer = LDAPSynchronizer(registry: registry)
                    _ = try await synchronizer.run(trigger: .manual, actor: "test")
                    let key = try await harness.registerAndActivate(harness.accessKey(users: 20, components: ["DOC"]), idNumber: "Docs")
                    _ = try await registry.createGroup(
                        AccessGroupInput(idNumber: "Readers", name: "Readers", keySerial: key.serial, component: "DOC", menus: ["DC021"]),
                        actor: "test")
                    let quality = try #require(try await harness.store.directoryGroups(source: .ldap, members: false).first)
                    _ = try await registry.linkDirectoryGroups([quality.id], toAccessGroup: "Readers", actor: "test")
                    #expect(try await harness.store.directoryOnlyMembers(ofAccessGroup: "Readers").count == 12)

                    // The classic accident: the group comes back empty but for one member.
                    var ldif = "dn: cn=Quality,ou=groups,\(Slapd.suffix)\nchangetype: modify\ndelete: member\n"
                    for member in members.dropFirst() { ldif += "member: uid=\(member),ou=people,\(Slapd.suffix)\n" }
                    try await slapd.modify(ldif + "\n")
                    let emptied = try await synchronizer.run(trigger: .manual, actor: "test")
                    #expect(emptied.outcome == .succeeded && emptied.counts.held == 1 && emptied.counts.membershipsRemoved == 11, "\(emptied)")
                    #expect(emptied.summary.contains("to confirm"), "\(emptied.summary)")
                    #expect(try await harness.store.directoryOnlyMembers(ofAccessGroup: "Readers").count == 12, "access is kept meanwhile")
                    let held = try #require(try await registry.heldChanges().first)
                    #expect(held.removed == 11 && held.actor == LDAPSynchronizer.actor)
                    _ = try await registry.decideHeldChange(held.id, confirm: true, actor: "test")
                    #expect(try await harness.store.directoryOnlyMembers(ofAccessGroup: "Readers").count == 1, "confirmed: they lose it")

                    // The members come back; then a user filter that suddenly finds nobody: held too, and the users stay
                    // enabled while it is.
                    try await slapd.modify(
                        "dn: cn=Quality,ou=groups,\(Slapd.suffix)\nchangetype: modify\nadd: member\n"
                            + members.dropFirst().map { "member: uid=\($0),ou=people,\(Slapd.suffix)\n" }.joined() + "\n")
                    let back = try await synchronizer.run(trigger: .manual, actor: "test")
                    #expect(back.counts.accessAdded == 11, "\(back)")
                    var wrong = Self.form(slapd)
                    wrong.userFilter = "(uid=nobody)"
                    try await registry.saveLDAPSettings(wrong, actor: "test")
                    let nobody = try await synchronizer.run(trigger: .manual, actor: "test")
                    #expect(nobody.counts.usersDisabled == 12 && nobody.counts.held == 1, "\(nobody)")
                    var users = try await Self.users(harness)
                    #expect(users.values.filter(\.active).count == 12, "\(users)")
                    let second = try #require(try await registry.heldChanges().first)
                    #expect(second.removed == 12)
                    _ = try await registry.decideHeldChange(second.id, confirm: true, actor: "test")
                    users = try await Self.users(harness)
                    #expect(users.values.allSatisfy { !$0.active }, "confirmed: the users the directory no longer has are disabled")
                    #expect(try await harness.store.directoryOnlyMembers(ofAccessGroup: "Readers").isEmpty)
                }
            }
        }

        @Test func tlsAndStartTLSWithTheOrganizationsCA() async throws {
            try await Slapd.with(users: Self.people(2), tls: true) { slapd in
                let tlsPort = try #require(slapd.tlsPort)
                let directory = OpenLDAPDirectory()
                let ldaps = LDAPConnectionSettings(
                    url: "ldaps://127.0.0.1:\(tlsPort)", caFile: slapd.caFile, bindDN: Slapd.rootDN, password: Slapd.rootPassword,
                    timeout: .seconds(5))
                let found = try await directory.search(ldaps, base: Slapd.suffix, filter: "(uid=*)", attributes: ["uid"], pageSize: 10)
                #expect(found.count == 2)
                let startTLS = LDAPConnectionSettings(
                    url: slapd.url, startTLS: true, caFile: slapd.caFile, bindDN: Slapd.rootDN, password: Slapd.rootPassword, timeout: .seconds(5))
                try await directory.bind(startTLS)
                // Without the CA the certificate is not trusted: refused, in words.
                let untrusted = LDAPConnectionSettings(
                    url: "ldaps://127.0.0.1:\(tlsPort)", bindDN: Slapd.rootDN, password: Slapd.rootPassword, timeout: .seconds(5))
                do {
                    try await directory.bind(untrusted)
                    Issue.record("a certificate from an unknown CA was accepted")
                } catch {
                    #expect((error as? LDAPFailure)?.code == "LDAP_UNREACHABLE", "\(error)")
                }
                try await RegistryHarness.run(.sqliteFile, ldap: LDAPConnection(client: directory, timeout: .seconds(5))) { harness in
                    var form = Self.form(slapd)
                    form.url = slapd.url
                    form.startTLS = true
                    form.caFile = slapd.caFile
                    try await harness.registry.saveLDAPSettings(form, actor: "test")
                    let run = try await LDAPSynchronizer(registry: harness.registry).run(trigger: .manual, actor: "test")
                    #expect(run.outcome == .succeeded && run.counts.usersAdded == 2, "\(run)")
                }
            }
        }

        @Test func theSettingsAPINeverShowsThePasswordAndRefusesBadValuesWritingNothing() async throws {
            try await Slapd.with(users: Self.people(3), groups: [(cn: "Quality", members: ["user1"])]) { slapd in
                try await RegistryHarness.run(.sqliteFile, ldap: LDAPConnection(client: OpenLDAPDirectory(), timeout: .seconds(5))) { harness in
                    try await harness.withAPI { api in
                        let empty = try await api.call(.get, "/api/v1/settings/directory")
                        #expect(empty.status == .ok && empty.json["configured"] as? Bool == false)
                        let notSet = try await api.call(.post, "/api/v1/directory/synchronizations")
                        #expect(notSet.status == .conflict && notSet.errorCode == "LDAP_NOT_CONFIGURED")
                        let good: [String: Any] = [
                            "url": slapd.url, "bindDN": Slapd.rootDN, "password": Slapd.rootPassword, "baseDN": Slapd.suffix,
                        ]
                        let before = try await harness.fingerprint()
                        for (change, field, code) in [
                            (["url": "http://ldap.example.com"], "url", "INVALID_LDAP_URL"),
                            (["url": "ldaps://x", "startTLS": true], "startTLS", "INVALID_LDAP_URL"),
                            (["userFilter": "objectClass=person"], "userFilter", "INVALID_LDAP_FILTER"),
                            (["groupFilter": "(&(cn=a)"], "groupFilter", "INVALID_LDAP_FILTER"),
                            (["loginAttribute": "u id"], "loginAttribute", "INVALID_ATTRIBUTE"),
                            (["baseDN": ""], "baseDN", "INVALID_DN"),
                            (["caFile": "/nonexistent/ca.pem"], "caFile", "INVALID_CA_FILE"),
                            (["password": ""], "password", "PASSWORD_REQUIRED"),
                        ] as [([String: Any], String, String)] {
                            let body = good.merging(change) { $1 }
                            let reply = try await api.call(
                                .put, "/api/v1/settings/directory",
                                json: String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
                            #expect(reply.status == .unprocessableContent, "\(change): \(reply.text)")
                            #expect(reply.errorCode == code && reply.errorField == field, "\(change): \(reply.text)")
                        }
                        #expect(try await harness.fingerprint() == before, "a refused setting writes nothing")
                        #expect(try await harness.store.settings()[.ldap] == nil)

                        let saved = try await api.call(
                            .put, "/api/v1/settings/directory",
                            json: String(decoding: try JSONSerialization.data(withJSONObject: good), as: UTF8.self))
                        #expect(saved.status == .ok && saved.json["configured"] as? Bool == true, "\(saved.text)")
                        let shown = try await api.call(.get, "/api/v1/settings/directory")
                        #expect(!shown.text.contains(Slapd.rootPassword) && shown.json["passwordSaved"] as? Bool == true)
                        #expect((shown.json["settings"] as? [String: Any])?["loginAttribute"] as? String == "uid", "defaults filled in")
                        let audit = try await api.call(.get, "/api/v1/audit-events")
                        #expect(!audit.text.contains(Slapd.rootPassword), "never in the audit log")

                        // The saved password goes only to the saved server.
                        let elsewhere = try await api.call(
                            .post, "/api/v1/settings/directory/test",
                            json: #"{"url": "ldap://127.0.0.1:1", "bindDN": "\#(Slapd.rootDN)", "baseDN": "\#(Slapd.suffix)"}"#)
                        #expect(elsewhere.status == .unprocessableContent && elsewhere.errorCode == "PASSWORD_REQUIRED")
                        let test = try await api.call(.post, "/api/v1/settings/directory/test")
                        #expect(
                            test.json["ok"] as? Bool == true && test.json["users"] as? Int == 3 && test.json["groups"] as? Int == 1, "\(test.text)")
                        #expect((test.json["message"] as? String)?.contains("finds 3 users and 1 group") == true, "\(test.text)")

                        let run = try await api.call(.post, "/api/v1/directory/synchronizations")
                        #expect(run.status == .created && run.json["outcome"] as? String == "succeeded", "\(run.text)")
                        #expect((run.json["counts"] as? [String: Any])?["usersAdded"] as? Int == 3)
                        let history = try await api.call(.get, "/api/v1/directory/synchronizations")
                        #expect((history.json["items"] as? [[String: Any]])?.count == 1)
                        let badTrigger = try await api.call(.get, "/api/v1/directory/synchronizations?trigger=sometimes")
                        #expect(badTrigger.status == .unprocessableContent)

                        let cleared = try await api.call(.put, "/api/v1/settings/directory", json: #"{"url": ""}"#)
                        #expect(cleared.json["configured"] as? Bool == false)
                        #expect(try await harness.store.settings()[.ldapPassword] == nil, "the password goes with them")
                    }
                }
            }
        }
    }
}
