import Foundation

/// When the registry synchronizes by itself: once a day at a set time (UTC) plus random jitter, so thousands of
/// installations do not arrive together; a failed run is retried after 1, 5 and 30 minutes, then waits for the
/// next day.
public struct SyncSchedule: Sendable, Hashable {
    /// Minutes after midnight UTC, e.g. 120 for 02:00.
    public var minuteOfDay: Int
    /// The largest random delay added to the daily time.
    public var maximumJitter: TimeInterval
    /// Delays before each retry of a failed run.
    public var retryDelays: [TimeInterval]

    public init(minuteOfDay: Int = 120, maximumJitter: TimeInterval = 30 * 60, retryDelays: [TimeInterval] = [60, 300, 1800]) {
        self.minuteOfDay = minuteOfDay
        self.maximumJitter = maximumJitter
        self.retryDelays = retryDelays
    }

    /// Reads `HH:MM` (24-hour, UTC); `nil` for anything else.
    public static func minuteOfDay(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
            (0..<24).contains(hour), (0..<60).contains(minute)
        else { return nil }
        return hour * 60 + minute
    }

    /// `HH:MM` of the daily time.
    public var dailyTime: String {
        let hour = minuteOfDay / 60
        let minute = minuteOfDay % 60
        return (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
    }

    /// The next daily run strictly after `now`, with a jitter drawn from `generator`.
    public func nextDailyRun(after now: Date, using generator: inout some RandomNumberGenerator) -> Date {
        let day = (now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400
        var next = Date(timeIntervalSince1970: day + TimeInterval(minuteOfDay * 60))
        if next <= now { next = next.addingTimeInterval(86_400) }
        let jitter = maximumJitter > 0 ? TimeInterval.random(in: 0..<maximumJitter, using: &generator) : 0
        return next.addingTimeInterval(jitter.rounded(.down))
    }

    /// After a run: when the next one is due, and how many retries have been spent.
    /// `failed` runs retry while delays remain; a success (or the last failed retry) waits for the next day.
    public func next(after now: Date, failed: Bool, retriesSpent: Int, using generator: inout some RandomNumberGenerator) -> (
        at: Date, retriesSpent: Int
    ) {
        if failed, retriesSpent < retryDelays.count {
            return (now.addingTimeInterval(retryDelays[retriesSpent]), retriesSpent + 1)
        }
        return (nextDailyRun(after: now, using: &generator), 0)
    }
}
