import Foundation

/// Everything the seat and access rules (DESIGN.md section 4) read: users, access groups, keys, open sessions and the
/// catalog. Plain values: the store loads them, the snapshot compiles them, tests build them by hand.
public struct AccessModel: Sendable, Hashable {
    /// A user of the suite. `login` is as typed; rules compare logins folded to lower case.
    public struct User: Sendable, Hashable {
        public var login: String
        public var active: Bool
        /// The built-in administrator: administers the registry, holds no seat.
        public var builtin: Bool

        public init(login: String, active: Bool = true, builtin: Bool = false) {
            self.login = login
            self.active = active
            self.builtin = builtin
        }
    }

    /// One user's place in an access group; `order` ranks assignments, oldest first, for over-limit marking.
    public struct Member: Sendable, Hashable {
        public var login: String
        public var order: Int64

        public init(login: String, order: Int64) {
            self.login = login
            self.order = order
        }
    }

    /// An access group: one key, one component of it, the menus it grants, its users.
    public struct Group: Sendable, Hashable {
        /// The store's row id, which names the group in an ``AccessPatch``; groups built by hand may leave it out.
        public var id: Int64?
        public var idNumber: String
        public var keySerial: String
        public var component: String
        public var menus: [String]
        public var active: Bool
        public var members: [Member]

        public init(
            id: Int64? = nil, idNumber: String, keySerial: String, component: String, menus: [String], active: Bool = true,
            members: [Member] = []
        ) {
            self.id = id
            self.idNumber = idNumber
            self.keySerial = keySerial
            self.component = component
            self.menus = menus
            self.active = active
            self.members = members
        }
    }

    /// A registered key, as far as access is concerned.
    public struct Key: Sendable, Hashable {
        public var serial: String
        public var profile: Profile
        public var useType: UseType
        public var users: Int
        public var components: [String]
        public var validFrom: Date
        public var expiresAt: Date?
        public var revoked: Bool
        /// Whether the activation certificate in force covers it.
        public var covered: Bool
        /// When the certificate that covers it expires, if it does: from then on it is covered no more.
        public var coveredUntil: Date?

        public init(
            serial: String, profile: Profile, useType: UseType, users: Int, components: [String], validFrom: Date,
            expiresAt: Date?, revoked: Bool = false, covered: Bool = true, coveredUntil: Date? = nil
        ) {
            self.serial = serial
            self.profile = profile
            self.useType = useType
            self.users = users
            self.components = components
            self.validFrom = validFrom
            self.expiresAt = expiresAt
            self.revoked = revoked
            self.covered = covered
            self.coveredUntil = coveredUntil
        }

        /// Valid at `now`: started, not expired, not revoked.
        public func isValid(at now: Date) -> Bool {
            !revoked && validFrom <= now && (expiresAt.map { now < $0 } ?? true)
        }
    }

    /// An open floating session: it holds a seat on its key until its lease expires.
    public struct Session: Sendable, Hashable {
        public var id: String
        public var login: String
        public var keySerial: String
        public var leaseExpiresAt: Date

        public init(id: String, login: String, keySerial: String, leaseExpiresAt: Date) {
            self.id = id
            self.login = login
            self.keySerial = keySerial
            self.leaseExpiresAt = leaseExpiresAt
        }
    }

    public var users: [User]
    public var groups: [Group]
    public var keys: [Key]
    public var sessions: [Session]
    public var catalog: Catalog

    public init(users: [User], groups: [Group], keys: [Key], sessions: [Session] = [], catalog: Catalog) {
        self.users = users
        self.groups = groups
        self.keys = keys
        self.sessions = sessions
        self.catalog = catalog
    }

    /// How logins are compared: case is ignored. Most logins are lower-case ASCII already, and are returned as they are.
    public static func fold(_ login: String) -> String {
        login.utf8.allSatisfy({ $0 < 0x80 && !(0x41...0x5A).contains($0) }) ? login : login.lowercased()
    }
}
