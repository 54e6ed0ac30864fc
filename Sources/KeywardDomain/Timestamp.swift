import Foundation

/// ISO 8601 times as Keyward writes and reads them: UTC, whole seconds, `2027-12-31T00:00:00Z`.
///
/// Hand-written rather than `ISO8601DateFormatter` because it runs on every key verification,
/// and a formatter is neither cheap nor strict about what it accepts.
public enum Timestamp {
    /// `2027-12-31T23:59:59Z` for `date`, truncated to whole seconds.
    public static func format(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(fromDays: days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(yearText)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))Z"
    }

    /// Parses a full timestamp: `YYYY-MM-DDTHH:MM:SS`, optional fraction, then `Z` or `±HH:MM`.
    public static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes in
            var scanner = Scanner(bytes)
            guard let date = scanner.dateTime(), scanner.atEnd else { return nil }
            return date
        }
    }

    /// Parses a full timestamp from its ASCII bytes, as ``parse(_:)`` does.
    static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        var scanner = Scanner(bytes)
        guard let date = scanner.dateTime(), scanner.atEnd else { return nil }
        return date
    }

    /// Parses what a person types: a day (`2027-12-31`, midnight UTC) or a full timestamp.
    public static func parseDayOrTimestamp(_ text: String) -> Date? {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed.withUTF8 { bytes in
            var scanner = Scanner(bytes)
            if bytes.count == 10 {
                guard let days = scanner.day(), scanner.atEnd else { return nil }
                return Date(timeIntervalSince1970: TimeInterval(days * 86_400))
            }
            guard let date = scanner.dateTime(), scanner.atEnd else { return nil }
            return date
        }
    }

    /// The seconds since the epoch of the times `format` writes: years 0000 to 9999, UTC.
    static let writableSeconds = days(year: 0, month: 1, day: 1) * 86_400..<days(year: 10_000, month: 1, day: 1) * 86_400

    /// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days-from-civil algorithm).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilDate(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func number(digits: Int) -> Int64? {
            guard index + digits <= bytes.count else { return nil }
            var value: Int64 = 0
            for offset in 0..<digits {
                let byte = bytes[index + offset]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            index += digits
            return value
        }

        mutating func expect(_ symbol: Character) -> Bool {
            guard index < bytes.count, bytes[index] == symbol.asciiValue! else { return false }
            index += 1
            return true
        }

        /// `YYYY-MM-DD` as days since the epoch.
        mutating func day() -> Int64? {
            guard let year = number(digits: 4), expect("-"),
                let month = number(digits: 2), expect("-"),
                let day = number(digits: 2),
                (1...12).contains(month), day >= 1, day <= Timestamp.daysInMonth(year: year, month: month)
            else { return nil }
            return Timestamp.days(year: year, month: month, day: day)
        }

        mutating func dateTime() -> Date? {
            guard let days = day(), expect("T") || expect("t"),
                let hour = number(digits: 2), expect(":"),
                let minute = number(digits: 2), expect(":"),
                let second = number(digits: 2),
                hour < 24, minute < 60, second < 60
            else { return nil }
            var fraction = 0.0
            if expect(".") {
                var scale = 0.1
                let start = index
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                    fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                    scale /= 10
                    index += 1
                }
                guard index > start else { return nil }
            }
            var offsetSeconds: Int64 = 0
            if expect("Z") || expect("z") {
                offsetSeconds = 0
            } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                let sign: Int64 = bytes[index] == UInt8(ascii: "+") ? 1 : -1
                index += 1
                guard let offsetHours = number(digits: 2), expect(":"), let offsetMinutes = number(digits: 2),
                    offsetHours < 24, offsetMinutes < 60
                else { return nil }
                offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
            } else {
                return nil
            }
            let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
            // An offset can move 0000-01-01 or 9999-12-31 out of the years `format` writes; such a time would not
            // read back once written (a re-issued key, a stored one), so it is not a time.
            // Checked on the time itself: a fraction close to 1 can round the last second of 9999 up into 10000.
            let date = Date(timeIntervalSince1970: TimeInterval(seconds) + fraction)
            guard Timestamp.writableSeconds.contains(Int64(date.timeIntervalSince1970.rounded(.down))) else { return nil }
            return date
        }
    }
}
