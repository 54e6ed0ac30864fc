/// What the registry's SCIM service stores of a resource (RFC 7643 section 7): the attributes of the core User and
/// Group schemas it keeps, and the enterprise extension's. `/Schemas` publishes these, filters compare by their
/// `caseExact`, and PATCH writes attributes under their canonical names.
public struct SCIMAttribute: Sendable, Hashable {
    public enum Kind: String, Sendable { case string, boolean, complex, reference, dateTime, integer }
    public enum Mutability: String, Sendable { case readOnly, readWrite, immutable, writeOnly }

    public let name: String
    public let kind: Kind
    public let multiValued: Bool
    public let required: Bool
    public let caseExact: Bool
    public let mutability: Mutability
    /// `server` when no two resources may share a value.
    public let uniqueness: String
    public let subAttributes: [SCIMAttribute]
    public let description: String

    public init(
        _ name: String, _ kind: Kind = .string, multiValued: Bool = false, required: Bool = false, caseExact: Bool = false,
        mutability: Mutability = .readWrite, uniqueness: String = "none", subAttributes: [SCIMAttribute] = [], description: String
    ) {
        self.name = name
        self.kind = kind
        self.multiValued = multiValued
        self.required = required
        self.caseExact = caseExact
        self.mutability = mutability
        self.uniqueness = uniqueness
        self.subAttributes = subAttributes
        self.description = description
    }

    /// The sub-attribute named `name`, in any case.
    public func subAttribute(_ name: String) -> SCIMAttribute? {
        subAttributes.first { $0.name.lowercased() == name.lowercased() }
    }
}

/// A schema: its URI and its attributes.
public struct SCIMSchema: Sendable, Hashable {
    public let id: String
    public let name: String
    public let description: String
    public let attributes: [SCIMAttribute]

    /// The attribute named `name`, in any case.
    public func attribute(_ name: String) -> SCIMAttribute? {
        attributes.first { $0.name.lowercased() == name.lowercased() }
    }
}

/// A resource's schemas: its core schema and the extensions it may carry (each under its URI in the resource).
public struct SCIMResourceShape: Sendable {
    public let core: SCIMSchema
    public let extensions: [SCIMSchema]

    /// The attribute `path` names, the schema it belongs to (`nil` for the core schema), and its sub-attribute's
    /// definition when the path names one; `nil` when the shape has no such attribute.
    public func resolve(_ path: SCIMAttributePath) -> (attribute: SCIMAttribute, extensionSchema: SCIMSchema?, sub: SCIMAttribute?)? {
        let schema: SCIMSchema
        var extensionSchema: SCIMSchema?
        if let uri = path.schema, uri != core.id.lowercased() {
            guard let found = extensions.first(where: { $0.id.lowercased() == uri }) else { return nil }
            schema = found
            extensionSchema = found
        } else {
            schema = core
        }
        guard let attribute = schema.attribute(path.name) else { return nil }
        guard let subName = path.subAttribute else { return (attribute, extensionSchema, nil) }
        guard let sub = attribute.subAttribute(subName) else { return nil }
        return (attribute, extensionSchema, sub)
    }

    /// Whether `path` compares its strings exactly (RFC 7643's `caseExact`); unknown attributes do not.
    public func caseExact(_ path: SCIMAttributePath) -> Bool {
        guard let resolved = resolve(path) else { return false }
        return (resolved.sub ?? resolved.attribute).caseExact
    }
}

extension SCIMSchema {
    public static let userURI = "urn:ietf:params:scim:schemas:core:2.0:User"
    public static let groupURI = "urn:ietf:params:scim:schemas:core:2.0:Group"
    public static let enterpriseUserURI = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

    static let common: [SCIMAttribute] = [
        SCIMAttribute(
            "id", caseExact: true, mutability: .readOnly, uniqueness: "server", description: "The registry's identifier of the resource."),
        SCIMAttribute("externalId", caseExact: true, description: "The identity provider's identifier of the resource."),
        SCIMAttribute(
            "meta", .complex, mutability: .readOnly,
            subAttributes: [
                SCIMAttribute("resourceType", mutability: .readOnly, description: "User or Group."),
                SCIMAttribute("created", .dateTime, mutability: .readOnly, description: "When the resource was made."),
                SCIMAttribute("lastModified", .dateTime, mutability: .readOnly, description: "When the resource last changed."),
                SCIMAttribute("location", .reference, caseExact: true, mutability: .readOnly, description: "The resource's URI."),
                SCIMAttribute("version", caseExact: true, mutability: .readOnly, description: "The resource's weak ETag."),
            ], description: "The resource's metadata."),
    ]

    static func multiValued(_ name: String, types: String, description: String) -> SCIMAttribute {
        SCIMAttribute(
            name, .complex, multiValued: true,
            subAttributes: [
                SCIMAttribute("value", description: "The value."),
                SCIMAttribute("display", description: "A name to show."),
                SCIMAttribute("type", description: "What it is: \(types)."),
                SCIMAttribute("primary", .boolean, description: "Whether it is the preferred one."),
            ], description: description)
    }

    /// The core User schema, as far as the registry stores it; `userName` is the registry user's login.
    public static let user = SCIMSchema(
        id: userURI, name: "User", description: "A person who may use the suite.",
        attributes: common + [
            SCIMAttribute(
                "userName", required: true, uniqueness: "server",
                description: "The login in the registry and the suite; unique, compared without regard to case."),
            SCIMAttribute(
                "name", .complex,
                subAttributes: [
                    SCIMAttribute("formatted", description: "The whole name, as shown."),
                    SCIMAttribute("familyName", description: "The family name."),
                    SCIMAttribute("givenName", description: "The given name."),
                    SCIMAttribute("middleName", description: "The middle name."),
                    SCIMAttribute("honorificPrefix", description: "A title before the name."),
                    SCIMAttribute("honorificSuffix", description: "A suffix after the name."),
                ], description: "The person's name."),
            SCIMAttribute("displayName", description: "The name shown in the registry."),
            SCIMAttribute("nickName", description: "A casual name."),
            SCIMAttribute("title", description: "The job title."),
            SCIMAttribute("userType", description: "E.g. Employee, Contractor."),
            SCIMAttribute("preferredLanguage", description: "E.g. en-US."),
            SCIMAttribute("locale", description: "E.g. en-US."),
            SCIMAttribute("timezone", description: "E.g. America/Los_Angeles."),
            SCIMAttribute(
                "active", .boolean,
                description: "Whether the user may use the suite. False disables the user (never deleted): seats are freed, sessions end."
            ),
            SCIMAttribute("password", mutability: .writeOnly, description: "Not stored: the registry's users sign in with the identity provider."),
            multiValued("emails", types: "work, home, other", description: "E-mail addresses; the primary (or first) is the user's e-mail."),
            multiValued("phoneNumbers", types: "work, mobile, fax, home, other", description: "Phone numbers."),
            multiValued("ims", types: "aim, gtalk, icq, xmpp, msn, skype, qq, yahoo", description: "Instant messaging addresses."),
            multiValued("photos", types: "photo, thumbnail", description: "URLs of photos of the user."),
            SCIMAttribute(
                "addresses", .complex, multiValued: true,
                subAttributes: [
                    SCIMAttribute("formatted", description: "The whole address, as shown."),
                    SCIMAttribute("streetAddress", description: "The street."),
                    SCIMAttribute("locality", description: "The city."),
                    SCIMAttribute("region", description: "The state or region."),
                    SCIMAttribute("postalCode", description: "The postal code."),
                    SCIMAttribute("country", description: "The country, as an ISO 3166-1 code."),
                    SCIMAttribute("type", description: "What it is: work, home, other."),
                    SCIMAttribute("primary", .boolean, description: "Whether it is the preferred one."),
                ], description: "Postal addresses."),
            multiValued("entitlements", types: "any", description: "Entitlements the directory gives the user (kept, not used)."),
            multiValued("roles", types: "any", description: "Roles the directory gives the user (kept, not used)."),
            multiValued("x509Certificates", types: "any", description: "Certificates of the user (kept, not used)."),
            SCIMAttribute("profileUrl", .reference, description: "A page about the user."),
            SCIMAttribute(
                "groups", .complex, multiValued: true, mutability: .readOnly,
                subAttributes: [
                    SCIMAttribute("value", mutability: .readOnly, description: "The group's id."),
                    SCIMAttribute("display", mutability: .readOnly, description: "The group's name."),
                    SCIMAttribute("$ref", .reference, mutability: .readOnly, description: "The group's URI."),
                ], description: "The directory groups the user is a member of, read only (change a group's members instead)."),
        ])

    /// The enterprise extension's attributes the registry stores.
    public static let enterpriseUser = SCIMSchema(
        id: enterpriseUserURI, name: "EnterpriseUser", description: "The user's place in the organization.",
        attributes: [
            SCIMAttribute("employeeNumber", description: "The organization's number for the person."),
            SCIMAttribute("costCenter", description: "The cost center."),
            SCIMAttribute("organization", description: "The organization."),
            SCIMAttribute("division", description: "The division."),
            SCIMAttribute("department", description: "The department."),
            SCIMAttribute(
                "manager", .complex,
                subAttributes: [
                    SCIMAttribute("value", description: "The manager's id."),
                    SCIMAttribute("$ref", .reference, description: "The manager's URI."),
                    SCIMAttribute("displayName", mutability: .readOnly, description: "The manager's name."),
                ], description: "The user's manager."),
        ])

    /// The core Group schema: a directory group, whose members an access group may take its users from.
    public static let group = SCIMSchema(
        id: groupURI, name: "Group", description: "A directory group.",
        attributes: common + [
            SCIMAttribute("displayName", required: true, description: "The group's name."),
            SCIMAttribute(
                "members", .complex, multiValued: true,
                subAttributes: [
                    SCIMAttribute("value", caseExact: true, mutability: .immutable, description: "The member's id."),
                    SCIMAttribute("display", mutability: .readOnly, description: "The member's name."),
                    SCIMAttribute("$ref", .reference, mutability: .immutable, description: "The member's URI."),
                    SCIMAttribute("type", mutability: .immutable, description: "User."),
                ], description: "The group's members: users only."),
        ])
}

extension SCIMResourceShape {
    public static let user = SCIMResourceShape(core: .user, extensions: [.enterpriseUser])
    public static let group = SCIMResourceShape(core: .group, extensions: [])
}

extension SCIMAttribute {
    /// The attribute as `/Schemas` describes it (RFC 7643 section 7).
    public var representation: JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(name), "type": .string(kind.rawValue), "multiValued": .bool(multiValued), "description": .string(description),
            "required": .bool(required), "caseExact": .bool(caseExact), "mutability": .string(mutability.rawValue),
            "returned": .string(mutability == .writeOnly ? "never" : (name == "id" ? "always" : "default")), "uniqueness": .string(uniqueness),
        ]
        if kind == .reference { members["referenceTypes"] = .array(name == "$ref" || name == "location" ? ["uri"] : ["external"]) }
        if !subAttributes.isEmpty { members["subAttributes"] = .array(subAttributes.map(\.representation)) }
        return .object(members)
    }
}

extension SCIMSchema {
    /// The schema as `/Schemas/{id}` answers it, located under `base` (the service's `/scim/v2` URL).
    public func representation(base: String) -> JSONValue {
        .object([
            "schemas": .array(["urn:ietf:params:scim:schemas:core:2.0:Schema"]), "id": .string(id), "name": .string(name),
            "description": .string(description), "attributes": .array(attributes.map(\.representation)),
            "meta": .object(["resourceType": "Schema", "location": .string("\(base)/Schemas/\(id)")]),
        ])
    }
}
