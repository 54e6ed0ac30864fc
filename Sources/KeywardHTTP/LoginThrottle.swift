import Foundation
import NIOConcurrencyHelpers

/// Limits password guessing, per login *and* client address, without letting anyone lock a login out.
///
/// - A login tried from one address: after `maximumPerPair` failures in the window, that address is refused for that
///   login (`429` with the wait) until the window ends. Another address, which has not failed, still signs in.
/// - A login tried from many addresses, or one address trying many logins: past `slowDownAfter` failures in the window
///   each further attempt waits first, longer as failures grow (up to `maximumDelay`), but is never refused, so a
///   correct password still works.
/// - An attempt counts as a failure *before* the password is checked, and is taken back if the password was right:
///   parallel guesses cannot all pass the check before the first one is counted.
///
/// Memory is bounded whatever is sent: logins are folded, cut at 64 characters (their longest valid length) and
/// hashed with a per-process seed, a lookup never adds an entry, entries expire with their window, and the table
/// holds at most `capacity` entries (the oldest go first). In memory: each instance throttles on its own.
public final class LoginThrottle: Sendable {
    public let maximumPerPair: Int
    public let slowDownAfter: Int
    public let maximumDelay: Duration
    public let window: TimeInterval
    public let capacity: Int

    /// Failures counted since `start`, for one key.
    struct Counter {
        var start: Date
        var failures: Int
    }

    /// What a key counts: a login from one address, a login from anywhere, or an address for any login.
    enum Key: Hashable {
        case pair(login: Int, address: String)
        case login(Int)
        case address(String)
    }

    private let counters = NIOLockedValueBox<[Key: Counter]>([:])
    private let seed = UInt64.random(in: .min ... .max)

    public init(
        maximumPerPair: Int = 5, slowDownAfter: Int = 10, maximumDelay: Duration = .seconds(4), window: TimeInterval = 15 * 60,
        capacity: Int = 100_000
    ) {
        self.maximumPerPair = maximumPerPair
        self.slowDownAfter = slowDownAfter
        self.maximumDelay = maximumDelay
        self.window = window
        self.capacity = capacity
    }

    /// What to do with a login attempt.
    public enum Decision: Sendable, Equatable {
        /// Go ahead, after waiting `delay` (zero when nothing is suspicious); the attempt is already counted as a failure.
        case proceed(Attempt, delay: Duration)
        /// Refuse: this address failed this login too often; try again in `retryAfter` seconds.
        case refuse(retryAfter: Int)
    }

    /// One attempt counted as a failure until `succeeded(_:)` takes it back.
    public struct Attempt: Sendable, Equatable {
        fileprivate let keys: [Key]
        fileprivate let at: Date
    }

    /// Counts an attempt for `login` from `address` (after the growing delay), or refuses it with `429
    /// TOO_MANY_ATTEMPTS` and `Retry-After` when that pair, or that address, failed too often. `what` names the attempts
    /// in the sentence ("logins", "sign-ins"). The web UIs and the API's token route all admit their attempts here.
    public func admit(login: String, address: String?, now: Date, what: String) async throws -> Attempt {
        switch begin(login: login, address: address, now: now) {
        case .refuse(let wait):
            var error = APIError(
                .tooManyRequests, code: "TOO_MANY_ATTEMPTS",
                message: "Too many failed \(what) from this address. Try again in \(wait) seconds, or from another device.",
                details: ["retryAfter": .int(wait)])
            error.headers[.retryAfter] = "\(wait)"
            throw error
        case .proceed(let attempt, let delay):
            if delay > .zero { try await Task.sleep(for: delay) }
            return attempt
        }
    }

    /// Counts an attempt for `login` from `address` and says whether it may go ahead. Counts nothing when refused.
    public func begin(login: String, address: String?, now: Date) -> Decision {
        let keys = keys(login: login, address: address)
        return counters.withLockedValue { counters in
            func current(_ key: Key) -> Counter? {
                guard let counter = counters[key], now.timeIntervalSince(counter.start) < window else { return nil }
                return counter
            }
            if let pair = current(keys[0]), pair.failures >= maximumPerPair {
                return .refuse(retryAfter: max(1, Int((window - now.timeIntervalSince(pair.start)).rounded(.up))))
            }
            let worst = keys.dropFirst().map { current($0)?.failures ?? 0 }.max() ?? 0
            for key in keys {
                var counter = current(key) ?? Counter(start: now, failures: 0)
                counter.failures += 1
                counters[key] = counter
            }
            if counters.count > capacity { prune(&counters, now: now) }
            return .proceed(Attempt(keys: keys, at: now), delay: delay(afterFailures: worst))
        }
    }

    /// The password was right: the attempt is taken back and the address's failures for this login are forgotten.
    /// Failures of the login from other addresses stay (they may be someone else's guesses).
    public func succeeded(_ attempt: Attempt) {
        counters.withLockedValue { counters in
            for key in attempt.keys {
                if case .pair = key {
                    counters.removeValue(forKey: key)
                } else if var counter = counters[key], counter.start <= attempt.at {
                    counter.failures = max(0, counter.failures - 1)
                    counters[key] = counter
                }
            }
        }
    }

    /// The attempt never reached the password (the server was too busy to compare it): it counts for nothing.
    public func release(_ attempt: Attempt) {
        counters.withLockedValue { counters in
            for key in attempt.keys {
                guard var counter = counters[key], counter.start <= attempt.at else { continue }
                counter.failures = max(0, counter.failures - 1)
                counters[key] = counter
            }
        }
    }

    /// How many entries the throttle holds (for tests and the memory check).
    public var count: Int { counters.withLockedValue { $0.count } }

    /// The wait before an attempt once `failures` were counted against its login or address: none up to
    /// `slowDownAfter`, then doubling from a quarter of a second, capped at `maximumDelay`.
    func delay(afterFailures failures: Int) -> Duration {
        guard failures >= slowDownAfter else { return .zero }
        let doublings = min(failures - slowDownAfter, 16)
        return min(.milliseconds(250) * (1 << doublings), maximumDelay)
    }

    private func prune(_ counters: inout [Key: Counter], now: Date) {
        counters = counters.filter { now.timeIntervalSince($0.value.start) < window }
        guard counters.count > capacity * 9 / 10 else { return }
        // Still full of live entries (a flood of distinct names): keep the newest nine tenths.
        let kept = counters.sorted { $0.value.start > $1.value.start }.prefix(capacity * 9 / 10)
        counters = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
    }

    /// The keys an attempt counts against, the pair first. A request without a known address (a Unix socket, a test
    /// client) counts as one address of its own.
    private func keys(login: String, address: String?) -> [Key] {
        var hasher = Hasher()
        hasher.combine(seed)
        hasher.combine(login.prefix(64).lowercased())
        let folded = hasher.finalize()
        let bounded = String((address ?? "unknown").prefix(64))
        return [.pair(login: folded, address: bounded), .login(folded), .address(bounded)]
    }
}
