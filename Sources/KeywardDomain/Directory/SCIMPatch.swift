/// A SCIM refusal as RFC 7644 section 3.12 types it: the `scimType` an identity provider branches on, and a sentence.
public struct SCIMProblem: Error, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case invalidSyntax, invalidPath, invalidValue, invalidFilter, noTarget, mutability, uniqueness, tooMany
    }

    public let scimType: Kind
    public let message: String

    public init(_ scimType: Kind, _ message: String) {
        self.scimType = scimType
        self.message = message
    }
}

/// One operation of a PATCH request (RFC 7644 section 3.5.2).
public struct SCIMPatchOperation: Sendable, Equatable {
    public enum Op: String, Sendable { case add, replace, remove }

    public let op: Op
    public let path: SCIMPatchPath?
    public let value: JSONValue?

    public init(op: Op, path: SCIMPatchPath? = nil, value: JSONValue? = nil) {
        self.op = op
        self.path = path
        self.value = value
    }
}

/// PATCH requests read from their JSON and applied to a resource's JSON, as identity providers send them: operation
/// names in any case (Entra's `Add`, `Replace`), booleans as strings (`"False"`), a `remove` of `members` that lists
/// the members to remove (Entra), and `replace` without a path carrying the attributes to change (Okta).
public enum SCIMPatch {
    public static let messageSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    /// The most operations one request may hold.
    public static let maximumOperations = 10_000

    /// The operations of a PATCH request's body.
    public static func operations(from body: JSONValue) throws(SCIMProblem) -> [SCIMPatchOperation] {
        guard case .object(let members) = body else { throw SCIMProblem(.invalidSyntax, "A PATCH request's body is a JSON object.") }
        guard case .array(let schemas)? = member("schemas", of: members), schemas.contains(where: { $0 == .string(messageSchema) }) else {
            throw SCIMProblem(.invalidSyntax, "A PATCH request names the schema \(messageSchema) in \"schemas\".")
        }
        guard case .array(let listed)? = member("Operations", of: members), !listed.isEmpty else {
            throw SCIMProblem(.invalidSyntax, "A PATCH request lists its changes in \"Operations\", one or more.")
        }
        guard listed.count <= maximumOperations else {
            throw SCIMProblem(.tooMany, "A PATCH request holds at most \(maximumOperations) operations; send the rest in another.")
        }
        var operations: [SCIMPatchOperation] = []
        for (index, item) in listed.enumerated() {
            guard case .object(let fields) = item, case .string(let opText)? = member("op", of: fields),
                let op = SCIMPatchOperation.Op(rawValue: opText.lowercased())
            else {
                throw SCIMProblem(.invalidSyntax, "Operation \(index + 1) needs \"op\": add, replace or remove.")
            }
            var path: SCIMPatchPath?
            switch member("path", of: fields) {
            case .string(let text)? where !text.trimmingCharacters(in: .whitespaces).isEmpty:
                do throws(SCIMSyntaxError) {
                    path = try SCIMPatchPath.parse(text)
                } catch {
                    throw SCIMProblem(.invalidPath, "Operation \(index + 1)'s path: \(error.message)")
                }
            case nil, .null?, .string?: path = nil
            default: throw SCIMProblem(.invalidPath, "Operation \(index + 1)'s path is a string.")
            }
            let value = member("value", of: fields)
            if op == .remove, path == nil {
                throw SCIMProblem(.noTarget, "Operation \(index + 1) removes, so it needs a path naming what to remove.")
            }
            if op != .remove, value == nil {
                throw SCIMProblem(.invalidValue, "Operation \(index + 1) (\(op.rawValue)) needs a value.")
            }
            operations.append(SCIMPatchOperation(op: op, path: path, value: value))
        }
        return operations
    }

    /// `resource` with `operations` applied in order, all or nothing: the first that cannot apply throws and nothing
    /// of the request is kept. Attributes are written under their schema's names; read-only ones are refused
    /// (`mutability`), unknown ones are `invalidPath`, a value of the wrong kind `invalidValue`.
    public static func apply(_ operations: [SCIMPatchOperation], to resource: JSONValue, shape: SCIMResourceShape) throws(SCIMProblem) -> JSONValue {
        guard case .object(let members) = resource else { throw SCIMProblem(.invalidSyntax, "The resource is not a JSON object.") }
        var patcher = Patcher(shape: shape, resource: members)
        for operation in operations {
            if let path = operation.path {
                try patcher.apply(operation.op, path, operation.value)
            } else {
                try patcher.applyWithoutPath(operation.op, operation.value ?? .null)
            }
        }
        return .object(patcher.resource)
    }

    /// A member of an object by a name in any case (RFC 7643 makes attribute names case-insensitive).
    public static func member(_ name: String, of members: [String: JSONValue]) -> JSONValue? {
        if let exact = members[name] { return exact }
        let folded = name.lowercased()
        return members.first { $0.key.lowercased() == folded }?.value
    }

    /// The key an object already spells `name` with, if any.
    public static func existingKey(_ name: String, in members: [String: JSONValue]) -> String? {
        if members[name] != nil { return name }
        let folded = name.lowercased()
        return members.keys.first { $0.lowercased() == folded }
    }
}

/// Applies operations to one resource, kept as its members.
private struct Patcher {
    let shape: SCIMResourceShape
    var resource: [String: JSONValue]

    /// `add` or `replace` without a path: `value` is an object of attributes (extensions under their URI).
    mutating func applyWithoutPath(_ op: SCIMPatchOperation.Op, _ value: JSONValue) throws(SCIMProblem) {
        guard case .object(let attributes) = value else {
            throw SCIMProblem(.invalidValue, "An \(op.rawValue) without a path needs an object of attributes as its value.")
        }
        for (name, attributeValue) in attributes.sorted(by: { $0.key < $1.key }) {
            if name.lowercased() == "schemas" { continue }
            if let schema = shape.extensions.first(where: { $0.id.lowercased() == name.lowercased() }) {
                guard case .object(let extensionAttributes) = attributeValue else {
                    throw SCIMProblem(.invalidValue, "The extension \(schema.id) is an object of attributes.")
                }
                for (subName, subValue) in extensionAttributes.sorted(by: { $0.key < $1.key }) {
                    try apply(op, SCIMPatchPath(attribute: SCIMAttributePath(schema: schema.id, name: subName)), subValue)
                }
                continue
            }
            guard let path = SCIMAttributePath(Substring(name)) else {
                throw SCIMProblem(.invalidPath, "\"\(name.prefix(60))\" is not an attribute name.")
            }
            try apply(op, SCIMPatchPath(attribute: path), attributeValue)
        }
    }

    mutating func apply(_ op: SCIMPatchOperation.Op, _ path: SCIMPatchPath, _ value: JSONValue?) throws(SCIMProblem) {
        guard let resolved = shape.resolve(SCIMAttributePath(schema: path.attribute.schema, name: path.attribute.name)) else {
            throw SCIMProblem(.invalidPath, "There is no attribute \(path.attribute) on a \(shape.core.name).")
        }
        let attribute = resolved.attribute
        if attribute.mutability == .readOnly {
            throw SCIMProblem(.mutability, "\(attribute.name) is read-only: it cannot be changed.")
        }
        if attribute.mutability == .writeOnly { return }  // never stored (a password: users sign in with the provider)
        var container = containerMembers(resolved.extensionSchema)
        if let filter = path.filter {
            try applyFiltered(op, attribute, filter: filter, sub: path.subAttribute, value, in: &container)
        } else if let subName = path.attribute.subAttribute {
            try applySub(op, attribute, subName: subName, value, in: &container)
        } else {
            try applyWhole(op, attribute, value, in: &container)
        }
        store(container, for: resolved.extensionSchema)
    }

    // MARK: Whole attributes

    func applyWhole(_ op: SCIMPatchOperation.Op, _ attribute: SCIMAttribute, _ value: JSONValue?, in container: inout [String: JSONValue])
        throws(SCIMProblem)
    {
        let key = SCIMPatch.existingKey(attribute.name, in: container)
        if op == .remove {
            // Entra removes members by listing them: only those go.
            if attribute.multiValued, let value, case .array(let listed) = value, let key, case .array(let current)? = container[key] {
                let leaving = try listed.map { (item) throws(SCIMProblem) in try Self.canonical(item, as: attribute, multi: false) }
                let kept = current.filter { element in !leaving.contains { Self.sameValue($0, element) } }
                if kept.isEmpty { container[key] = nil } else { container[key] = .array(kept) }
                return
            }
            if let key { container[key] = nil }
            return
        }
        let given = value ?? .null
        if given == .null {
            if let key { container[key] = nil }
            return
        }
        let canonical = try Self.canonical(given, as: attribute, multi: attribute.multiValued)
        if let key, key != attribute.name { container[key] = nil }
        let current = key.flatMap { container[$0] }
        switch (op, attribute.multiValued, attribute.kind) {
        case (.add, true, _):
            guard case .array(var elements) = current ?? .array([]), case .array(let added) = canonical else {
                container[attribute.name] = canonical
                return
            }
            for element in added where !elements.contains(where: { Self.sameValue($0, element) }) { elements.append(element) }
            container[attribute.name] = .array(elements)
        case (_, false, .complex):
            // A complex attribute's sub-attributes given are set; the others stay (RFC 7644 section 3.5.2.3).
            guard case .object(var members)? = current, case .object(let given) = canonical else {
                container[attribute.name] = canonical
                return
            }
            for (name, subValue) in given { members[name] = subValue }
            container[attribute.name] = .object(members)
        default:
            container[attribute.name] = canonical
        }
    }

    func applySub(
        _ op: SCIMPatchOperation.Op, _ attribute: SCIMAttribute, subName: String, _ value: JSONValue?, in container: inout [String: JSONValue]
    ) throws(SCIMProblem) {
        guard attribute.kind == .complex, let sub = attribute.subAttribute(subName) else {
            throw SCIMProblem(.invalidPath, "\(attribute.name) has no sub-attribute \(subName).")
        }
        guard !attribute.multiValued else {
            throw SCIMProblem(.invalidPath, "Name the value to change with a filter: \(attribute.name)[type eq \"work\"].\(sub.name).")
        }
        if sub.mutability == .readOnly { throw SCIMProblem(.mutability, "\(attribute.name).\(sub.name) is read-only.") }
        let key = SCIMPatch.existingKey(attribute.name, in: container) ?? attribute.name
        var members: [String: JSONValue] = if case .object(let current)? = container[key] { current } else { [:] }
        if op == .remove || value == nil || value == .null {
            members[sub.name] = nil
        } else {
            members[sub.name] = try Self.scalar(value ?? .null, as: sub, in: attribute)
        }
        container[key] = members.isEmpty ? nil : .object(members)
    }

    // MARK: Filtered values

    func applyFiltered(
        _ op: SCIMPatchOperation.Op, _ attribute: SCIMAttribute, filter: SCIMFilter, sub subName: String?, _ value: JSONValue?,
        in container: inout [String: JSONValue]
    ) throws(SCIMProblem) {
        guard attribute.multiValued, attribute.kind == .complex else {
            throw SCIMProblem(.invalidPath, "Only a multi-valued attribute takes a value filter; \(attribute.name) is not one.")
        }
        let sub = try subName.map { (name) throws(SCIMProblem) -> SCIMAttribute in
            guard let found = attribute.subAttribute(name) else { throw SCIMProblem(.invalidPath, "\(attribute.name) has no sub-attribute \(name).") }
            return found
        }
        let key = SCIMPatch.existingKey(attribute.name, in: container) ?? attribute.name
        var elements: [JSONValue] = if case .array(let current)? = container[key] { current } else { [] }
        let caseExact = { (path: SCIMAttributePath) in attribute.subAttribute(path.name)?.caseExact ?? false }
        var matched = elements.indices.filter { filter.matches(elements[$0], coreSchema: "", caseExact: caseExact) }
        if op == .remove {
            if let sub {
                for index in matched {
                    if case .object(var members) = elements[index] {
                        members[sub.name] = nil
                        elements[index] = .object(members)
                    }
                }
            } else {
                for index in matched.reversed() { elements.remove(at: index) }
            }
            container[key] = elements.isEmpty ? nil : .array(elements)
            return
        }
        if matched.isEmpty {
            // Entra sets `emails[type eq "work"].value` on a user who has no work e-mail yet: the filter's equalities
            // make the new value.
            guard let made = Self.element(from: filter, of: attribute) else {
                throw SCIMProblem(.noTarget, "No value of \(attribute.name) matches the path's filter.")
            }
            elements.append(made)
            matched = [elements.count - 1]
        }
        for index in matched {
            if let sub {
                guard case .object(var members) = elements[index] else { continue }
                members[sub.name] = try Self.scalar(value ?? .null, as: sub, in: attribute)
                elements[index] = .object(members)
            } else {
                elements[index] = try Self.canonical(value ?? .null, as: attribute, multi: false)
            }
        }
        container[key] = .array(elements)
    }

    /// The value an `eq` filter on sub-attributes describes (`type eq "work"` → `{"type": "work"}`); `nil` for any
    /// other filter.
    static func element(from filter: SCIMFilter, of attribute: SCIMAttribute) -> JSONValue? {
        var members: [String: JSONValue] = [:]
        func collect(_ filter: SCIMFilter) -> Bool {
            switch filter {
            case .and(let left, let right): return collect(left) && collect(right)
            case .compare(let path, .eq, let value):
                guard path.schema == nil, path.subAttribute == nil, let sub = attribute.subAttribute(path.name) else { return false }
                switch value {
                case .string(let text): members[sub.name] = .string(text)
                case .bool(let flag): members[sub.name] = .bool(flag)
                default: return false
                }
                return true
            default: return false
            }
        }
        return collect(filter) ? .object(members) : nil
    }

    // MARK: Values

    /// `value` as `attribute` stores it: sub-attributes under their names, booleans as booleans. `multi`: an array
    /// of values (a single value is taken as a list of one).
    static func canonical(_ value: JSONValue, as attribute: SCIMAttribute, multi: Bool) throws(SCIMProblem) -> JSONValue {
        if multi {
            let items: [JSONValue] = if case .array(let list) = value { list } else { [value] }
            var result: [JSONValue] = []
            for item in items { result.append(try canonical(item, as: attribute, multi: false)) }
            return .array(result)
        }
        guard attribute.kind == .complex else { return try scalar(value, as: attribute, in: nil) }
        guard case .object(let members) = value else {
            // `"members": ["id"]` and `"emails": ["a@b.c"]` are read as their `value`.
            if attribute.subAttribute("value") != nil, case .string = value { return .object(["value": value]) }
            throw SCIMProblem(.invalidValue, "\(attribute.name) takes an object of its sub-attributes.")
        }
        var result: [String: JSONValue] = [:]
        for (name, subValue) in members {
            guard let sub = attribute.subAttribute(name) else {
                throw SCIMProblem(.invalidValue, "\(attribute.name) has no sub-attribute \(name.prefix(60)).")
            }
            if subValue == .null { continue }
            result[sub.name] = try scalar(subValue, as: sub, in: attribute)
        }
        return .object(result)
    }

    /// A single value of a simple attribute, checked against its kind.
    static func scalar(_ value: JSONValue, as attribute: SCIMAttribute, in parent: SCIMAttribute?) throws(SCIMProblem) -> JSONValue {
        let name = parent.map { "\($0.name).\(attribute.name)" } ?? attribute.name
        switch (attribute.kind, value) {
        case (.boolean, .bool): return value
        case (.boolean, .string(let text)):
            guard let flag = Bool(text.lowercased()) else {
                throw SCIMProblem(.invalidValue, "\(name) is true or false, not \"\(text.prefix(40))\".")
            }
            return .bool(flag)
        case (.integer, .int): return value
        case (.string, .string), (.reference, .string): return value
        case (.dateTime, .string(let text)):
            guard Timestamp.parse(text) != nil else { throw SCIMProblem(.invalidValue, "\(name) is a date and time such as 2026-12-01T09:00:00Z.") }
            return value
        default:
            throw SCIMProblem(.invalidValue, "\(name) takes a \(attribute.kind.rawValue).")
        }
    }

    /// Whether two values of a multi-valued attribute are the same value: the same `value` (and `type`, when both
    /// have one), or equal.
    static func sameValue(_ left: JSONValue, _ right: JSONValue) -> Bool {
        guard case .object(let a) = left, case .object(let b) = right, let value = a["value"] else { return left == right }
        guard b["value"] == value else { return false }
        if let typeA = a["type"], let typeB = b["type"] { return typeA == typeB }
        return true
    }

    // MARK: Where attributes live

    func containerMembers(_ extensionSchema: SCIMSchema?) -> [String: JSONValue] {
        guard let extensionSchema else { return resource }
        guard let key = SCIMPatch.existingKey(extensionSchema.id, in: resource), case .object(let members)? = resource[key] else { return [:] }
        return members
    }

    mutating func store(_ container: [String: JSONValue], for extensionSchema: SCIMSchema?) {
        guard let extensionSchema else {
            resource = container
            return
        }
        let key = SCIMPatch.existingKey(extensionSchema.id, in: resource) ?? extensionSchema.id
        var schemas: [JSONValue] = if case .array(let listed)? = resource["schemas"] { listed } else { [.string(shape.core.id)] }
        if container.isEmpty {
            resource[key] = nil
            schemas.removeAll { $0 == .string(extensionSchema.id) }
        } else {
            resource[key] = .object(container)
            if !schemas.contains(.string(extensionSchema.id)) { schemas.append(.string(extensionSchema.id)) }
        }
        resource["schemas"] = .array(schemas)
    }
}
