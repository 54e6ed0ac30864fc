import Foundation
import KeywardDomain

/// How pages show times and lists: readable times with their zone (the ISO form stays in `<time datetime>`), names in
/// natural order.
public enum WebFormatting {
    public static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// `2 Dec 2026, 02:14 UTC`.
    public static func readable(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let hour = parts.hour ?? 0
        let minute = parts.minute ?? 0
        return
            "\(parts.day ?? 1) \(months[(parts.month ?? 1) - 1]) \(parts.year ?? 1970), \(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute) UTC"
    }

    /// `2 Dec 2026`, for validity ranges.
    public static func readableDay(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day], from: date)
        return "\(parts.day ?? 1) \(months[(parts.month ?? 1) - 1]) \(parts.year ?? 1970)"
    }

    /// A time as templates show it: `<time datetime="{{iso}}">{{text}}</time>`.
    public static func time(_ date: Date) -> [String: String] {
        ["iso": Timestamp.format(date), "text": readable(date)]
    }

    /// A day as templates show it, with the full ISO time in `datetime`.
    public static func day(_ date: Date) -> [String: String] {
        ["iso": Timestamp.format(date), "text": readableDay(date)]
    }

    /// Natural order: runs of digits compare by value (`user2` before `user10`), letters ignoring case.
    public static func naturallyOrdered(_ left: String, _ right: String) -> Bool {
        let a = Array(left.lowercased().unicodeScalars)
        let b = Array(right.lowercased().unicodeScalars)
        var i = 0
        var j = 0
        func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }
        while i < a.count, j < b.count {
            if isDigit(a[i]), isDigit(b[j]) {
                var endA = i
                var endB = j
                while endA < a.count, isDigit(a[endA]) { endA += 1 }
                while endB < b.count, isDigit(b[endB]) { endB += 1 }
                // Compare the runs by value: without leading zeros, the longer run is larger, else digit by digit.
                let runA = a[i..<endA].drop { $0 == "0" }
                let runB = b[j..<endB].drop { $0 == "0" }
                if runA.count != runB.count { return runA.count < runB.count }
                if let (x, y) = zip(runA, runB).first(where: { $0 != $1 }) { return x.value < y.value }
                i = endA
                j = endB
            } else {
                if a[i] != b[j] { return a[i].value < b[j].value }
                i += 1
                j += 1
            }
        }
        if (a.count - i) != (b.count - j) { return (a.count - i) < (b.count - j) }
        return left < right
    }
}
