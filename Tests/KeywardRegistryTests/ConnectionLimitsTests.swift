import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import Logging
import NIOCore
import Prometheus
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension RegistryTests {
    /// Slow clients cannot hold connections for ever: a request head must arrive within the header timeout, however
    /// slowly it trickles in, and an idle keep-alive connection closes after it too.
    @Suite struct ConnectionLimitsTests {
        /// A blocking TCP connection to 127.0.0.1:`port`.
        final class Connection {
            let descriptor: Int32

            init(port: Int) throws {
                descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
                var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
                setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            }

            deinit { close(descriptor) }

            /// Sends `text`; `false` once the server has closed the connection.
            @discardableResult
            func send(_ text: String) -> Bool {
                text.utf8CString.withUnsafeBufferPointer { Glibc.send(descriptor, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) } > 0
            }

            /// What arrived within 200 ms: `nil` when the server closed the connection, empty when nothing came.
            func receive() -> String? {
                var buffer = [UInt8](repeating: 0, count: 65_536)
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count == 0 { return nil }
                return count < 0 ? "" : String(decoding: buffer.prefix(count), as: UTF8.self)
            }

            /// Whether the server closes the connection within `seconds`, while `trickle` sends a header line every 250 ms.
            func isClosed(within seconds: Double, trickle: Bool) -> Bool {
                let deadline = Date().addingTimeInterval(seconds)
                var line = 0
                while Date() < deadline {
                    if trickle, !send("X-Slow-\(line): \(line)\r\n") { return true }
                    line += 1
                    if receive() == nil { return true }
                    usleep(50_000)
                }
                return false
            }
        }

        func withServer(headerTimeout: TimeAmount, bodyTimeout: TimeAmount = .seconds(120), _ body: @escaping @Sendable (Int) async throws -> Void)
            async throws
        {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let dependencies = try await RegistryDependencies(
                    registry: harness.registry, metrics: PrometheusCollectorRegistry(), throttle: harness.throttle)
                let app = buildRegistryApplication(
                    dependencies, host: "127.0.0.1", port: 0,
                    limits: ConnectionLimits(headerTimeout: headerTimeout, bodyTimeout: bodyTimeout), logger: Logger(label: "test"))
                try await app.test(.live) { client in try await body(client.port!) }
            }
        }

        @Test func aHeadTrickledInLineByLineIsCutOffAtTheHeaderTimeout() async throws {
            try await withServer(headerTimeout: .seconds(1)) { port in
                let slow = try Connection(port: port)
                #expect(slow.send("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
                // A line every 250 ms would keep an idle timeout from ever firing; the header deadline does not care.
                #expect(slow.isClosed(within: 8, trickle: true))
            }
        }

        @Test func aBodyTrickledInByteByByteIsCutOffAtTheBodyTimeout() async throws {
            try await withServer(headerTimeout: .seconds(30), bodyTimeout: .seconds(1)) { port in
                let slow = try Connection(port: port)
                #expect(
                    slow.send(
                        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"))
                // One byte every 50 ms keeps an idle timeout quiet; the body deadline still ends it.
                let deadline = Date().addingTimeInterval(8)
                var closed = false
                while Date() < deadline, !closed {
                    if !slow.send(" ") {
                        closed = true
                        break
                    }
                    if slow.receive() == nil { closed = true }
                    usleep(50_000)
                }
                #expect(closed)
            }
        }

        @Test func aKeepAliveConnectionServesRequestsThenClosesWhenIdle() async throws {
            try await withServer(headerTimeout: .seconds(1)) { port in
                let connection = try Connection(port: port)
                for _ in 0..<3 {
                    #expect(connection.send("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
                    var answer = ""
                    for _ in 0..<25 where !answer.contains("live") { answer += connection.receive() ?? "" }
                    #expect(answer.hasPrefix("HTTP/1.1 200"))
                }
                #expect(connection.isClosed(within: 8, trickle: false))
            }
        }

        @Test func theConnectionLimitFollowsTheOpenFilesLimit() {
            var limit = rlimit()
            #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
            let expected = limit.rlim_cur == rlim_t.max ? 10_000 : max(16, min(10_000, Int(limit.rlim_cur) - ConnectionLimits.reservedFiles))
            #expect(ConnectionLimits.connectionsForFileLimit() == expected)
            #expect(ConnectionLimits(maximumConnections: 7).maximumConnections == 7)
        }
    }
}
