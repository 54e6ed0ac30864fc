import Foundation
import KeywardDomain
import SQLKit

/// Rows map to `Codable` row structs whose property names are the columns in camel case (`started_at` is
/// `startedAt`). Times stay BIGINT milliseconds (`Int64` properties, see `Time.swift`), so both backends store and
/// decode them alike; a `nil` property is written as NULL, so that the rows of one multi-row insert have the same columns.
extension SQLRowDecoder {
    static let columns = SQLRowDecoder(keyDecodingStrategy: .convertFromSnakeCase)
}

extension SQLQueryEncoder {
    static let columns = SQLQueryEncoder(keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil)
}

/// A stored enum column read back, or `STORE_CORRUPT` naming the column when it holds a value this build does not know.
func storedValue<T: RawRepresentable>(_ value: String, table: String, column: String) throws -> T where T.RawValue == String {
    guard let value = T(rawValue: value) else {
        throw StoreError(code: "STORE_CORRUPT", message: "\(table).\(column) holds an unknown value.")
    }
    return value
}

/// The columns a stored license key keeps in both services' tables (`registered_keys`, `license_keys`).
protocol LicenseKeyColumns {
    var serial: String { get }
    var organizationId: String { get }
    var legalName: String { get }
    var profile: String { get }
    var useType: String { get }
    var users: Int64 { get }
    var purchaseType: String { get }
    var suiteVersion: String { get }
    /// Comma-separated component codes.
    var components: String { get }
    var validFrom: Int64 { get }
    var expiresAt: Int64? { get }
    var issuedAt: Int64 { get }
}

extension LicenseKeyColumns {
    /// The license key these columns hold, as it was signed.
    func license(table: String) throws -> LicenseKey {
        LicenseKey(
            serial: serial, organization: Organization(id: organizationId, legalName: legalName),
            profile: try storedValue(profile, table: table, column: "profile"),
            useType: try storedValue(useType, table: table, column: "use_type"), users: Int(users),
            purchaseType: try storedValue(purchaseType, table: table, column: "purchase_type"), suiteVersion: suiteVersion,
            validFrom: Date(storedMilliseconds: validFrom), expiresAt: expiresAt.map(Date.init(storedMilliseconds:)),
            components: components.split(separator: ",").map(String.init), issuedAt: Date(storedMilliseconds: issuedAt)
        )
    }
}
