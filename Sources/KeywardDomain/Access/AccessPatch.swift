import Foundation

/// What one access change touched, read back from the store after it committed: the rows as they are now. An
/// ``EntitlementSnapshot`` applies it to itself (``EntitlementSnapshot/applying(_:)``) instead of being compiled again
/// from every user, group and key. Each part names what was touched and gives its state now, so applying a patch twice,
/// or a patch read after a later change, gives the same snapshot as a full rebuild.
public struct AccessPatch: Sendable, Hashable {
    /// A user as stored now, with every group they are in.
    public struct UserRow: Sendable, Hashable {
        public var user: AccessModel.User
        /// Their assignments: group id and assignment order (the member row's id).
        public var memberships: [Assignment]

        public init(user: AccessModel.User, memberships: [Assignment]) {
            self.user = user
            self.memberships = memberships
        }
    }

    /// One user's place in one group, by the group's id.
    public struct Assignment: Sendable, Hashable {
        public var group: Int64
        public var order: Int64

        public init(group: Int64, order: Int64) {
            self.group = group
            self.order = order
        }
    }

    /// A (group, user) pair whose assignment was made or undone.
    public struct Pair: Sendable, Hashable {
        public var group: Int64
        /// The login, folded as ``AccessModel/fold(_:)`` does.
        public var login: String

        public init(group: Int64, login: String) {
            self.group = group
            self.login = AccessModel.fold(login)
        }
    }

    /// Touched users by folded login (``AccessModel/fold(_:)``): their row now, or nil when there is no such user.
    public var users: [String: UserRow?]
    /// Touched groups by folded ID # (``IDNumber/folded(_:)``): the row now (with its id and every member), or nil when
    /// no group has that ID # any more (deleted, or renamed: the new ID # is touched too).
    public var groups: [String: AccessModel.Group?]
    /// Touched assignments: the order now, or nil when the user is not in the group any more.
    public var assignments: [Pair: Int64?]
    /// Every registered key, when any of them changed (registered, renewed, revoked, removed, covered by an activation).
    public var keys: [AccessModel.Key]?

    public init(
        users: [String: UserRow?] = [:], groups: [String: AccessModel.Group?] = [:], assignments: [Pair: Int64?] = [:],
        keys: [AccessModel.Key]? = nil
    ) {
        self.users = users
        self.groups = groups
        self.assignments = assignments
        self.keys = keys
    }
}
