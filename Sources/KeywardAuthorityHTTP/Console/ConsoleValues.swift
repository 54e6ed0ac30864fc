import Foundation
import KeywardAuthority
import KeywardDomain
import KeywardStore
import KeywardWeb

/// How console pages show the authority's records, and read the key forms (an agreement's lines, a switch).
enum ConsoleValues {
    /// A key as templates show it.
    static func key(_ key: IssuedKeyRecord, catalog: Catalog, now: Date) -> [String: Any] {
        let license = key.license
        let status: (css: String, text: String) =
            key.isRevoked
            ? ("expired", "Revoked")
            : license.expiresAt.map { $0 <= now } == true
                ? ("expired", "Expired") : license.validFrom > now ? ("notyet", "Not yet valid") : ("valid", "Valid")
        var values: [String: Any] = [
            "serial": key.serial, "organizationId": license.organization.id, "legalName": license.organization.legalName,
            "profile": license.profile.rawValue, "useType": license.useType.rawValue, "users": license.users,
            "purchaseType": license.purchaseType.rawValue, "suiteVersion": license.suiteVersion, "validFrom": WebFormatting.day(license.validFrom),
            "issuedAt": WebFormatting.time(license.issuedAt), "statusClass": status.css, "statusText": status.text, "kid": key.kid,
            "isRevoked": key.isRevoked, "componentCodes": license.components.joined(separator: ", "),
            "components": license.components.map { code in
                let component = catalog.component(code)
                return ["code": code, "name": component?.name ?? code, "menuCount": component?.menus.count ?? 0] as [String: Any]
            },
        ]
        if let expires = license.expiresAt { values["expiresAt"] = WebFormatting.day(expires) }
        if let reason = key.revocationReason { values["revocationReason"] = reason }
        if let revokedAt = key.revokedAt { values["revokedAt"] = WebFormatting.time(revokedAt) }
        if let replacement = key.replacedBy { values["replacedBy"] = replacement }
        if let agreement = key.agreementId { values["agreementId"] = agreement }
        if let line = key.line { values["line"] = line }
        return values
    }

    /// The catalog as a key form offers it: each component with its menus and the lowest profile of each, ticked when in
    /// `chosen`.
    static func components(_ catalog: Catalog, chosen: Set<String>) -> [[String: Any]] {
        catalog.components.map { component in
            [
                "code": component.code, "name": component.name, "checked": chosen.contains(component.code),
                "menus": component.menus.map { ["name": $0.name, "profile": $0.profile.rawValue] },
            ]
        }
    }

    /// The values a key form shows again: what was typed, under `prefix` (`lines[0].` for an agreement's first line).
    static func typed(_ fields: FormFields, prefix: String) -> [String: Any] {
        var values: [String: Any] = [:]
        for name in ["profile", "useType", "users", "purchaseType", "validFrom", "expiresAt", "suiteVersion"] {
            if let value = fields[prefix + name] { values[name] = value }
        }
        for name in ["profile", "useType", "purchaseType"] {
            if let value = fields[prefix + name] { values[name + "_" + value] = true }
        }
        return values
    }

    /// A key specification from a form's fields under `prefix`, or the problems of each field (named as the API names
    /// them: `users`, or `lines[1].users` with the prefix `lines[1].`). Only what the form itself cannot say is
    /// checked here; the rules of a key are the service's.
    static func specification(_ fields: FormFields, prefix: String) -> (LicenseKeySpecification?, [FieldError]) {
        var problems: [FieldError] = []
        func field(_ name: String) -> String { (fields[prefix + name] ?? "").trimmingCharacters(in: .whitespaces) }
        func problem(_ name: String, _ code: String, _ message: String) {
            problems.append(FieldError(field: prefix + name, code: code, message: message))
        }
        let profile = Profile(rawValue: field("profile"))
        if profile == nil { problem("profile", "INVALID_PROFILE", "Choose the profile: manager, staff, basic or view.") }
        let useType = UseType(rawValue: field("useType"))
        if useType == nil { problem("useType", "INVALID_USE_TYPE", "Choose the use type: nominative (named seats) or floating (concurrent).") }
        let users = Int(field("users"))
        if users == nil { problem("users", "INVALID_USERS", "Type the number of users, a whole number of at least 1.") }
        let purchaseType = PurchaseType(rawValue: field("purchaseType"))
        if purchaseType == nil { problem("purchaseType", "INVALID_PURCHASE_TYPE", "Choose the purchase type: sale, trial, monthly or rental.") }
        func date(_ name: String) -> Date? {
            let text = field(name)
            guard !text.isEmpty else { return nil }
            guard let date = Timestamp.parseDayOrTimestamp(text) else {
                problem(name, "INVALID_DATE", "Type a date as YYYY-MM-DD, e.g. 2027-12-31.")
                return nil
            }
            return date
        }
        let validFrom = date("validFrom")
        let expiresAt = date("expiresAt")
        let components = fields.all(prefix + "components")
        let version = field("suiteVersion")
        guard problems.isEmpty, let profile, let useType, let users, let purchaseType else { return (nil, problems) }
        return (
            LicenseKeySpecification(
                profile: profile, useType: useType, users: users, purchaseType: purchaseType, components: components, validFrom: validFrom,
                expiresAt: expiresAt, suiteVersion: version.isEmpty ? nil : version), []
        )
    }

    /// Problems by field, for the templates' `errors.<field>`; a field's first problem is the one shown.
    static func errors(_ problems: [FieldError]) -> [String: String] {
        var errors: [String: String] = [:]
        for problem in problems where errors[problem.field] == nil { errors[problem.field] = problem.message }
        return errors
    }
}
