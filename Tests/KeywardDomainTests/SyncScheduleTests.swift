import Foundation
import KeywardDomain
import KeywardTestSupport
import Testing

extension DomainTests {
    @Suite struct SyncScheduleTests {
        let schedule = SyncSchedule(minuteOfDay: 120)  // 02:00 UTC

        @Test func runsDailyAtItsTimeWithUpToThirtyMinutesOfJitter() {
            var generator = SeededGenerator(seed: 3)
            let before = Timestamp.parse("2026-11-29T01:00:00Z")!
            let after = Timestamp.parse("2026-11-29T02:00:00Z")!
            for _ in 0..<500 {
                let sameDay = schedule.nextDailyRun(after: before, using: &generator)
                #expect(sameDay >= Timestamp.parse("2026-11-29T02:00:00Z")! && sameDay < Timestamp.parse("2026-11-29T02:30:00Z")!)
                let nextDay = schedule.nextDailyRun(after: after, using: &generator)
                #expect(nextDay >= Timestamp.parse("2026-11-30T02:00:00Z")! && nextDay < Timestamp.parse("2026-11-30T02:30:00Z")!)
            }
            // The jitter really spreads installations over the half hour.
            let spread = Set((0..<200).map { _ in Int(schedule.nextDailyRun(after: before, using: &generator).timeIntervalSince1970) / 60 })
            #expect(spread.count > 20)
        }

        @Test func retriesAfterOneFiveAndThirtyMinutesThenWaitsForTheNextDay() {
            var generator = SeededGenerator(seed: 4)
            let now = Timestamp.parse("2026-11-29T02:10:00Z")!
            var spent = 0
            var delays: [TimeInterval] = []
            for _ in 0..<3 {
                let next = schedule.next(after: now, failed: true, retriesSpent: spent, using: &generator)
                delays.append(next.at.timeIntervalSince(now))
                spent = next.retriesSpent
            }
            #expect(delays == [60, 300, 1800])
            let afterLastRetry = schedule.next(after: now, failed: true, retriesSpent: spent, using: &generator)
            #expect(afterLastRetry.retriesSpent == 0)
            #expect(afterLastRetry.at >= Timestamp.parse("2026-11-30T02:00:00Z")!)
            let afterSuccess = schedule.next(after: now, failed: false, retriesSpent: 2, using: &generator)
            #expect(afterSuccess.retriesSpent == 0)
            #expect(afterSuccess.at >= Timestamp.parse("2026-11-30T02:00:00Z")!)
        }

        @Test func readsTheDailyTime() {
            #expect(SyncSchedule.minuteOfDay("02:00") == 120)
            #expect(SyncSchedule.minuteOfDay("23:59") == 1439)
            #expect(SyncSchedule(minuteOfDay: 125).dailyTime == "02:05")
        }

        @Test(arguments: ["2:00", "24:00", "02:60", "0200", "", "ab:cd", "02:00:00"])
        func refusesADailyTimeThatIsNotHHMM(bad: String) {
            #expect(SyncSchedule.minuteOfDay(bad) == nil, "\(bad)")
        }
    }
}
