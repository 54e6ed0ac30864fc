import Foundation
import KeywardDomain
import Testing

extension DomainTests {
    /// SCIM filters and PATCH paths (RFC 7644 sections 3.4.2.2 and 3.5.2), read and evaluated.
    @Suite struct SCIMFilterTests {
        static let core = "urn:ietf:params:scim:schemas:core:2.0:User"
        static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

        static func path(_ name: String, _ sub: String? = nil, schema: String? = nil) -> SCIMAttributePath {
            SCIMAttributePath(schema: schema, name: name, subAttribute: sub)
        }

        /// Every example filter of RFC 7644 section 3.4.2.2 reads, as the tree it means.
        @Test(
            arguments: [
                (#"userName eq "bjensen""#, SCIMFilter.compare(path("userName"), .eq, .string("bjensen"))),
                (#"name.familyName co "O'Malley""#, .compare(path("name", "familyName"), .co, .string("O'Malley"))),
                (#"userName sw "J""#, .compare(path("userName"), .sw, .string("J"))),
                (
                    #"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                    .compare(path("userName", schema: core), .sw, .string("J"))
                ),
                ("title pr", .present(path("title"))),
                (#"meta.lastModified gt "2011-05-13T04:42:34Z""#, .compare(path("meta", "lastModified"), .gt, .string("2011-05-13T04:42:34Z"))),
                (
                    #"title pr and userType eq "Employee""#,
                    .and(.present(path("title")), .compare(path("userType"), .eq, .string("Employee")))
                ),
                (
                    #"title pr or userType eq "Intern""#,
                    .or(.present(path("title")), .compare(path("userType"), .eq, .string("Intern")))
                ),
                (
                    #"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                    .and(
                        .compare(path("userType"), .eq, .string("Employee")),
                        .or(.compare(path("emails"), .co, .string("example.com")), .compare(path("emails", "value"), .co, .string("example.org"))))
                ),
                (
                    #"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                    .and(
                        .compare(path("userType"), .ne, .string("Employee")),
                        .not(
                            .or(
                                .compare(path("emails"), .co, .string("example.com")),
                                .compare(path("emails", "value"), .co, .string("example.org")))))
                ),
                (
                    #"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                    .and(
                        .compare(path("userType"), .eq, .string("Employee")),
                        .valuePath(
                            path("emails"), .and(.compare(path("type"), .eq, .string("work")), .compare(path("value"), .co, .string("@example.com"))))
                    )
                ),
                (
                    #"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                    .or(
                        .valuePath(
                            path("emails"), .and(.compare(path("type"), .eq, .string("work")), .compare(path("value"), .co, .string("@example.com")))),
                        .valuePath(path("ims"), .and(.compare(path("type"), .eq, .string("xmpp")), .compare(path("value"), .co, .string("@foo.com"))))
                    )
                ),
                // Identity providers' spellings: capital operators and keywords, booleans, numbers, escapes.
                (
                    #"userName EQ "x" AND active Eq True"#,
                    .and(.compare(path("username"), .eq, .string("x")), .compare(path("active"), .eq, .bool(true)))
                ),
                ("manager.value eq null", .compare(path("manager", "value"), .eq, .null)),
                ("x.count ge -2.5", .compare(path("x", "count"), .ge, .number(-2.5))),
                (#"displayName eq "say \"hi\"\u00e9""#, .compare(path("displayName"), .eq, .string("say \"hi\"é"))),
            ] as [(String, SCIMFilter)])
        func theRFCsExamplesRead(text: String, expected: SCIMFilter) throws {
            #expect(try SCIMFilter.parse(text) == expected)
        }

        @Test func notBindsTighterThanAndWhichBindsTighterThanOr() throws {
            let a = SCIMFilter.compare(Self.path("a"), .eq, .number(1))
            let b = SCIMFilter.compare(Self.path("b"), .eq, .number(2))
            let c = SCIMFilter.compare(Self.path("c"), .eq, .number(3))
            #expect(try SCIMFilter.parse("a eq 1 or b eq 2 and c eq 3") == .or(a, .and(b, c)))
            #expect(try SCIMFilter.parse("a eq 1 and b eq 2 or c eq 3") == .or(.and(a, b), c))
            #expect(try SCIMFilter.parse("(a eq 1 or b eq 2) and not (c eq 3)") == .and(.or(a, b), .not(c)))
        }

        /// What cannot be read is refused with a sentence that says what is wrong, never read as something else.
        @Test(
            arguments: [
                ("", "empty"),
                ("userName eq", "needs a value"),
                (#"userName xx "a""#, "is not an operator"),
                (#"userName eq "a"#, "closing quote"),
                (#"(userName eq "a""#, "no closing )"),
                (#"userName eq "a")"#, "after a complete filter"),
                (#"not userName eq "a""#, "in parentheses"),
                (#"1abc eq "x""#, "is not an attribute name"),
                ("userName eq bjensen", "needs a value"),
                (#"emails[type eq "work""#, "no closing ]"),
                (#"userName"#, "needs an operator"),
                (#"userName eq "a" and"#, "ends too early"),
                (#"userName eq "\x""#, "not valid JSON"),
                (#"name:familyName eq "x""#, "is not an attribute name"),
            ] as [(String, String)])
        func aBadFilterIsRefusedInWords(text: String, says: String) {
            #expect {
                try SCIMFilter.parse(text)
            } throws: { error in
                (error as? SCIMSyntaxError)?.message.contains(says) == true
            }
        }

        @Test func aFilterTooDeepOrTooLongIsRefusedBeforeItIsRead() {
            let deep = String(repeating: "(", count: 33) + #"a eq "b""# + String(repeating: ")", count: 33)
            #expect(throws: SCIMSyntaxError(message: "The filter nests deeper than 32 levels.")) { try SCIMFilter.parse(deep) }
            let justDeepEnough = String(repeating: "(", count: 31) + #"a eq "b""# + String(repeating: ")", count: 31)
            #expect((try? SCIMFilter.parse(justDeepEnough)) == .compare(Self.path("a"), .eq, .string("b")))
            let long = #"userName eq ""# + String(repeating: "x", count: 5000) + "\""
            #expect(throws: SCIMSyntaxError(message: "The filter is longer than 4096 bytes.")) { try SCIMFilter.parse(long) }
        }

        @Test(
            arguments: [
                ("members", SCIMPatchPath(attribute: path("members"))),
                ("name.familyName", SCIMPatchPath(attribute: path("name", "familyName"))),
                (
                    #"members[value eq "2819c223"]"#,
                    SCIMPatchPath(attribute: path("members"), filter: .compare(path("value"), .eq, .string("2819c223")))
                ),
                (
                    #"emails[type eq "work"].value"#,
                    SCIMPatchPath(attribute: path("emails"), filter: .compare(path("type"), .eq, .string("work")), subAttribute: "value")
                ),
                ("\(enterprise):manager", SCIMPatchPath(attribute: path("manager", schema: enterprise))),
                (#"Members[Value EQ "x"]"#, SCIMPatchPath(attribute: path("members"), filter: .compare(path("value"), .eq, .string("x")))),
            ] as [(String, SCIMPatchPath)])
        func patchPathsRead(text: String, expected: SCIMPatchPath) throws {
            #expect(try SCIMPatchPath.parse(text) == expected)
        }

        @Test(
            arguments: [
                ("", "empty"),
                (#"members[value eq "x"]garbage"#, "only name a sub-attribute"),
                (#"name.givenName[value eq "x"]"#, "not a sub-attribute"),
                (#"emails[type eq "work"]."#, "only name a sub-attribute"),
                ("members extra", "after the attribute members"),
                (#"members[value eq "x""#, "closing ]"),
            ] as [(String, String)])
        func aBadPatchPathIsRefusedInWords(text: String, says: String) {
            #expect {
                try SCIMPatchPath.parse(text)
            } throws: { error in
                (error as? SCIMSyntaxError)?.message.contains(says) == true
            }
        }

        static let user: JSONValue = .object([
            "schemas": .array([.string(core), .string(enterprise)]),
            "id": "2819c223-7f76",
            "userName": "BJensen",
            "active": true,
            "emails": .array([
                .object(["value": "bjensen@example.com", "type": "work"]),
                .object(["value": "babs@jensen.org", "type": "home"]),
            ]),
            "meta": .object(["lastModified": "2026-11-30T10:00:00Z"]),
            enterprise: .object(["employeeNumber": "701984"]),
        ])

        /// Only `id` compares exactly here, as RFC 7643 has it for `id` (and `externalId`).
        static func caseExact(_ path: SCIMAttributePath) -> Bool { path.name == "id" && path.subAttribute == nil }

        @Test(
            arguments: [
                (#"userName eq "bjensen""#, true),
                (#"USERNAME eq "BJENSEN""#, true),
                (#"id eq "2819C223-7F76""#, false),
                (#"id eq "2819c223-7f76""#, true),
                (#"emails co "example.com""#, true),
                (#"emails.value ew "jensen.org""#, true),
                (#"emails[type eq "work" and value co "@example.com"]"#, true),
                (#"emails[type eq "home" and value co "@example.com"]"#, false),
                (#"meta.lastModified gt "2026-11-30T09:59:59Z""#, true),
                (#"meta.lastModified gt "2026-11-30T11:00:00+01:00""#, false),
                (#"meta.lastModified lt "2027-01-01T00:00:00Z""#, true),
                (#"\#(enterprise):employeeNumber eq "701984""#, true),
                (#"\#(core):userName sw "bj""#, true),
                ("title pr", false),
                ("userName pr", true),
                (#"nickName ne "x""#, true),
                (#"userName ne "bjensen""#, false),
                ("active eq true", true),
                ("active eq false", false),
                (#"not (userName eq "bjensen")"#, false),
                (#"userName eq "nobody" or emails[type eq "home"]"#, true),
                (#"active gt true"#, false),
            ] as [(String, Bool)])
        func aUserMatchesAsTheRFCSays(text: String, matches: Bool) throws {
            #expect(try SCIMFilter.parse(text).matches(Self.user, coreSchema: Self.core, caseExact: Self.caseExact) == matches)
        }

        /// Entra ID stores booleans as the strings "True" and "False"; a filter on them still reads them as booleans.
        @Test func aBooleanSentAsAStringMatchesABooleanFilter() throws {
            let entra: JSONValue = .object(["userName": "x", "active": "False"])
            #expect(try SCIMFilter.parse("active eq false").matches(entra, coreSchema: Self.core, caseExact: Self.caseExact))
            #expect(try !SCIMFilter.parse("active eq true").matches(entra, coreSchema: Self.core, caseExact: Self.caseExact))
        }
    }
}
