import Foundation
import KeywardTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension CLITests {
    /// `keyward serve` as an operator runs it: its files readable by its own account only, a port in use refused in one
    /// sentence, and `/metrics` behind a token, counting refusals by their real status.
    @Suite struct ServerHardeningCLITests {
        static func mode(_ path: String) -> UInt16? {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber).map { $0.uint16Value & 0o777 }
        }

        @Test func theDataDirectoryAndDatabaseAreReadableByTheServiceOnly() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-modes-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            // A directory made beforehand with the usual umask: world-readable.
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            let server = try RegistryCLITests.serve(
                ["--data-dir", directory.path, "--organization", "acme", "--legal-name", "ACME", "--trust-key", String(repeating: "ab", count: 32)],
                environment: ["KEYWARD_ADMIN_PASSWORD": "a long enough password"])
            #expect(server.output.contains("listening on"))
            #expect(Self.mode(directory.path) == 0o700)
            for name in ["registry.sqlite", "registry.sqlite-wal", "trusted-keys.txt"] {
                let path = directory.appendingPathComponent(name).path
                #expect(FileManager.default.fileExists(atPath: path), "\(name)")
                #expect(Self.mode(path) == 0o600, "\(name) has mode \(String(Self.mode(path) ?? 0, radix: 8))")
            }
            #expect(try await RegistryCLITests.stop(server.process) == 0)
        }

        @Test func aPortInUseIsRefusedInOneSentenceBeforeAnythingIsWritten() async throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(listener) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(listener, pointer, length) == 0 && listen(listener, 8) == 0 && getsockname(listener, pointer, &length) == 0
                }
            }
            try #require(bound)
            let port = Int(UInt16(bigEndian: address.sin_port))
            try await withTemporaryDirectory(created: false) { directory in
                let result = try Keyward.run(
                    ["serve", "--data-dir", directory.path, "--organization", "acme", "--legal-name", "ACME", "--port", "\(port)"],
                    environment: ["KEYWARD_ADMIN_PASSWORD": "a long enough password"], timeout: 60)
                #expect(result.status == 1)
                let lines = result.stderr.split(separator: "\n")
                #expect(lines.count == 1, "\(result.stderr)")
                #expect(result.stderr.contains("127.0.0.1:\(port)") && result.stderr.contains("already in use") && result.stderr.contains("--port"))
                #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("registry.sqlite").path), "nothing was written")
            }
        }

        @Test func metricsNeedTheTokenAndCountRefusalsByTheirStatus() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-metrics-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let tokenFile = directory.appendingPathComponent("metrics-token")
            try Data("scrape-me-please\n".utf8).write(to: tokenFile)
            let server = try RegistryCLITests.serve(
                [
                    "--data-dir", directory.appendingPathComponent("data").path, "--organization", "acme", "--legal-name", "ACME",
                    "--metrics-token-file", tokenFile.path,
                ],
                environment: ["KEYWARD_ADMIN_PASSWORD": "a long enough password"])
            let base = try #require(server.output.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
            func call(_ method: String, _ path: String, token: String? = nil, body: String? = nil) async throws -> (Int, String) {
                var request = URLRequest(url: URL(string: base + path)!)
                request.httpMethod = method
                if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
                request.httpBody = body.map { Data($0.utf8) }
                let (data, response) = try await URLSession.shared.data(for: request)
                return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
            }
            #expect(try await call("GET", "/metrics").0 == 401)
            #expect(try await call("GET", "/metrics", token: "wrong").0 == 401)
            let login = try await call("POST", "/api/v1/auth/token", body: #"{"login":"admin","password":"a long enough password"}"#)
            let token = try #require(login.1.split(separator: "\"").drop { $0 != "token" }.dropFirst(2).first.map(String.init))
            // Refusals from the registry's own rules (a store conflict, a registry error), not only the HTTP layer's.
            #expect(try await call("POST", "/api/v1/users", token: token, body: #"{"login":"ann","name":"Ann","email":"ann@example.com"}"#).0 == 201)
            #expect(try await call("POST", "/api/v1/users", token: token, body: #"{"login":"ann","name":"Ann","email":"ann@example.com"}"#).0 == 409)
            #expect(try await call("POST", "/api/v1/license-keys", token: token, body: #"{"idNumber":"X","accessKey":"key/bogus"}"#).0 == 422)
            let metrics = try await call("GET", "/metrics", token: "scrape-me-please")
            #expect(metrics.0 == 200)
            let lines = metrics.1.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains("status") }
            #expect(lines.contains { $0.contains("/api/v1/users") && $0.contains("=\"409\"") }, "\(lines)")
            #expect(lines.contains { $0.contains("/api/v1/license-keys") && $0.contains("=\"422\"") }, "\(lines)")
            #expect(!lines.contains { $0.contains("=\"500\"") }, "\(lines.filter { $0.contains("=\"500\"") })")
            #expect(try await RegistryCLITests.stop(server.process) == 0)
        }
    }
}
