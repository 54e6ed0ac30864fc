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
