import Foundation

/// Where a registered key came from.
public enum KeySource: String, Codable, Sendable, CaseIterable {
    /// Pasted by an administrator (on-premise).
    case manual
    /// Pulled from the authority's feed (cloud); a synchronization never touches manual keys.
    case synchronized
}

/// The ID # of a registered key: a free, editable, unique label chosen by the customer ("Engineering", "SOX").
public enum IDNumber {
    public static let maximumLength = 50

    /// `text` in Unicode NFC and trimmed, or a refusal `INVALID_ID_NUMBER` when empty, over 50 characters or holding
    /// control or format characters (among them the bidirectional overrides, embeddings, isolates and marks).
    ///
    /// NFC, so that an ID # typed composed ("é") and one pasted decomposed ("e" and a combining accent), which look
    /// the same, are one ID #: the store compares the bytes.
    public static func validate(_ text: String) throws(FieldError) -> String {
        let trimmed = text.precomposedStringWithCanonicalMapping.trimmingCharacters(in: .whitespaces)
        // Counted in Unicode scalars as given, as the API description's `maxLength` counts.
        guard !trimmed.isEmpty, text.unicodeScalars.count <= maximumLength,
            !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format })
        else {
            throw FieldError(
                field: "idNumber", code: "INVALID_ID_NUMBER",
                message:
                    "The ID # must be 1 to \(maximumLength) characters without control, formatting or text-direction characters, e.g. \"Engineering\"."
            )
        }
        return trimmed
    }

    /// How ID #s (and logins) are compared: in Unicode NFC (what the validators store), ignoring case.
    public static func folded(_ text: String) -> String {
        text.utf8.allSatisfy { $0 < 0x80 } ? text.lowercased() : text.precomposedStringWithCanonicalMapping.lowercased()
    }
}

/// The status of a registered key at a moment: its dates, and whether the authority revoked it.
public enum KeyStatus {
    public static func of(_ license: LicenseKey, revokedAt: Date?, at now: Date) -> ValidationCode {
        revokedAt != nil ? .revoked : license.validity(at: now)
    }
}

/// What an activation covered of one key, kept with the certificate so changes can be told even after the key is gone.
public struct CoveredKey: Codable, Sendable, Hashable {
    public var serial: String
    public var useType: UseType
    public var users: Int
    public var components: [String]

    public init(_ license: LicenseKey) {
        serial = license.serial
        useType = license.useType
        users = license.users
        components = license.components
    }
}

/// What activating the installation would change: keys, components and seats, plus and minus.
public struct ActivationChange: Codable, Sendable, Hashable {
    public var addedKeys: [String]
    public var removedKeys: [String]
    public var addedComponents: [String]
    public var removedComponents: [String]
    /// Seat changes by use type, e.g. `["nominative": 25, "floating": -10]`; zero changes are left out.
    public var seats: [String: Int]

    public var isEmpty: Bool { addedKeys.isEmpty && removedKeys.isEmpty }

    /// The change from the keys `certified` to the keys `current`.
    public static func between(certified: [CoveredKey], current: [CoveredKey]) -> ActivationChange {
        let before = Set(certified.map(\.serial))
        let after = Set(current.map(\.serial))
        let componentsBefore = Set(certified.flatMap(\.components))
        let componentsAfter = Set(current.flatMap(\.components))
        var seats: [String: Int] = [:]
        for key in current where !before.contains(key.serial) {
            seats[key.useType.rawValue] = SeatRules.adding(seats[key.useType.rawValue] ?? 0, key.users)
        }
        for key in certified where !after.contains(key.serial) {
            seats[key.useType.rawValue] = SeatRules.subtracting(key.users, from: seats[key.useType.rawValue] ?? 0)
        }
        return ActivationChange(
            addedKeys: after.subtracting(before).sorted(), removedKeys: before.subtracting(after).sorted(),
            addedComponents: componentsAfter.subtracting(componentsBefore).sorted(),
            removedComponents: componentsBefore.subtracting(componentsAfter).sorted(),
            seats: seats.filter { $0.value != 0 }
        )
    }
}
