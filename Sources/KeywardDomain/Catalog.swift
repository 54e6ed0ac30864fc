import Foundation

/// The solutions catalog: every licensable component and its menus, each with the lowest profile that may use it.
public struct Catalog: Codable, Sendable, Hashable {
    /// One menu (screen or operation) of a component.
    public struct Menu: Codable, Sendable, Hashable {
        public var code: String
        public var name: String
        /// The lowest profile allowed to use this menu.
        public var profile: Profile

        public init(code: String, name: String, profile: Profile) {
            self.code = code
            self.name = name
            self.profile = profile
        }
    }

    /// One licensable module of the suite.
    public struct Component: Codable, Sendable, Hashable {
        public var code: String
        public var name: String
        public var menus: [Menu]

        public init(code: String, name: String, menus: [Menu]) {
            self.code = code
            self.name = name
            self.menus = menus
        }
    }

    public var version: String
    public var components: [Component]

    public init(version: String, components: [Component]) {
        self.version = version
        self.components = components
    }

    /// The component with `code`, if the catalog has it.
    public func component(_ code: String) -> Component? {
        components.first { $0.code == code }
    }

    /// Codes in `codes` that the catalog does not have, in their order.
    public func unknownComponents(in codes: [String]) -> [String] {
        let known = Set(components.map(\.code))
        return codes.filter { !known.contains($0) }
    }

    /// Reads a catalog from JSON, checking that codes are well formed and unique.
    public static func decode(_ data: Data) throws -> Catalog {
        let catalog = try JSONDecoder().decode(Catalog.self, from: data)
        let codes = catalog.components.map(\.code)
        guard Set(codes).count == codes.count, codes.allSatisfy(ComponentCode.isValid) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "component codes must be unique and well formed"))
        }
        let menus = catalog.components.flatMap { $0.menus.map(\.code) }
        guard Set(menus).count == menus.count else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "menu codes must be unique"))
        }
        return catalog
    }
}

extension Catalog {
    /// This catalog signed with `key`, as the authority publishes it at `/v1/catalog/signed`.
    public func signed(with key: AuthoritySigningKey) -> SignedDocument {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return SignedDocument.sign(try! encoder.encode(self), for: .catalog, with: key)
    }

    /// The catalog a signed document carries, once its signature checks out with a trusted key; read strictly, as
    /// feeds and certificates are (a member named twice is refused, however well signed).
    public static func verified(_ document: SignedDocument, trust: TrustStore) throws -> Catalog {
        let payload = try document.verifiedPayload(for: .catalog, trust: trust)
        guard SignedDocument.isUniquelyNamed(payload) else { throw SignedDocument.Failure.malformed }
        return try decode(payload)
    }
}

extension Catalog {
    /// The build has no catalog resource: a packaging fault, not an input error.
    public struct ResourceMissing: Error, CustomStringConvertible {
        public var description: String { "CATALOG_MISSING: The default catalog resource is missing from this build." }
    }

    /// The catalog shipped with Keyward: the authority's default, and the registry's until a synchronization brings the vendor's.
    public static func shipped() throws -> Catalog {
        guard let url = Bundle.module.url(forResource: "catalog", withExtension: "json") else { throw ResourceMissing() }
        return try Catalog.decode(Data(contentsOf: url))
    }
}
