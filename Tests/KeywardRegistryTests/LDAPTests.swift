import Foundation
import KeywardLDAP
import KeywardRegistry
import Testing

/// A real `slapd` (Debian's) on a loopback port, with a temporary configuration and database, for the LDAP tests.
/// `Slapd.available` is false where slapd is not installed (.ci/run installs it).
struct Slapd: Sendable {
    static let binary = "/usr/sbin/slapd"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: binary) && FileManager.default.fileExists(atPath: "/usr/bin/ldapadd") }

    static let suffix = "dc=acme,dc=example"
    static let rootDN = "cn=admin,dc=acme,dc=example"
    static let rootPassword = "slapd-test-password"

    let directory: URL
    let port: Int
    let process: Process
    /// With `tls`: the ldaps:// port and the CA that signed the server's certificate (for 127.0.0.1).
    var tlsPort: Int?
    var caFile: String?

    var url: String { "ldap://127.0.0.1:\(port)" }
    var settings: LDAPConnectionSettings { LDAPConnectionSettings(url: url, bindDN: Self.rootDN, password: Self.rootPassword, timeout: .seconds(5)) }

    /// Starts slapd with `users` people under ou=people and `groups` groupOfNames under ou=groups, runs `body`, stops it.
    static func with<T>(
        users: [(uid: String, name: String, mail: String)], groups: [(cn: String, members: [String])] = [], tls: Bool = false,
        sizeLimit: String = "unlimited", _ body: (Slapd) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-slapd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("db"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var config = """
            include /etc/ldap/schema/core.schema
            include /etc/ldap/schema/cosine.schema
            include /etc/ldap/schema/inetorgperson.schema
            modulepath /usr/lib/ldap
            moduleload back_mdb
            pidfile \(directory.path)/slapd.pid
            database mdb
            maxsize 1073741824
            suffix "\(suffix)"
            rootdn "\(rootDN)"
            rootpw \(rootPassword)
            directory \(directory.path)/db
            sizelimit \(sizeLimit)

            """
        let port = try freePort()
        var listen = "ldap://127.0.0.1:\(port)/"
        var tlsPort: Int?
        if tls {
            try await makeCertificates(in: directory)
            config =
                "TLSCACertificateFile \(directory.path)/ca.pem\nTLSCertificateFile \(directory.path)/server.pem\n"
                + "TLSCertificateKeyFile \(directory.path)/server.key\n" + config
            let second = try freePort()
            tlsPort = second
            listen += " ldaps://127.0.0.1:\(second)/"
        }
        try config.write(to: directory.appendingPathComponent("slapd.conf"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // -d 0: in the foreground, so it stops with the test; no logging.
        process.arguments = ["-f", directory.appendingPathComponent("slapd.conf").path, "-h", listen, "-d", "0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            // SIGKILL: slapd takes seconds to stop on SIGTERM, and its database is thrown away with the directory.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        var server = Slapd(directory: directory, port: port, process: process)
        server.tlsPort = tlsPort
        server.caFile = tls ? directory.appendingPathComponent("ca.pem").path : nil
        var ldif = """
            dn: \(suffix)
            objectClass: dcObject
            objectClass: organization
            o: ACME
            dc: acme

            dn: ou=people,\(suffix)
            objectClass: organizationalUnit
            ou: people

            dn: ou=groups,\(suffix)
            objectClass: organizationalUnit
            ou: groups

            """
        for user in users {
            ldif += """

                dn: uid=\(user.uid),ou=people,\(suffix)
                objectClass: inetOrgPerson
                uid: \(user.uid)
                cn: \(user.name)
                sn: \(user.name.split(separator: " ").last.map(String.init) ?? user.name)
                mail: \(user.mail)

                """
        }
        for group in groups {
            ldif += "\ndn: cn=\(group.cn),ou=groups,\(suffix)\nobjectClass: groupOfNames\ncn: \(group.cn)\n"
            for member in group.members { ldif += "member: uid=\(member),ou=people,\(suffix)\n" }
        }
        try await server.load(ldif)
        return try await body(server)
    }

    /// A CA and a server certificate for 127.0.0.1 it signs, made with the openssl command.
    static func makeCertificates(in directory: URL) async throws {
        let path = directory.path
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Keyward Test CA", "-keyout", "\(path)/ca.key", "-out",
                "\(path)/ca.pem",
            ],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "\(path)/server.key", "-out", "\(path)/server.csr"],
            [
                "x509", "-req", "-in", "\(path)/server.csr", "-CA", "\(path)/ca.pem", "-CAkey", "\(path)/ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", "\(path)/san.cnf", "-out", "\(path)/server.pem",
            ],
        ]
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: "\(path)/san.cnf", atomically: true, encoding: .utf8)
        for arguments in steps {
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = arguments
            openssl.standardOutput = FileHandle.nullDevice
            openssl.standardError = FileHandle.nullDevice
            guard try await exitStatus(of: openssl) == 0 else { throw LDAPFailure(code: "SETUP", message: "openssl \(arguments[0]) failed") }
        }
    }

    /// Runs `process` and waits for it without holding a thread of the concurrency pool (a test that blocks one
    /// starves the others on a 2-core machine).
    static func exitStatus(of process: Process) async throws -> Int32 {
        try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
    }

    /// Changes entries with `ldapmodify` (an LDIF of changetype records).
    func modify(_ ldif: String) async throws {
        try await load(ldif, tool: "/usr/bin/ldapmodify")
    }

    /// Adds entries with `ldapadd`, retrying while slapd starts.
    func load(_ ldif: String, tool: String = "/usr/bin/ldapadd") async throws {
        let file = directory.appendingPathComponent("entries-\(UUID().uuidString).ldif")
        try ldif.write(to: file, atomically: true, encoding: .utf8)
        for attempt in 0..<50 {
            let add = Process()
            add.executableURL = URL(fileURLWithPath: tool)
            add.arguments = ["-x", "-H", url, "-D", Self.rootDN, "-w", Self.rootPassword, "-f", file.path]
            add.standardOutput = FileHandle.nullDevice
            add.standardError = FileHandle.nullDevice
            if try await Self.exitStatus(of: add) == 0 { return }
            guard attempt < 49 else { throw LDAPFailure(code: "SETUP", message: "\(tool) exited with \(add.terminationStatus)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Foundation.close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, size) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &size) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension RegistryTests {
    /// The OpenLDAP client against a real slapd: paged searches, and every failure in words.
    @Suite(.enabled(if: Slapd.available, "slapd is not installed (Debian: apt-get install slapd ldap-utils)"))
    struct LDAPClientTests {
        /// The failure `work` ends with; `nil` when it succeeds.
        static func failure(_ work: () async throws -> Void) async -> LDAPFailure? {
            do {
                try await work()
                return nil
            } catch let failure as LDAPFailure {
                return failure
            } catch {
                Issue.record("not an LDAPFailure: \(error)")
                return nil
            }
        }

        @Test func aPagedSearchReadsEveryEntryAndTheirAttributes() async throws {
            let users = (1...7).map { (uid: "user\($0)", name: "User Number\($0)", mail: "user\($0)@acme.example") }
            try await Slapd.with(users: users, groups: [(cn: "Quality", members: ["user1", "user3"])]) { slapd in
                let directory = OpenLDAPDirectory()
                // Pages of 2 entries: four round trips for seven people.
                let people = try await directory.search(
                    slapd.settings, base: "ou=people,\(Slapd.suffix)", filter: "(objectClass=inetOrgPerson)",
                    attributes: ["uid", "cn", "mail", "entryUUID"], pageSize: 2)
                #expect(people.map { $0.first("uid") ?? "" }.sorted() == users.map(\.uid).sorted())
                let first = try #require(people.first { $0.first("uid") == "user1" })
                #expect(first.dn == "uid=user1,ou=people,\(Slapd.suffix)")
                #expect(first.first("CN") == "User Number1" && first.first("mail") == "user1@acme.example", "attribute names in any case")
                #expect(first.first("entryUUID")?.count == 36, "operational attributes when asked")
                let groups = try await directory.search(
                    slapd.settings, base: Slapd.suffix, filter: "(objectClass=groupOfNames)", attributes: ["cn", "member"], pageSize: 100)
                #expect(groups.count == 1 && groups[0].values("member").count == 2)
                try await directory.bind(slapd.settings)
            }
        }

        @Test func aRefusedBindADownServerABadBaseAndABadFilterAreSaidInWords() async throws {
            try await Slapd.with(users: [(uid: "ann", name: "Ann Archer", mail: "ann@acme.example")]) { slapd in
                let directory = OpenLDAPDirectory()
                let wrong = LDAPConnectionSettings(url: slapd.url, bindDN: Slapd.rootDN, password: "not the password", timeout: .seconds(5))
                let settings = slapd.settings
                let refused = try #require(await Self.failure { try await directory.bind(wrong) })
                #expect(refused.code == "LDAP_BIND_REFUSED" && refused.message.contains("bind DN and password"), "\(refused)")
                #expect(!refused.message.contains("not the password"), "the password is never in a message")
                var base: LDAPFailure?
                do {
                    let found = try await directory.search(
                        settings, base: "ou=nobody,\(Slapd.suffix)", filter: "(uid=*)", attributes: ["uid"], pageSize: 10)
                    Issue.record("a missing base DN was not refused: \(found)")
                } catch let failure as LDAPFailure {
                    base = failure
                }
                #expect(base?.code == "LDAP_NO_SUCH_BASE", "\(String(describing: base))")
                let filter = await Self.failure {
                    _ = try await directory.search(settings, base: Slapd.suffix, filter: "(uid=", attributes: ["uid"], pageSize: 10)
                }
                #expect(filter?.code == "LDAP_BAD_FILTER", "\(String(describing: filter))")
            }
            let down = LDAPConnectionSettings(
                url: "ldap://127.0.0.1:\(try Slapd.freePort())", bindDN: Slapd.rootDN, password: "x", timeout: .seconds(2))
            let unreachable = await Self.failure { try await OpenLDAPDirectory().bind(down) }
            #expect(
                unreachable?.code == "LDAP_UNREACHABLE" && unreachable?.message.contains("cannot be reached") == true,
                "\(String(describing: unreachable))")
            let web = LDAPConnectionSettings(url: "http://example.com", bindDN: Slapd.rootDN, password: "x", timeout: .seconds(2))
            let http = await Self.failure { try await OpenLDAPDirectory().bind(web) }
            #expect(http?.code == "LDAP_INVALID_URL", "\(String(describing: http))")
        }
    }
}
