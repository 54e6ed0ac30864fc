import Foundation

/// Whether a SCIM resource (its JSON representation: core attributes at the top, each extension under its schema URI)
/// matches a filter, as RFC 7644 section 3.4.2.2 defines it.
extension SCIMFilter {
    /// `caseExact` tells which attributes compare strings exactly (RFC 7643's `caseExact`: `id`, `externalId`, ...);
    /// the others compare case-insensitively. `coreSchema` is the resource's own schema URI, so a name qualified with
    /// it reads the core attributes.
    public func matches(_ resource: JSONValue, coreSchema: String, caseExact: (SCIMAttributePath) -> Bool) -> Bool {
        withoutActuallyEscaping(caseExact) { caseExact in
            Context(coreSchema: coreSchema.lowercased(), caseExact: caseExact).matches(self, in: resource)
        }
    }

    private struct Context {
        let coreSchema: String
        let caseExact: (SCIMAttributePath) -> Bool

        func matches(_ filter: SCIMFilter, in resource: JSONValue) -> Bool {
            switch filter {
            case .and(let left, let right): return matches(left, in: resource) && matches(right, in: resource)
            case .or(let left, let right): return matches(left, in: resource) || matches(right, in: resource)
            case .not(let inner): return !matches(inner, in: resource)
            case .present(let path): return values(of: path, in: resource).contains { !Self.isEmpty($0) }
            case .compare(let path, let comparison, let operand):
                let found = values(of: path, in: resource)
                if comparison == .ne { return !found.contains { compare($0, .eq, operand, exact: caseExact(path)) } }
                return found.contains { compare($0, comparison, operand, exact: caseExact(path)) }
            case .valuePath(let path, let inner):
                // Each value of the attribute is tried on its own: `emails[type eq "work"]` reads `type` in each
                // e-mail, as `emails.type` for whether it compares exactly.
                let caseExact = self.caseExact
                let within = Context(coreSchema: coreSchema) { sub in
                    caseExact(SCIMAttributePath(schema: path.schema, name: path.name, subAttribute: sub.name))
                }
                return values(of: SCIMAttributePath(schema: path.schema, name: path.name), in: resource, complexAsIs: true)
                    .contains { within.matches(inner, in: $0) }
            }
        }

        /// Every value `path` names: one for a single-valued attribute, each element of a multi-valued one (its `value`
        /// sub-attribute when it is complex and the path names none).
        func values(of path: SCIMAttributePath, in resource: JSONValue, complexAsIs: Bool = false) -> [JSONValue] {
            var base = resource
            if let schema = path.schema, schema != coreSchema {
                guard let extensionObject = Self.member(schema, of: resource) else { return [] }
                base = extensionObject
            }
            guard let attribute = Self.member(path.name, of: base) else { return [] }
            let elements: [JSONValue] = if case .array(let items) = attribute { items } else { [attribute] }
            let implied = !complexAsIs && attribute.isArray && elements.first.map(Self.isObject) == true ? "value" : nil
            guard let sub = path.subAttribute ?? implied else {
                return elements
            }
            return elements.compactMap { Self.member(sub, of: $0) }.flatMap { value -> [JSONValue] in
                if case .array(let items) = value { return items }
                return [value]
            }
        }

        func compare(_ value: JSONValue, _ comparison: SCIMComparison, _ operand: SCIMValue, exact: Bool) -> Bool {
            switch (value, operand) {
            case (.null, .null): return comparison == .eq
            case (_, .null): return false
            case (.bool(let left), .bool(let right)): return comparison == .eq && left == right
            case (.string(let left), .bool(let right)):
                // Entra ID sends booleans as "True" and "False".
                guard let left = Bool(left.lowercased()) else { return false }
                return comparison == .eq && left == right
            case (.int(let left), .number(let right)): return Self.order(Double(left), right, comparison)
            case (.double(let left), .number(let right)): return Self.order(left, right, comparison)
            case (.string(let left), .string(let right)):
                if let leftDate = Timestamp.parse(left), let rightDate = Timestamp.parse(right) {
                    return Self.order(leftDate, rightDate, comparison)
                }
                let (a, b) = exact ? (left, right) : (left.lowercased(), right.lowercased())
                switch comparison {
                case .eq: return a == b
                case .ne: return a != b
                case .co: return a.contains(b)
                case .sw: return a.hasPrefix(b)
                case .ew: return a.hasSuffix(b)
                case .gt: return a > b
                case .lt: return a < b
                case .ge: return a >= b
                case .le: return a <= b
                }
            default:
                return false
            }
        }

        static func order<T: Comparable>(_ left: T, _ right: T, _ comparison: SCIMComparison) -> Bool {
            switch comparison {
            case .eq: left == right
            case .ne: left != right
            case .gt: left > right
            case .lt: left < right
            case .ge: left >= right
            case .le: left <= right
            case .co, .sw, .ew: false
            }
        }

        /// An object's member by a case-insensitive name.
        static func member(_ name: String, of value: JSONValue) -> JSONValue? {
            guard case .object(let members) = value else { return nil }
            if let exact = members[name] { return exact }
            return members.first { $0.key.lowercased() == name }?.value
        }

        static func isObject(_ value: JSONValue) -> Bool {
            if case .object = value { return true }
            return false
        }

        static func isEmpty(_ value: JSONValue) -> Bool {
            switch value {
            case .null: true
            case .string(let text): text.isEmpty
            case .array(let items): items.isEmpty
            case .object(let members): members.isEmpty
            default: false
            }
        }
    }
}

extension JSONValue {
    fileprivate var isArray: Bool {
        if case .array = self { return true }
        return false
    }
}
