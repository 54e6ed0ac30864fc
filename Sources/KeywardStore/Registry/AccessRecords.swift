import Foundation
import KeywardDomain

/// An access group as stored: `{idNumber, name, keySerial, component, menus, active}` and its users.
public struct AccessGroupRecord: Sendable, Hashable, Codable {
    public var idNumber: String
    public var name: String
    public var keySerial: String
    public var component: String
    public var menus: [String]
    public var active: Bool
    /// The users' logins, in assignment order.
    public var users: [String]

    public init(idNumber: String, name: String, keySerial: String, component: String, menus: [String], active: Bool, users: [String] = []) {
        self.idNumber = idNumber
        self.name = name
        self.keySerial = keySerial
        self.component = component
        self.menus = menus
        self.active = active
        self.users = users
    }
}

/// A user's session in the suite: open while its lease is renewed, then kept as history.
public struct UserSession: Sendable, Hashable, Codable {
    public enum EndReason: String, Sendable, Codable { case logout, expired, disconnected }

    public var id: String
    public var login: String
    public var keySerial: String
    public var floating: Bool
    public var ip: String?
    public var startedAt: Date
    public var leaseExpiresAt: Date
    public var endedAt: Date?
    public var endReason: EndReason?

    public init(
        id: String, login: String, keySerial: String, floating: Bool, ip: String?, startedAt: Date, leaseExpiresAt: Date,
        endedAt: Date? = nil, endReason: EndReason? = nil
    ) {
        self.id = id
        self.login = login
        self.keySerial = keySerial
        self.floating = floating
        self.ip = ip
        self.startedAt = startedAt
        self.leaseExpiresAt = leaseExpiresAt
        self.endedAt = endedAt
        self.endReason = endReason
    }
}

extension AccessModel.Session {
    /// The part of a stored session the access rules read.
    public init(_ session: UserSession) {
        self.init(id: session.id, login: session.login, keySerial: session.keySerial, leaseExpiresAt: session.leaseExpiresAt)
    }
}

/// A key a session may be opened on, in order of preference.
public struct SessionCandidate: Sendable, Hashable {
    public let serial: String
    public let floating: Bool
    public let users: Int

    public init(serial: String, floating: Bool, users: Int) {
        self.serial = serial
        self.floating = floating
        self.users = users
    }
}

extension StoreError {
    /// `SEAT_LIMIT_EXCEEDED`, with the figures.
    public static func seatLimit(_ shortage: SeatShortage) -> StoreError {
        StoreError(
            code: "SEAT_LIMIT_EXCEEDED", message: shortage.message, kind: .conflict,
            details: [
                "keySerial": .string(shortage.keySerial), "limit": .int(shortage.limit), "inUse": .int(shortage.inUse),
                "requested": .int(shortage.requested),
            ].merging(shortage.keyIdNumber.map { ["keyIdNumber": .string($0)] } ?? [:]) { a, _ in a })
    }

    static func unknownUsers(_ logins: [String]) -> StoreError {
        StoreError(
            code: "UNKNOWN_USER",
            message:
                "There is no user \(logins.prefix(10).joined(separator: ", "))\(logins.count > 10 ? " and \(logins.count - 10) more" : ""). Create them first.",
            kind: .invalid, details: ["logins": .array(logins.map(JSONValue.string))])
    }

    static func unknownGroup(_ idNumber: String) -> StoreError {
        StoreError(code: "UNKNOWN_GROUP", message: "There is no access group \(idNumber).", kind: .notFound)
    }

    static func unknownUser(_ login: String) -> StoreError {
        StoreError(code: "UNKNOWN_USER", message: "There is no user \(login).", kind: .notFound)
    }
}
