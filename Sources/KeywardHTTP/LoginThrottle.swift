import Foundation
import NIOConcurrencyHelpers

/// Counts failed logins per login and per client address in a sliding window, to stop password guessing.
///
/// In memory: each instance throttles on its own, which bounds guessing to instances × limit per window.
public final class LoginThrottle: Sendable {
    public let maximumPerLogin: Int
    public let maximumPerAddress: Int
    public let window: TimeInterval
    private let failures = NIOLockedValueBox<[String: [Date]]>([:])

    public init(maximumPerLogin: Int = 5, maximumPerAddress: Int = 20, window: TimeInterval = 15 * 60) {
        self.maximumPerLogin = maximumPerLogin
        self.maximumPerAddress = maximumPerAddress
        self.window = window
    }

    /// Seconds to wait before trying again, or `nil` when a login attempt may go ahead.
    public func retryAfter(login: String, address: String?, now: Date) -> Int? {
        failures.withLockedValue { failures in
            var wait: TimeInterval = 0
            for (key, limit) in keys(login: login, address: address) {
                let recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
                failures[key] = recent
                if recent.count >= limit, let oldest = recent.first { wait = max(wait, window - now.timeIntervalSince(oldest)) }
            }
            return wait > 0 ? Int(wait.rounded(.up)) : nil
        }
    }

    /// Records a failed attempt.
    public func recordFailure(login: String, address: String?, now: Date) {
        failures.withLockedValue { failures in
            for (key, _) in keys(login: login, address: address) { failures[key, default: []].append(now) }
            if failures.count > 100_000 { failures = failures.filter { $0.value.contains { now.timeIntervalSince($0) < window } } }
        }
    }

    /// Forgets the failures of a login that just succeeded.
    public func recordSuccess(login: String) {
        _ = failures.withLockedValue { $0.removeValue(forKey: "login:" + login.lowercased()) }
    }

    private func keys(login: String, address: String?) -> [(String, Int)] {
        var keys = [("login:" + login.lowercased(), maximumPerLogin)]
        if let address { keys.append(("address:" + address, maximumPerAddress)) }
        return keys
    }
}
