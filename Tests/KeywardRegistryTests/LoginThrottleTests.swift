import Foundation
import KeywardHTTP
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistry

extension RegistryTests {
    /// The login throttle: counted before the password is compared, per login and address, bounded in memory, and never
    /// a way to lock someone out.
    @Suite struct LoginThrottleTests {
        static let now = Date(timeIntervalSince1970: 1_800_000_000)

        static func code(of attempt: () async throws -> Void) async -> String? {
            do {
                try await attempt()
                return nil
            } catch let error as APIError {
                return error.code
            } catch {
                return "\(error)"
            }
        }

        @Test func parallelGuessesAreCountedBeforeThePasswordIsCompared() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let authentication = Authentication(registry: harness.registry, throttle: harness.throttle)
                let codes = await withTaskGroup(of: String?.self) { group in
                    for _ in 0..<60 {
                        group.addTask {
                            await Self.code {
                                _ = try await authentication.logIn(login: "admin", password: "guess guess guess", address: "127.0.0.1")
                            }
                        }
                    }
                    return await group.reduce(into: [String?]()) { $0.append($1) }
                }
                #expect(codes.filter { $0 == "INVALID_CREDENTIALS" }.count == harness.throttle.maximumPerPair)
                #expect(codes.filter { $0 == "TOO_MANY_ATTEMPTS" }.count == 60 - harness.throttle.maximumPerPair)
            }
        }

        @Test func aCorrectPasswordFromAnAddressThatHasNotFailedStillSignsIn() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let authentication = Authentication(registry: harness.registry, throttle: harness.throttle)
                for _ in 0..<harness.throttle.maximumPerPair {
                    #expect(
                        await Self.code { _ = try await authentication.logIn(login: "admin", password: "wrong password", address: "127.0.0.1") }
                            == "INVALID_CREDENTIALS")
                }
                #expect(
                    await Self.code { _ = try await authentication.logIn(login: "admin", password: RegistryHarness.password, address: "127.0.0.1") }
                        == "TOO_MANY_ATTEMPTS")
                let user = try await authentication.logIn(login: "admin", password: RegistryHarness.password, address: "127.0.0.2")
                #expect(user.login == "admin")
            }
        }

        @Test func sprayingFromOneAddressSlowsDownWithoutLockingOut() {
            let throttle = LoginThrottle(maximumPerPair: 5, slowDownAfter: 10, maximumDelay: .seconds(4))
            var delays: [Duration] = []
            for number in 0..<30 {
                guard case .proceed(_, let delay) = throttle.begin(login: "user\(number)", address: "192.0.2.1", now: Self.now) else {
                    Issue.record("attempt \(number) was refused")
                    return
                }
                delays.append(delay)
            }
            #expect(delays.prefix(10).allSatisfy { $0 == .zero })
            #expect(delays[10] == .milliseconds(250))
            #expect(delays[11] == .milliseconds(500))
            #expect(delays.last == .seconds(4))
            // Another address is not slowed down by this one's guesses at other logins.
            guard case .proceed(_, let delay) = throttle.begin(login: "someone", address: "192.0.2.2", now: Self.now) else {
                Issue.record("another address was refused")
                return
            }
            #expect(delay == .zero)
        }

        @Test func aSuccessTakesTheAttemptBackAndTheWindowEnds() {
            let throttle = LoginThrottle(maximumPerPair: 2, window: 60)
            for _ in 0..<2 { _ = throttle.begin(login: "ann", address: "192.0.2.1", now: Self.now) }
            guard case .refuse(let wait) = throttle.begin(login: "ann", address: "192.0.2.1", now: Self.now.addingTimeInterval(10)) else {
                Issue.record("the third attempt was not refused")
                return
            }
            #expect(wait == 50)
            guard case .proceed(let attempt, _) = throttle.begin(login: "ann", address: "192.0.2.1", now: Self.now.addingTimeInterval(61)) else {
                Issue.record("the window did not end")
                return
            }
            throttle.succeeded(attempt)
            // The success forgot this address's failures for ann: the next attempts go ahead, up to the limit again.
            for _ in 0..<2 {
                guard case .proceed = throttle.begin(login: "ann", address: "192.0.2.1", now: Self.now.addingTimeInterval(62)) else {
                    Issue.record("refused after a success")
                    return
                }
            }
            guard case .refuse = throttle.begin(login: "ann", address: "192.0.2.1", now: Self.now.addingTimeInterval(62)) else {
                Issue.record("the limit no longer holds after a success")
                return
            }
        }

        @Test func anAttemptRefusedAsBusyCountsForNothing() {
            let throttle = LoginThrottle(maximumPerPair: 2)
            for _ in 0..<10 {
                guard case .proceed(let attempt, _) = throttle.begin(login: "ann", address: "192.0.2.1", now: Self.now) else {
                    Issue.record("released attempts were counted")
                    return
                }
                throttle.release(attempt)
            }
        }

        @Test func memoryIsBoundedWhateverIsSent() {
            let throttle = LoginThrottle(maximumPerPair: 5, capacity: 300)
            let huge = String(repeating: "x", count: 1 << 20)
            // Refused lookups add nothing.
            for _ in 0..<5 { _ = throttle.begin(login: huge, address: "192.0.2.1", now: Self.now) }
            let afterLimit = throttle.count
            for _ in 0..<1_000 { _ = throttle.begin(login: huge, address: "192.0.2.1", now: Self.now) }
            #expect(throttle.count == afterLimit)
            #expect(afterLimit == 3, "one pair, one login, one address")
            // Logins are cut at 64 characters: two that differ after that are one.
            _ = throttle.begin(login: huge + "a", address: "192.0.2.1", now: Self.now)
            #expect(throttle.count == afterLimit)
            // A flood of distinct names never holds more than the capacity.
            for number in 0..<2_000 {
                _ = throttle.begin(login: "name\(number)-" + huge.prefix(50), address: "198.51.100.\(number % 250)", now: Self.now)
            }
            #expect(throttle.count <= 300)
        }

        @Test func theDecoyAndStoredHashesHaveTheSameCost() async throws {
            let hasher = PasswordHasher()
            let stored = try await hasher.hash("correct horse battery staple")
            let decoy = try await hasher.decoyHash()
            #expect(stored.hasPrefix("$2b$\(PasswordHasher.cost)$"))
            #expect(decoy.hasPrefix("$2b$\(PasswordHasher.cost)$"))
            #expect(PasswordHasher.cost == 12)
            #expect(try await hasher.verify("correct horse battery staple", against: stored))
            #expect(try await !hasher.verify("correct horse battery staple", against: nil))
        }

        @Test func aLoginBodyOverFourKiBIsRefusedBeforeItIsRead() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    let before = try await harness.fingerprint()
                    let body = #"{"login":"\#(String(repeating: "a", count: 8_000))","password":"x"}"#
                    let reply = try await RegistryAPI(client: api.client, token: nil).call(.post, "/api/v1/auth/token", json: body)
                    #expect(reply.status == .contentTooLarge)
                    #expect(reply.errorCode == "PAYLOAD_TOO_LARGE")
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }
    }
}
