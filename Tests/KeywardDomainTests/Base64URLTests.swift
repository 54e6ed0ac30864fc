import KeywardDomain
import Testing

extension DomainTests {
    @Suite struct Base64URLTests {
        @Test(arguments: 0...40)
        func roundTripsEveryLength(length: Int) {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Base64URL.encode(bytes)
            #expect(text.utf8.count % 4 == 0)
            #expect(!text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(Array(text.utf8)) == (length == 0 ? nil : bytes))
            let unpadded = text.replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.decode(Array(unpadded.utf8)) == (length == 0 ? nil : bytes))
        }

        @Test func usesTheURLAlphabet() {
            #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8=")
            #expect(Base64URL.decode(Array("-_8".utf8)) == [0xFB, 0xFF])
        }

        @Test(arguments: ["+/8=", "ab/c", "ab+c", "a", "abcde", "ab=c", "ab===", "a===", "=", "ab c", "abc=="])
        func rejectsTextThatIsNotCanonicalBase64URL(text: String) {
            #expect(Base64URL.decode(Array(text.utf8)) == nil)
        }

        @Test func rejectsNonZeroTrailingBits() {
            // "AB" decodes to 0x00 with four leftover bits 0001: a second spelling of "AA".
            #expect(Base64URL.decode(Array("AA".utf8)) == [0x00])
            #expect(Base64URL.decode(Array("AB".utf8)) == nil)
            #expect(Base64URL.decode(Array("AAA".utf8)) == [0x00, 0x00])
            #expect(Base64URL.decode(Array("AAB".utf8)) == nil)
        }
    }
}

extension DomainTests {
    @Suite struct HexTests {
        @Test func roundTrips() {
            let bytes: [UInt8] = [0x00, 0x0F, 0xA5, 0xFF]
            #expect(Hex.encode(bytes) == "000fa5ff")
            #expect(Hex.decode("000FA5ff") == bytes)
        }

        @Test(arguments: ["0", "0g", "zz", "000"])
        func rejectsNonHex(text: String) {
            #expect(Hex.decode(text) == nil)
        }
    }
}
