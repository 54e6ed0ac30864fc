import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore
import Testing

@testable import KeywardAuthority

extension AuthorityTests {
    @Suite struct FeedCacheTests {
        static func feed(_ etag: String, bytes: Int) -> Authority.Feed {
            Authority.Feed(etag: etag, revision: 1, body: [UInt8](repeating: 0x20, count: bytes))
        }

        @Test func staysWithinItsMemoryBudget() {
            let cache = FeedCache(budget: 1000)
            cache.store(Self.feed("a", bytes: 400), for: "one")
            cache.store(Self.feed("b", bytes: 400), for: "two")
            #expect(cache.bytes == 800)
            cache.store(Self.feed("c", bytes: 400), for: "three")
            #expect(cache.bytes <= 1000)
            #expect(cache.feed(for: "three", etag: "c") != nil)
            cache.store(Self.feed("d", bytes: 2000), for: "huge")
            #expect(cache.feed(for: "huge", etag: "d") == nil, "a feed larger than the budget is not kept")
            #expect(cache.bytes <= 1000)
        }

        @Test func servesOnlyTheCurrentEntityTag() {
            let cache = FeedCache(budget: 1000)
            cache.store(Self.feed("r1", bytes: 10), for: "acme")
            #expect(cache.feed(for: "acme", etag: "r1") != nil)
            #expect(cache.feed(for: "acme", etag: "r2") == nil)
            cache.store(Self.feed("r2", bytes: 10), for: "acme")
            #expect(cache.bytes == 10)
        }
    }
}

extension AuthorityTests {
    @Suite struct APIErrorTests {
        @Test func fieldErrorsBecomeOneRefusalNamingTheFirst() {
            let one = FieldError(field: "users", code: "INVALID_USERS", message: "m1")
            let two = FieldError(field: "components", code: "NO_COMPONENTS", message: "m2")
            #expect(APIError.invalidFields([one]).code == "INVALID_USERS")
            let both = APIError.invalidFields([one, two])
            #expect(both.code == "INVALID_USERS")
            #expect(
                both.details["problems"]
                    == .array([
                        .object(["field": "users", "code": "INVALID_USERS", "message": "m1"]),
                        .object(["field": "components", "code": "NO_COMPONENTS", "message": "m2"]),
                    ]))
            // No problem at all is still an answer, not a crash.
            #expect(APIError.invalidFields([]).status == .unprocessableContent)
        }
    }
}
