import Foundation

/// Seat arithmetic (DESIGN.md section 4). Nominative: each distinct active user in any group bound to the key holds
/// one seat, oldest assignment first; those beyond the key's number of users are over the limit and have no access.
/// Floating: each open session holds one. Groups hold their users' seats whether active or not, so switching a
/// group back on never needs a seat that may have gone.
public enum SeatRules {
    /// The users holding a seat on each nominative key, oldest assignment first, by key serial. Folded logins.
    public static func nominativeHolders(_ model: AccessModel) -> [String: [String]] {
        let eligible = Set(model.users.filter { $0.active && !$0.builtin }.map { AccessModel.fold($0.login) })
        let nominative = Set(model.keys.filter { $0.useType == .nominative }.map(\.serial))
        var first: [String: [String: Int64]] = [:]
        for group in model.groups where nominative.contains(group.keySerial) {
            for member in group.members {
                let login = AccessModel.fold(member.login)
                guard eligible.contains(login) else { continue }
                first[group.keySerial, default: [:]][login] = min(first[group.keySerial]?[login] ?? .max, member.order)
            }
        }
        return first.mapValues { orders in orders.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key) }
    }

    /// Users holding a seat within the limit, and over it, on each nominative key.
    public static func allocation(_ model: AccessModel) -> [String: (within: [String], over: [String])] {
        let limits = Dictionary(model.keys.map { ($0.serial, $0.users) }) { a, _ in a }
        return nominativeHolders(model).reduce(into: [:]) { result, entry in
            let limit = limits[entry.key] ?? 0
            result[entry.key] = (Array(entry.value.prefix(limit)), Array(entry.value.dropFirst(limit)))
        }
    }

    /// `a + b` seats, held at `Int.max` or `Int.min` instead of trapping: keys stored before the authority's cap on
    /// users may carry counts whose sum does not fit.
    public static func adding(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    /// `a - b` seats, held at `Int.max` or `Int.min` instead of trapping.
    public static func subtracting(_ b: Int, from a: Int) -> Int {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (b < 0 ? .max : .min) : difference
    }

    /// Open sessions on each floating key at `now`.
    public static func openSessions(_ model: AccessModel, at now: Date) -> [String: Int] {
        model.sessions.filter { $0.leaseExpiresAt > now }.reduce(into: [:]) { $0[$1.keySerial, default: 0] += 1 }
    }
}

/// A refusal for want of seats, with the figures an administrator needs.
public struct SeatShortage: Error, Sendable, Hashable, Codable {
    public let keySerial: String
    /// The ID # the administrator gave the key, by which the message names it.
    public let keyIdNumber: String?
    public let limit: Int
    public let inUse: Int
    public let requested: Int

    public init(keySerial: String, keyIdNumber: String? = nil, limit: Int, inUse: Int, requested: Int) {
        self.keySerial = keySerial
        self.keyIdNumber = keyIdNumber
        self.limit = limit
        self.inUse = inUse
        self.requested = requested
    }

    public var message: String {
        "Key \(KeyName.of(serial: keySerial, idNumber: keyIdNumber)) has \(limit) seats: \(inUse) are in use and this needs \(requested) more. Free seats, or use a key with more users."
    }
}

/// How pages and refusals name a registered key: by the ID # the administrator chose, the serial beside it.
public enum KeyName {
    /// `"Engineering" (KW-…)`, or the serial alone when the ID # is the serial (a synchronized key not renamed yet).
    public static func of(serial: String, idNumber: String?) -> String {
        guard let idNumber, idNumber != serial, !idNumber.isEmpty else { return serial }
        return "\u{201C}\(idNumber)\u{201D} (\(serial))"
    }
}
