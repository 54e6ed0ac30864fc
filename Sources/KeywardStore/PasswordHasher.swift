import Dispatch
import Foundation
import HummingbirdBcrypt
import KeywardDomain
import NIOConcurrencyHelpers

/// bcrypt, run one at a time on a thread of its own instead of the cooperative pool that serves every request: a
/// flood of logins then costs one core at most, and `/health/live` and the entitlement checks keep answering. The
/// registry's users and the authority's operators both sign in through it.
///
/// Every stored hash and the decoy compared against for unknown logins have the same cost, so the time of a login
/// does not tell whether the login exists. At most `maximumWaiting` comparisons wait their turn; past that, a login
/// is refused at once with `503 BUSY` instead of queueing without end.
public final class PasswordHasher: Sendable {
    /// Refused at once: too many comparisons wait already.
    public static let busy = StoreError(
        code: "BUSY", message: "The server is checking too many passwords at once. Try again in a few seconds.", kind: .unavailable)

    /// The bcrypt cost of every password the registry and the authority store.
    public static let cost: UInt8 = 12

    public let cost: UInt8
    public let maximumWaiting: Int
    private let queue = DispatchQueue(label: "keyward.bcrypt", qos: .userInitiated)
    private let waiting = NIOLockedValueBox(0)
    private let decoy = NIOLockedValueBox<String?>(nil)

    public init(cost: UInt8 = PasswordHasher.cost, maximumWaiting: Int = 64) {
        self.cost = cost
        self.maximumWaiting = maximumWaiting
    }

    /// The hash of `password` to store.
    public func hash(_ password: String) async throws -> String {
        try await run { [cost] in Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`; with `nil` (an unknown login, or a user without a password) it is compared
    /// with the decoy, which takes the same time, and is `false`.
    public func verify(_ password: String, against hash: String?) async throws -> Bool {
        guard let stored = hash else {
            let decoy = try await decoyHash()
            _ = try await run { Bcrypt.verify(password, hash: decoy) }
            return false
        }
        return try await run { Bcrypt.verify(password, hash: stored) }
    }

    /// A hash of a random password at the stored cost, made once on first use.
    public func decoyHash() async throws -> String {
        if let made = decoy.withLockedValue({ $0 }) { return made }
        let made = try await run { [cost] in Bcrypt.hash(UUID().uuidString, cost: cost) }
        return decoy.withLockedValue { current in
            if let current { return current }
            current = made
            return made
        }
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
        let admitted = waiting.withLockedValue { count in
            guard count < maximumWaiting else { return false }
            count += 1
            return true
        }
        guard admitted else { throw Self.busy }
        defer { waiting.withLockedValue { $0 -= 1 } }
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }
}
