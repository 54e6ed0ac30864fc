import Foundation
import KeywardDomain
import Testing

extension DomainTests {
    /// Seat counts come from signed keys: a key may carry no more users than the authority issues, and whatever the
    /// store already holds, adding seats up never traps.
    @Suite struct SeatArithmeticTests {
        let signingKey = AuthoritySigningKey()
        var verifier: AccessKeyVerifier { AccessKeyVerifier(trustStore: TrustStore([signingKey.publicKey])) }

        @Test(arguments: [LicenseKeySpecification.maximumUsers + 1, 9_223_372_036_854_775, 999_999_999_999_999_999])
        func aSignedKeyWithMoreUsersThanTheAuthorityIssuesIsMalformed(users: Int) {
            let base = Fixtures.payloadJSON(of: AccessKey.issue(Fixtures.license(users: 25), signedWith: signingKey))
            let text = Fixtures.sign(json: base.replacingOccurrences(of: #""users":25"#, with: #""users":\#(users)"#), with: signingKey)
            #expect(verifier.verify(text, now: Fixtures.now).code == .malformed)
        }

        @Test func aSignedKeyWithTheMostUsersTheAuthorityIssuesIsValid() {
            let key = AccessKey.issue(Fixtures.license(users: LicenseKeySpecification.maximumUsers), signedWith: signingKey)
            #expect(verifier.verify(key, now: Fixtures.now).code == .valid)
        }

        /// Keys registered before the cap may hold any count the store accepts: the activation's seat change saturates.
        @Test func seatChangesOfHugeKeysSaturateInsteadOfOverflowing() {
            let huge = [1, 2, 3].map { CoveredKey(Fixtures.license(serial: "KW-0000-0000-0000-000\($0)", users: Int.max / 2)) }
            let added = ActivationChange.between(certified: [], current: huge)
            #expect(added.seats == ["nominative": Int.max])
            let removed = ActivationChange.between(certified: huge, current: [])
            #expect(removed.seats == ["nominative": Int.min])
            let both = ActivationChange.between(certified: [huge[0]], current: [huge[1], huge[2]])
            #expect(both.seats == ["nominative": Int.max / 2])
        }
    }
}
