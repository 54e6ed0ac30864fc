/// The `attributes` and `excludedAttributes` query parameters (RFC 7644 section 3.4.2.5): which attributes a resource
/// is returned with. `id` and `schemas` are always returned.
public struct SCIMProjection: Sendable, Equatable {
    public var attributes: [SCIMAttributePath]
    public var excluded: [SCIMAttributePath]

    public init(attributes: [SCIMAttributePath] = [], excluded: [SCIMAttributePath] = []) {
        self.attributes = attributes
        self.excluded = excluded
    }

    /// The parameters' comma-separated attribute names; `invalidValue` for one that is not a name.
    public static func parse(attributes: String?, excluded: String?) throws(SCIMProblem) -> SCIMProjection {
        func names(_ text: String?, _ parameter: String) throws(SCIMProblem) -> [SCIMAttributePath] {
            guard let text, !text.isEmpty else { return [] }
            var paths: [SCIMAttributePath] = []
            for part in text.split(separator: ",").prefix(100) {
                let name = part.trimmingCharacters(in: .whitespaces)
                guard let path = SCIMAttributePath(Substring(name)) else {
                    throw SCIMProblem(.invalidValue, "\(parameter) lists attribute names separated by commas; \"\(name.prefix(60))\" is not one.")
                }
                paths.append(path)
            }
            return paths
        }
        return SCIMProjection(attributes: try names(attributes, "attributes"), excluded: try names(excluded, "excludedAttributes"))
    }

    public var isEmpty: Bool { attributes.isEmpty && excluded.isEmpty }

    /// Whether the projection leaves out `name` (a core attribute), for a caller that can skip reading it.
    public func excludes(_ name: String) -> Bool {
        let folded = name.lowercased()
        if excluded.contains(where: { $0.schema == nil && $0.name.lowercased() == folded && $0.subAttribute == nil }) { return true }
        return !attributes.isEmpty && !attributes.contains { $0.schema == nil && $0.name.lowercased() == folded }
    }

    /// `resource` with only the attributes asked for (or without the excluded ones).
    public func apply(to resource: JSONValue, coreSchema: String) -> JSONValue {
        guard !isEmpty, case .object(let members) = resource else { return resource }
        let core = coreSchema.lowercased()
        var result: [String: JSONValue] = [:]
        if attributes.isEmpty {
            result = members
        } else {
            for key in ["id", "schemas"] where members[key] != nil { result[key] = members[key] }
            for path in attributes { Self.copy(path, core: core, from: members, into: &result) }
        }
        for path in excluded { Self.remove(path, core: core, from: &result) }
        return .object(result)
    }

    /// The container a path's attribute lives in: the resource, or an extension's object.
    static func containerKey(_ path: SCIMAttributePath, core: String, in members: [String: JSONValue]) -> String?? {
        guard let schema = path.schema, schema != core else { return .some(nil) }
        guard let key = members.keys.first(where: { $0.lowercased() == schema }) else { return nil }
        return .some(key)
    }

    static func copy(_ path: SCIMAttributePath, core: String, from members: [String: JSONValue], into result: inout [String: JSONValue]) {
        guard let container = containerKey(path, core: core, in: members) else { return }
        let source: [String: JSONValue]
        if let key = container {
            guard case .object(let inner)? = members[key] else { return }
            source = inner
        } else {
            source = members
        }
        guard let name = SCIMPatch.existingKey(path.name, in: source), let value = source[name] else { return }
        var picked = value
        if let sub = path.subAttribute {
            picked = Self.only(sub, of: value)
        }
        if let key = container {
            var inner: [String: JSONValue] = if case .object(let existing)? = result[key] { existing } else { [:] }
            inner[name] = Self.merged(inner[name], picked)
            result[key] = .object(inner)
        } else {
            result[name] = Self.merged(result[name], picked)
        }
    }

    static func remove(_ path: SCIMAttributePath, core: String, from result: inout [String: JSONValue]) {
        guard let container = containerKey(path, core: core, in: result) else { return }
        if path.schema == nil || container == nil, ["id", "schemas"].contains(path.name.lowercased()), path.subAttribute == nil { return }
        func strip(_ members: inout [String: JSONValue]) {
            guard let name = SCIMPatch.existingKey(path.name, in: members) else { return }
            guard let sub = path.subAttribute else {
                members[name] = nil
                return
            }
            members[name] = Self.without(sub, of: members[name] ?? .null)
        }
        if let key = container {
            guard case .object(var inner)? = result[key] else { return }
            strip(&inner)
            result[key] = .object(inner)
        } else {
            strip(&result)
        }
    }

    /// A complex value (or each of a multi-valued one) with only sub-attribute `sub`.
    static func only(_ sub: String, of value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            guard let key = SCIMPatch.existingKey(sub, in: members) else { return .object([:]) }
            return .object([key: members[key] ?? .null])
        case .array(let items): return .array(items.map { only(sub, of: $0) })
        default: return value
        }
    }

    static func without(_ sub: String, of value: JSONValue) -> JSONValue {
        switch value {
        case .object(var members):
            if let key = SCIMPatch.existingKey(sub, in: members) { members[key] = nil }
            return .object(members)
        case .array(let items): return .array(items.map { without(sub, of: $0) })
        default: return value
        }
    }

    /// Two picks of the same attribute (`name.givenName,name.familyName`) together.
    static func merged(_ existing: JSONValue?, _ new: JSONValue) -> JSONValue {
        switch (existing, new) {
        case (.object(let a)?, .object(let b)): return .object(a.merging(b) { _, second in second })
        case (.array(let a)?, .array(let b)) where a.count == b.count: return .array(zip(a, b).map { merged($0, $1) })
        default: return new
        }
    }
}
