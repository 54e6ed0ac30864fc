import Foundation
import KeywardDomain
import Testing

extension DomainTests {
    /// PATCH requests (RFC 7644 section 3.5.2) read and applied as Entra ID and Okta send them.
    @Suite struct SCIMPatchTests {
        static let enterprise = SCIMSchema.enterpriseUserURI

        static func json(_ text: String) throws -> JSONValue {
            try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        }

        /// The resource after the request `operations` (a JSON array of operations) on `resource`.
        static func patched(_ resource: String, _ operations: String, shape: SCIMResourceShape = .user) throws -> JSONValue {
            let body = try json(#"{"schemas":["\#(SCIMPatch.messageSchema)"],"Operations":\#(operations)}"#)
            return try SCIMPatch.apply(try SCIMPatch.operations(from: body), to: try json(resource), shape: shape)
        }

        static let group = #"{"schemas":["\#(SCIMSchema.groupURI)"],"displayName":"Sales","members":[{"value":"u1"}]}"#
        static let user = """
            {"schemas":["\(SCIMSchema.userURI)"],"userName":"bjensen","active":true,"name":{"givenName":"Barbara","familyName":"Jensen"},
             "emails":[{"value":"bjensen@example.com","type":"home"}]}
            """

        static func members(_ resource: JSONValue) -> [String] {
            guard case .object(let fields) = resource, case .array(let members)? = fields["members"] else { return [] }
            return members.compactMap { if case .object(let m) = $0, case .string(let v)? = m["value"] { v } else { nil } }
        }

        static func field(_ resource: JSONValue, _ names: String...) -> JSONValue? {
            var current: JSONValue? = resource
            for name in names {
                guard case .object(let fields)? = current else { return nil }
                current = fields[name]
            }
            return current
        }

        @Test func entraAddsMembersWithACapitalOpAndNoDuplicates() throws {
            let result = try Self.patched(Self.group, #"[{"op":"Add","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]"#, shape: .group)
            #expect(Self.members(result) == ["u1", "u2"])
        }

        /// Entra removes members by listing them under `members`: only those leave, never the whole group.
        @Test func entraRemovesTheListedMembersOnly() throws {
            let three = try Self.patched(Self.group, #"[{"op":"add","path":"members","value":[{"value":"u2"},{"value":"u3"}]}]"#, shape: .group)
            let body = try Self.json(
                #"{"schemas":["\#(SCIMPatch.messageSchema)"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"u2"}]}]}"#)
            let result = try SCIMPatch.apply(try SCIMPatch.operations(from: body), to: three, shape: .group)
            #expect(Self.members(result) == ["u1", "u3"])
        }

        @Test func aValueFilterRemovesTheMembersItMatchesAndNothingWhenNoneMatch() throws {
            let two = try Self.patched(Self.group, #"[{"op":"add","path":"members","value":[{"value":"u2"}]}]"#, shape: .group)
            let removeOne = #"{"schemas":["\#(SCIMPatch.messageSchema)"],"Operations":[{"op":"remove","path":"members[value eq \"u2\"]"}]}"#
            #expect(Self.members(try SCIMPatch.apply(try SCIMPatch.operations(from: try Self.json(removeOne)), to: two, shape: .group)) == ["u1"])
            let removeNone = #"{"schemas":["\#(SCIMPatch.messageSchema)"],"Operations":[{"op":"remove","path":"members[value eq \"nobody\"]"}]}"#
            #expect(
                Self.members(try SCIMPatch.apply(try SCIMPatch.operations(from: try Self.json(removeNone)), to: two, shape: .group)) == ["u1", "u2"])
        }

        /// Okta replaces without a path; Entra sends booleans as strings.
        @Test(
            arguments: [
                #"[{"op":"replace","value":{"active":false}}]"#, #"[{"op":"Replace","path":"active","value":"False"}]"#,
                #"[{"op":"replace","path":"ACTIVE","value":false}]"#,
            ])
        func aUserIsDisabledTheWaysProvidersSayIt(operations: String) throws {
            let result = try Self.patched(Self.user, operations)
            #expect(Self.field(result, "active") == .bool(false))
        }

        @Test func aFilteredSubAttributeIsSetAndMadeWhenItsValueIsMissing() throws {
            let made = try Self.patched(Self.user, #"[{"op":"replace","path":"emails[type eq \"work\"].value","value":"b@work.example"}]"#)
            #expect(
                Self.field(made, "emails")
                    == .array([.object(["value": "bjensen@example.com", "type": "home"]), .object(["type": "work", "value": "b@work.example"])]))
            let changed = try Self.patched(Self.user, #"[{"op":"replace","path":"emails[type eq \"home\"].value","value":"babs@home.example"}]"#)
            #expect(Self.field(changed, "emails") == .array([.object(["value": "babs@home.example", "type": "home"])]))
        }

        @Test func anExtensionIsWrittenUnderItsURIAndNamedInSchemas() throws {
            let result = try Self.patched(
                Self.user, #"[{"op":"add","value":{"\#(Self.enterprise)":{"Department":"Sales","employeeNumber":"701984"}}}]"#)
            #expect(Self.field(result, Self.enterprise) == .object(["department": "Sales", "employeeNumber": "701984"]))
            #expect(Self.field(result, "schemas") == .array([.string(SCIMSchema.userURI), .string(Self.enterprise)]))
            let byPath = try Self.patched(Self.user, #"[{"op":"replace","path":"\#(Self.enterprise):manager","value":{"value":"u9"}}]"#)
            #expect(Self.field(byPath, Self.enterprise, "manager") == .object(["value": "u9"]))
        }

        /// A complex attribute keeps the sub-attributes a change does not name.
        @Test(
            arguments: [
                #"[{"op":"replace","path":"name.familyName","value":"Smith"}]"#, #"[{"op":"replace","path":"name","value":{"familyName":"Smith"}}]"#,
                #"[{"op":"replace","value":{"name":{"familyName":"Smith"}}}]"#,
            ])
        func aComplexAttributeKeepsWhatIsNotChanged(operations: String) throws {
            let result = try Self.patched(Self.user, operations)
            #expect(Self.field(result, "name") == .object(["givenName": "Barbara", "familyName": "Smith"]))
        }

        @Test func anAttributeNamedInAnyCaseIsWrittenUnderItsSchemasName() throws {
            let result = try Self.patched(
                Self.user, #"[{"op":"replace","path":"USERNAME","value":"babs"},{"op":"add","path":"displayname","value":"Babs"}]"#)
            #expect(Self.field(result, "userName") == .string("babs"))
            #expect(Self.field(result, "displayName") == .string("Babs"))
            #expect(Self.field(result, "displayname") == nil)
        }

        /// Every refusal names its `scimType` and says what is wrong; a request with one bad operation applies none.
        @Test(
            arguments: [
                (#"[{"op":"remove"}]"#, SCIMProblem.Kind.noTarget),
                (#"[{"op":"replace","path":"nosuch","value":"x"}]"#, .invalidPath),
                (#"[{"op":"replace","path":"id","value":"x"}]"#, .mutability),
                (#"[{"op":"replace","path":"meta.lastModified","value":"2026-01-01T00:00:00Z"}]"#, .mutability),
                (#"[{"op":"replace","path":"active","value":"maybe"}]"#, .invalidValue),
                (#"[{"op":"add","path":"emails","value":[7]}]"#, .invalidValue),
                (#"[{"op":"add","path":"emails","value":[{"value":"a@b.c","color":"red"}]}]"#, .invalidValue),
                (#"[{"op":"move","path":"active","value":true}]"#, .invalidSyntax),
                (#"[{"op":"replace","path":"emails[type eq","value":"x"}]"#, .invalidPath),
                (#"[{"op":"replace","path":"emails[type co \"w\"].value","value":"x"}]"#, .noTarget),
                (#"[{"op":"replace","path":"userName[value eq \"x\"]","value":"x"}]"#, .invalidPath),
                (#"[{"op":"replace","path":"emails.value","value":"x"}]"#, .invalidPath),
                (#"[{"op":"replace","path":"active"}]"#, .invalidValue),
                (#"[{"op":"replace","path":"displayName","value":"ok"},{"op":"replace","path":"nosuch","value":"x"}]"#, .invalidPath),
                (#"[]"#, .invalidSyntax),
            ] as [(String, SCIMProblem.Kind)])
        func aBadOperationIsRefusedWithItsSCIMType(operations: String, scimType: SCIMProblem.Kind) {
            #expect {
                try Self.patched(Self.user, operations)
            } throws: { error in
                guard let problem = error as? SCIMProblem else { return false }
                return problem.scimType == scimType && !problem.message.isEmpty
            }
        }

        @Test func aRequestWithoutThePatchSchemaIsRefused() throws {
            let body = try Self.json(#"{"Operations":[{"op":"replace","path":"active","value":false}]}"#)
            #expect(throws: SCIMProblem(.invalidSyntax, "A PATCH request names the schema \(SCIMPatch.messageSchema) in \"schemas\".")) {
                try SCIMPatch.operations(from: body)
            }
        }
    }
}

extension DomainTests {
    /// What `/Schemas` will publish is read from the same definitions PATCH and filters use.
    @Suite struct SCIMSchemaTests {
        @Test func theUserSchemaDescribesWhatIsStoredWithRFC7643sFields() throws {
            guard case .object(let schema) = SCIMSchema.user.representation(base: "https://registry.example/scim/v2"),
                case .array(let attributes)? = schema["attributes"]
            else {
                Issue.record("not an object with attributes")
                return
            }
            #expect(schema["id"] == .string(SCIMSchema.userURI))
            #expect(
                schema["meta"]
                    == .object(["resourceType": "Schema", "location": .string("https://registry.example/scim/v2/Schemas/\(SCIMSchema.userURI)")]))
            let byName = Dictionary(
                uniqueKeysWithValues: attributes.compactMap { value -> (String, [String: JSONValue])? in
                    guard case .object(let fields) = value, case .string(let name)? = fields["name"] else { return nil }
                    return (name, fields)
                })
            #expect(byName["userName"]?["uniqueness"] == .string("server"))
            #expect(byName["userName"]?["required"] == .bool(true))
            #expect(byName["id"]?["mutability"] == .string("readOnly"))
            #expect(byName["id"]?["returned"] == .string("always"))
            #expect(byName["password"]?["returned"] == .string("never"))
            #expect(byName["active"]?["type"] == .string("boolean"))
            guard case .array(let emailParts)? = byName["emails"]?["subAttributes"] else {
                Issue.record("emails has no sub-attributes")
                return
            }
            #expect(emailParts.count == 4)
            for required in ["name", "type", "multiValued", "description", "required", "caseExact", "mutability", "returned", "uniqueness"] {
                #expect(attributes.allSatisfy { if case .object(let fields) = $0 { fields[required] != nil } else { false } }, "\(required)")
            }
            // Filters compare as the schema says: ids exactly, logins in any case.
            #expect(SCIMResourceShape.user.caseExact(SCIMAttributePath(name: "externalId")))
            #expect(!SCIMResourceShape.user.caseExact(SCIMAttributePath(name: "userName")))
            #expect(SCIMResourceShape.group.caseExact(SCIMAttributePath(name: "members", subAttribute: "value")))
        }
    }
}
