import Foundation

/// Reads an access key payload from its JSON bytes without `JSONDecoder` (see ``JSONScanner`` for why).
///
/// The version is read first, so a payload of an unknown version is `UNSUPPORTED_VERSION` whatever else it holds;
/// members this version does not know are ignored.
enum PayloadReader {
    enum Failure: Error {
        case malformed
        case unsupportedVersion
    }

    static func read(_ json: [UInt8]) throws(Failure) -> AccessKeyPayload {
        do {
            var scanner = JSONScanner(json)
            let members = try scanner.objectMembers()
            scanner.skipWhitespace()
            guard scanner.atEnd else { throw Failure.malformed }
            guard let version = try int(members["v"], in: json) else { throw Failure.malformed }
            guard version == AccessKeyPayload.currentVersion else { throw Failure.unsupportedVersion }

            func required<T>(_ name: String, _ read: (Range<Int>) throws(JSONScanner.Invalid) -> T?) throws(Failure) -> T {
                guard let range = members[name] else { throw .malformed }
                do {
                    guard let value = try read(range) else { throw Failure.malformed }
                    return value
                } catch {
                    throw .malformed
                }
            }
            func text(_ range: Range<Int>) throws(JSONScanner.Invalid) -> String? { try string(range, in: json) }
            func time(_ range: Range<Int>) throws(JSONScanner.Invalid) -> Date? { try timestamp(range, in: json) }

            let organization = try required("organization") { range throws(JSONScanner.Invalid) in try Self.organization(range, in: json) }
            let expiresAt: Date? = if let range = members["expiresAt"], !isNull(range, in: json) { try required("expiresAt", time) } else { nil }
            let license = LicenseKey(
                serial: try required("serial", text),
                organization: organization,
                profile: try required("profile") { range throws(JSONScanner.Invalid) in try text(range).flatMap(Profile.init(rawValue:)) },
                useType: try required("useType") { range throws(JSONScanner.Invalid) in try text(range).flatMap(UseType.init(rawValue:)) },
                users: try required("users") { range throws(JSONScanner.Invalid) in try int(range, in: json) },
                purchaseType: try required("purchaseType") { range throws(JSONScanner.Invalid) in
                    try text(range).flatMap(PurchaseType.init(rawValue:))
                },
                suiteVersion: try required("suiteVersion", text),
                validFrom: try required("validFrom", time),
                expiresAt: expiresAt,
                components: try required("components") { range throws(JSONScanner.Invalid) in try strings(range, in: json) },
                issuedAt: try required("issuedAt", time)
            )
            return AccessKeyPayload(version: version, kid: try required("kid", text), license: license)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .malformed
        }
    }

    private static func isNull(_ range: Range<Int>, in json: [UInt8]) -> Bool {
        range.count == 4 && json[range.lowerBound] == UInt8(ascii: "n")
    }

    private static func int(_ range: Range<Int>?, in json: [UInt8]) throws(JSONScanner.Invalid) -> Int? {
        guard let range, let first = range.first,
            json[first] == UInt8(ascii: "-") || (json[first] >= UInt8(ascii: "0") && json[first] <= UInt8(ascii: "9"))
        else {
            return nil
        }
        var scanner = JSONScanner(json, from: range.lowerBound)
        return try scanner.number()
    }

    private static func string(_ range: Range<Int>, in json: [UInt8]) throws(JSONScanner.Invalid) -> String? {
        guard json[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        var scanner = JSONScanner(json, from: range.lowerBound)
        return try scanner.string()
    }

    /// A time read straight from the JSON bytes when the string is plain ASCII (always, for times we write).
    private static func timestamp(_ range: Range<Int>, in json: [UInt8]) throws(JSONScanner.Invalid) -> Date? {
        guard range.count >= 2, json[range.lowerBound] == UInt8(ascii: "\""), json[range.upperBound - 1] == UInt8(ascii: "\"") else { return nil }
        let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
        if json[inner].allSatisfy({ $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\\") }) {
            return json.withUnsafeBufferPointer { Timestamp.parse(bytes: UnsafeBufferPointer(rebasing: $0[inner])) }
        }
        return try string(range, in: json).flatMap(Timestamp.parse)
    }

    private static func strings(_ range: Range<Int>, in json: [UInt8]) throws(JSONScanner.Invalid) -> [String]? {
        guard json[range.lowerBound] == UInt8(ascii: "[") else { return nil }
        var result: [String] = []
        var scanner = JSONScanner(json, from: range.lowerBound + 1)
        scanner.skipWhitespace()
        if json[scanner.index] == UInt8(ascii: "]") { return result }
        while true {
            scanner.skipWhitespace()
            guard scanner.index < range.upperBound, json[scanner.index] == UInt8(ascii: "\"") else { return nil }
            result.append(try scanner.string())
            scanner.skipWhitespace()
            guard scanner.index < range.upperBound else { return nil }
            let separator = json[scanner.index]
            scanner.index += 1
            if separator == UInt8(ascii: "]") { return result }
            guard separator == UInt8(ascii: ",") else { return nil }
        }
    }

    private static func organization(_ range: Range<Int>, in json: [UInt8]) throws(JSONScanner.Invalid) -> Organization? {
        guard json[range.lowerBound] == UInt8(ascii: "{") else { return nil }
        var scanner = JSONScanner(json, from: range.lowerBound)
        let members = try scanner.objectMembers()
        guard let id = try members["id"].flatMap({ range throws(JSONScanner.Invalid) in try string(range, in: json) }),
            let legalName = try members["legalName"].flatMap({ range throws(JSONScanner.Invalid) in try string(range, in: json) })
        else { return nil }
        return Organization(id: id, legalName: legalName)
    }
}
