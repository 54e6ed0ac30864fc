import Foundation
import KeywardDomain
import KeywardStore

extension Registry {
    /// How long a session's lease lasts between heartbeats.
    public static let sessionLease: TimeInterval = 15 * 60

    /// The suite's login: a session on the best key with room (a nominative seat the user holds first), or
    /// `NO_ACCESS` (no group gives the user anything usable) or `NO_SEAT_AVAILABLE` (every floating seat is taken).
    public func openSession(login text: String, ip: String?, actor: String) async throws -> UserSession {
        let login = try UserRules.login(text)
        if let ip, ip.count > 64 || ip.contains(where: { $0.isWhitespace }) {
            throw RegistryError.invalid(
                FieldError(field: "ip", code: "INVALID_IP", message: "The ip is the user's address, e.g. 192.0.2.10 or 2001:db8::1."))
        }
        guard let user = try await store.user(login), !user.builtin else {
            throw RegistryError.refused(code: "UNKNOWN_USER", message: "There is no user \(login).", kind: .notFound)
        }
        let candidates = access.snapshot.sessionCandidates(login: login, at: now()).map {
            SessionCandidate(serial: $0.serial, floating: $0.floating, users: $0.users)
        }
        guard user.active else {
            throw RegistryError.refused(
                code: "USER_DISABLED", message: "The user \(login) is disabled. An administrator can enable them.", kind: .forbidden)
        }
        guard !candidates.isEmpty else {
            throw RegistryError.refused(
                code: "NO_ACCESS", message: "No active access group gives \(login) a usable key: ask an administrator for access.", kind: .forbidden)
        }
        let session = try await access.notifying(.sessions(login: login)) {
            try await store.openSession(login: login, candidates: candidates, ip: ip, lease: Self.sessionLease, now: now())
        }
        try await access.sessionOpenedOrRenewed(session.id)
        return session
    }

    /// Renews a session's lease, committed with the other heartbeats waiting at the same moment (`SessionRenewals`).
    public func heartbeat(_ id: String) async throws -> UserSession {
        try await renewals.renew(id, registry: self)
    }

    /// How many transactions the heartbeats have been committed in, so far.
    public var heartbeatCommits: Int { renewals.commits }

    public func endSession(_ id: String, reason: UserSession.EndReason, actor: String) async throws -> UserSession {
        let session = try await access.notifying(.session(id: id)) { try await store.endSession(id, reason: reason, actor: actor, now: now()) }
        try await access.sessionEnded(session)
        return session
    }

    /// Disconnects one user's sessions, or everyone's. A login that is not one is `INVALID_LOGIN` (it would otherwise
    /// reach the audit log as the event's target).
    public func disconnect(login text: String?, actor: String) async throws -> Int {
        let login = try text.map { text throws(RegistryError) in try UserRules.login(text) }
        let count = try await access.notifying(login.map { .sessions(login: $0) } ?? .allSessions) {
            try await store.disconnect(login: login, actor: actor, now: now())
        }
        try await access.refreshSessions()
        return count
    }

    /// Loads the saved catalog (if the authority sent one) and rebuilds the snapshot with it: at start, and when
    /// another instance changed access (`AccessWatcher`).
    public func loadAccess() async throws {
        try await access.reload()
    }
}
