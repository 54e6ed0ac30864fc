import Hummingbird
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

extension RegistryTests {
    /// The entitlement check's hand-written readers of the request target agree with the ones they stand in for.
    @Suite struct HotPathParsingTests {
        /// Every parameter `uri.queryParameters` reads, in order, as (key, value).
        static func hummingbirdPairs(_ target: String) -> [String] {
            Request(head: HTTPRequest(method: .get, scheme: "http", authority: "x", path: target), body: .init(buffer: .init()))
                .uri.queryParameters.map { "\($0.key)=>\($0.value)" }
        }

        static func scannedPairs(_ target: String) -> [String] {
            var pairs: [String] = []
            Request(head: HTTPRequest(method: .get, scheme: "http", authority: "x", path: target), body: .init(buffer: .init()))
                .forEachQueryParameter { key, value in pairs.append("\(key)=>\(value)") }
            return pairs
        }

        @Test(arguments: [
            "/c?login=jsmith&component=DOC&menu=DC021", "/c", "/c?", "/c?&", "/c?login", "/c?login=", "/c?=x", "/c?a=b=c",
            "/c?&&login=a&", "/c?login=a&login=b", "/c?login=j%2Esmith&menu=%41", "/c?login=%zz", "/c?login=a+b",
            "/c?login=ünïcode&menu=日本", "/c?login=a#frag", "/c/%41?login=a", "/c?login=a&&",
        ])
        func queryParametersAreReadAsHummingbirdReadsThem(_ target: String) {
            #expect(Self.scannedPairs(target) == Self.hummingbirdPairs(target), "\(target)")
        }

        @Test func randomQueriesAreReadAsHummingbirdReadsThem() {
            var generator = SeededGenerator(seed: 7)
            let pieces = ["login", "menu", "a", "=", "=", "&", "&", "+", "é", "%", "2", "0", "E", "#", "?", "/"]
            var fastPathSeen = 0
            for _ in 0..<5_000 {
                let query = (0..<Int.random(in: 0...14, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
                let target = "/api/v1/entitlements/check?" + query
                if !query.contains("%"), !query.contains("#") { fastPathSeen += 1 }
                #expect(Self.scannedPairs(target) == Self.hummingbirdPairs(target), "\(target)")
            }
            #expect(fastPathSeen > 1_000, "most cases take the hand-written path")
        }

        @Test(arguments: ["/a%00", "/%00/b", "/a?b=%00", "/a?b=%%00", "/a?b=%000", "%00"])
        func anEncodedNULIsFoundWhereverItStands(target: String) {
            #expect(NULGuard.uriContainsNUL(target), "\(target)")
        }

        @Test(arguments: ["/a", "/a%0", "/a?b=%0a0", "/a?b=0%0", "/a?b=00", "/a?b=%20%30", "", "%", "%0"])
        func aTargetWithoutAnEncodedNULIsNotRefused(target: String) {
            #expect(!NULGuard.uriContainsNUL(target), "\(target)")
        }
    }
}
