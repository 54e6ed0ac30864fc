import Foundation
import KeywardDomain
import KeywardTestSupport
import Testing

extension DomainTests {
    @Suite struct TimestampTests {
        @Test func formatsUTCWholeSeconds() {
            #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
            #expect(Timestamp.format(Date(timeIntervalSince1970: 1_798_761_599.75)) == "2026-12-31T23:59:59Z")
            #expect(Timestamp.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
        }

        @Test func parsesWhatItFormats() throws {
            var generator = SeededGenerator(seed: 7)
            for _ in 0..<2_000 {
                let seconds = Double(Int64.random(in: -2_000_000_000...8_000_000_000, using: &generator))
                let date = Date(timeIntervalSince1970: seconds)
                #expect(Timestamp.parse(Timestamp.format(date)) == date)
            }
        }

        @Test(arguments: ["2024-02-29T23:59:59Z", "2000-01-01T00:00:00Z", "2100-03-01T12:34:56Z", "1999-12-31T08:00:00Z"])
        func agreesWithFoundationsFormatter(text: String) throws {
            #expect(Timestamp.parse(text) == ISO8601DateFormatter().date(from: text))
        }

        @Test func honoursOffsetsAndFractions() {
            #expect(Timestamp.parse("2027-01-01T02:00:00+02:00") == Timestamp.parse("2027-01-01T00:00:00Z"))
            #expect(Timestamp.parse("2026-12-31T19:00:00-05:00") == Timestamp.parse("2027-01-01T00:00:00Z"))
            #expect(Timestamp.parse("2027-01-01T00:00:00.5Z")!.timeIntervalSince(Timestamp.parse("2027-01-01T00:00:00Z")!) == 0.5)
        }

        @Test func readsADayAsMidnightUTC() {
            #expect(Timestamp.parseDayOrTimestamp("2027-12-31") == Timestamp.parse("2027-12-31T00:00:00Z"))
            #expect(Timestamp.parseDayOrTimestamp(" 2027-12-31T10:00:00Z ") == Timestamp.parse("2027-12-31T10:00:00Z"))
        }

        @Test(arguments: [
            "", "2027", "2027-13-01", "2027-02-29", "2027-04-31", "2027-00-10", "27-01-01", "2027-01-01T24:00:00Z",
            "2027-01-01T10:60:00Z", "2027-01-01T10:00:00", "2027-01-01T10:00:00Zjunk", "2027-01-01 10:00:00Z",
            "2027-01-01T10:00:00.Z", "2027-01-01T10:00:00+0200", "tomorrow",
        ])
        func rejectsWhatIsNotAnISO8601Time(text: String) {
            #expect(Timestamp.parse(text) == nil)
            #expect(Timestamp.parseDayOrTimestamp(text) == nil)
        }

        @Test func acceptsLeapDays() {
            #expect(Timestamp.parseDayOrTimestamp("2028-02-29") != nil)
            #expect(Timestamp.parseDayOrTimestamp("2000-02-29") != nil)
            #expect(Timestamp.parseDayOrTimestamp("1900-02-29") == nil)
        }
    }
}
