import Foundation
import KeywardDomain

/// Where a directory user or group comes from.
public enum DirectorySource: String, Sendable, Hashable, Codable {
    case scim, ldap
}

/// A user as the directory last sent them, with what the registry made of it.
public struct DirectoryUserRecord: Sendable, Hashable {
    /// The registry's id of the user in the directory's protocol (SCIM's `id`).
    public var id: String
    public var source: DirectorySource
    public var login: String
    public var name: String
    /// The e-mail the registry shows: the directory's primary (or first) address when it is a valid one, else empty.
    public var email: String
    public var externalId: String?
    /// What the directory says (SCIM `active`).
    public var directoryActive: Bool
    /// An administrator disabled the user in the registry; the directory does not undo that.
    public var locallyDisabled: Bool
    /// The attributes as the directory sent them (without `id`, `meta`, `groups` and `password`).
    public var attributes: JSONValue
    public var createdAt: Date
    public var modifiedAt: Date
    public var version: Int64
    /// The directory groups the user is a member of.
    public var groups: [DirectoryGroupReference]

    /// Whether the user may use the suite: the directory says so and no administrator disabled them here.
    public var active: Bool { directoryActive && !locallyDisabled }
}

/// A directory group as a user's `groups` names it.
public struct DirectoryGroupReference: Sendable, Hashable, Codable {
    public var id: String
    public var displayName: String

    public init(id: String, displayName: String) {
        self.id = id
        self.displayName = displayName
    }
}

/// What a directory says of a user, checked: a create or a whole replacement.
public struct DirectoryUserWrite: Sendable, Hashable {
    public var login: String
    public var name: String
    public var email: String
    public var externalId: String?
    public var active: Bool
    public var attributes: JSONValue

    public init(login: String, name: String, email: String, externalId: String?, active: Bool, attributes: JSONValue) {
        self.login = login
        self.name = name
        self.email = email
        self.externalId = externalId
        self.active = active
        self.attributes = attributes
    }
}

/// A directory group with its members.
public struct DirectoryGroupRecord: Sendable, Hashable {
    public var id: String
    public var source: DirectorySource
    public var displayName: String
    public var externalId: String?
    /// The attributes as the directory sent them (without `id`, `meta` and `members`).
    public var attributes: JSONValue
    public var createdAt: Date
    public var modifiedAt: Date
    public var version: Int64
    /// Members in the order they joined (empty when read without them).
    public var members: [DirectoryMember]
    /// How many members it has, read with them or not.
    public var memberCount: Int
    /// The access groups that take users from it, by ID #.
    public var accessGroups: [String]
}

/// A member of a directory group: the user's directory id, login and name.
public struct DirectoryMember: Sendable, Hashable {
    public var id: String
    public var login: String
    public var name: String
}

/// What a directory says of a group, checked. `members` are directory user ids; `nil` leaves the members as they are.
public struct DirectoryGroupWrite: Sendable, Hashable {
    public var displayName: String
    public var externalId: String?
    public var attributes: JSONValue
    public var members: [String]?

    public init(displayName: String, externalId: String?, attributes: JSONValue, members: [String]?) {
        self.displayName = displayName
        self.externalId = externalId
        self.attributes = attributes
        self.members = members
    }
}

/// A user the directory puts in an access group who found no seat on its key (`SEAT_LIMIT_EXCEEDED`): not a member
/// until a seat frees up.
public struct AssignmentErrorRecord: Sendable, Hashable {
    public var id: Int64
    public var login: String
    public var accessGroup: String
    public var keySerial: String
    public var keyIdNumber: String?
    public var limit: Int
    public var inUse: Int
    public var requested: Int
    public var createdAt: Date
    public var retriedAt: Date?

    public var code: String { "SEAT_LIMIT_EXCEEDED" }

    public var message: String { "\(login) is not in access group \(accessGroup): " + shortage }

    /// The key's figures alone, for pages that name the user and the group beside it.
    public var shortage: String {
        SeatShortage(keySerial: keySerial, keyIdNumber: keyIdNumber, limit: limit, inUse: inUse, requested: requested).message
    }
}

/// What a directory write did to access, for the entitlement snapshot and the answer: the users and assignments it
/// touched, and how many users it left without a seat.
public struct DirectoryEffect: Sendable, Hashable {
    public var change = AccessChange()
    public var added = 0
    public var removed = 0
    public var assignmentErrors = 0
    public var retried = 0
    /// Removals held by the mass-removal guard, one per access group.
    public var held = 0

    public init() {}

    mutating func assigned(_ login: String, group idNumber: String) {
        change.assignments[idNumber, default: []].insert(login)
    }

    mutating func merge(_ other: DirectoryEffect) {
        change.users.formUnion(other.change.users)
        change.groups.formUnion(other.change.groups)
        for (group, logins) in other.change.assignments { change.assignments[group, default: []].formUnion(logins) }
        added += other.added
        removed += other.removed
        assignmentErrors += other.assignmentErrors
        retried += other.retried
        held += other.held
    }
}

/// The mass-removal guard (DESIGN.md section 10): a directory change that would take access from more than `share` of
/// an access group's users, and from at least `minimum` of them, is held for an administrator to confirm.
public struct RemovalGuard: Sendable, Hashable {
    public var share: Double
    public var minimum: Int
    /// Who made the change, for the held change's record: `directory:scim`, `directory:ldap`.
    public var actor: String

    public init(share: Double = 0.2, minimum: Int = 10, actor: String) {
        self.share = share
        self.minimum = minimum
        self.actor = actor
    }

    /// Whether removing `removed` of an access group's `size` users is held.
    public func holds(removing removed: Int, of size: Int) -> Bool {
        removed >= minimum && Double(removed) > share * Double(size)
    }
}

/// A held directory change: who would lose access to which access group.
public struct HeldChangeRecord: Sendable, Hashable {
    public enum Status: String, Sendable { case held, confirmed, discarded }

    public var id: Int64
    public var accessGroup: String
    public var actor: String
    public var logins: [String]
    public var removed: Int
    public var groupSize: Int
    public var status: Status
    public var createdAt: Date
    public var decidedAt: Date?
    public var decidedBy: String?

    /// What the administrator is told.
    public var message: String {
        "A directory change would take access group \(accessGroup) from \(removed) of its \(groupSize) users at once; it is held until you confirm or discard it."
    }
}
