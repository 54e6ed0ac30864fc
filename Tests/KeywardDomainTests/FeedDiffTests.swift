import KeywardDomain
import Testing

extension DomainTests {
    @Suite struct FeedDiffTests {
        /// One case of a registered key meeting a feed: what the feed lists and revokes, and what the plan does with the key.
        struct Case: Sendable, CustomTestStringConvertible {
            let name: String
            let current: FeedDiff.CurrentKey
            let listed: String?
            let revoked: [String: String?]
            let expected: FeedPlan

            var testDescription: String { name }
        }

        static func key(synchronized: Bool, accessKey: String = "v1", revoked: Bool = false) -> FeedDiff.CurrentKey {
            FeedDiff.CurrentKey(serial: "KW-1", idNumber: "Engineering", synchronized: synchronized, accessKey: accessKey, revoked: revoked)
        }

        static let cases: [Case] = [
            Case(
                name: "a synchronized key listed as it is stays", current: key(synchronized: true), listed: "v1", revoked: [:],
                expected: FeedPlan(unchanged: 1)),
            Case(
                name: "a synchronized key listed with a newer access key is renewed", current: key(synchronized: true), listed: "v2", revoked: [:],
                expected: FeedPlan(renewals: [0])),
            Case(
                name: "a revoked synchronized key listed again is renewed", current: key(synchronized: true, revoked: true), listed: "v1",
                revoked: [:], expected: FeedPlan(renewals: [0])),
            Case(
                name: "a manual key listed with another access key is the customer's", current: key(synchronized: false), listed: "v2",
                revoked: [:], expected: FeedPlan(unchanged: 1)),
            Case(
                name: "a synchronized key no longer listed is revoked", current: key(synchronized: true), listed: nil, revoked: [:],
                expected: FeedPlan(revocations: [.init(serial: "KW-1", reason: FeedDiff.unlistedReason)])),
            Case(name: "an unlisted manual key is left", current: key(synchronized: false), listed: nil, revoked: [:], expected: FeedPlan()),
            Case(
                name: "a manual key the authority revokes is revoked with its reason", current: key(synchronized: false), listed: nil,
                revoked: ["KW-1": "contract ended"], expected: FeedPlan(revocations: [.init(serial: "KW-1", reason: "contract ended")])),
            Case(
                name: "a revocation without a reason gets the authority's", current: key(synchronized: true), listed: nil,
                revoked: ["KW-1": nil], expected: FeedPlan(revocations: [.init(serial: "KW-1", reason: FeedDiff.revokedReason)])),
            Case(
                name: "a key already revoked is not revoked again", current: key(synchronized: true, revoked: true), listed: nil,
                revoked: ["KW-1": "contract ended"], expected: FeedPlan()),
            Case(
                name: "a revocation of a key the feed still lists is ignored", current: key(synchronized: false), listed: "v1",
                revoked: ["KW-1": "contract ended"], expected: FeedPlan(unchanged: 1)),
        ]

        @Test(arguments: cases)
        func decidesWhatHappensToARegisteredKey(_ test: Case) throws {
            let feed = test.listed.map { [FeedDiff.ListedKey(serial: "KW-1", accessKey: $0)] } ?? []
            #expect(try FeedDiff.plan(current: [test.current], feed: feed, revoked: test.revoked) == test.expected)
        }

        /// ID #s already taken, and the ID # the new key KW-2 is filed under.
        @Test(
            arguments: [
                ([], "KW-2"),
                (["Engineering"], "KW-2"),
                (["KW-2"], "KW-2 (synchronized)"),
                (["kw-2"], "KW-2 (synchronized)"),
            ] as [([String], String)])
        func filesANewKeyUnderItsSerialOrTheFallbackWhenTaken(taken: [String], idNumber: String) throws {
            let current = taken.enumerated().map { index, taken in
                FeedDiff.CurrentKey(serial: "KW-OLD-\(index)", idNumber: taken, synchronized: false, accessKey: "old", revoked: false)
            }
            let plan = try FeedDiff.plan(current: current, feed: [.init(serial: "KW-2", accessKey: "new")], revoked: [:])
            #expect(plan == FeedPlan(additions: [FeedPlan.Addition(index: 0, idNumber: idNumber)]))
        }

        @Test func refusesANewKeyWhoseSerialAndFallbackAreBothTaken() {
            let current = ["KW-2", "kw-2 (Synchronized)"].enumerated().map { index, taken in
                FeedDiff.CurrentKey(serial: "KW-OLD-\(index)", idNumber: taken, synchronized: false, accessKey: "old", revoked: false)
            }
            #expect(throws: FeedDiff.Refusal.idNumberTaken("KW-2 (synchronized)")) {
                try FeedDiff.plan(current: current, feed: [.init(serial: "KW-2", accessKey: "new")], revoked: [:])
            }
        }

        @Test func filesASerialListedTwiceOnce() throws {
            let plan = try FeedDiff.plan(
                current: [], feed: [.init(serial: "KW-2", accessKey: "a"), .init(serial: "KW-2", accessKey: "a")], revoked: [:])
            #expect(plan == FeedPlan(additions: [.init(index: 0, idNumber: "KW-2")]))
        }

        @Test func theFirstRevocationOfASerialWins() {
            let at = Fixtures.now
            let revocations = FeedDiff.revocations([
                .init(serial: "KW-1", revokedAt: at, reason: "first"), .init(serial: "KW-1", revokedAt: at, reason: "second"),
                .init(serial: "KW-2", revokedAt: at, reason: nil),
            ])
            #expect(revocations == ["KW-1": "first", "KW-2": String?.none])
        }
    }
}
