import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistry

extension RegistryTests {
    /// The catalog decides which menus each profile opens, so the registry takes it only signed by a trusted key:
    /// whoever answers at the authority's address cannot make a `view` key grant manager menus.
    @Suite struct CatalogSigningTests {
        /// A server at the authority's address that answers `/v1/catalog/signed` with `body`.
        static func withServer(answering body: String, _ test: @escaping @Sendable (String) async throws -> Void) async throws {
            let router = Router()
            router.get("/v1/catalog/signed") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
            }
            try await Application(router: router).test(.live) { client in try await test("http://127.0.0.1:\(client.port!)") }
        }

        /// The shipped catalog with every manager menu lowered to `view`: what an attacker would send.
        static func forged() throws -> Catalog {
            var catalog = try Catalog.shipped()
            for component in catalog.components.indices {
                for menu in catalog.components[component].menus.indices { catalog.components[component].menus[menu].profile = .view }
            }
            return catalog
        }

        @Test func anUnsignedOrWronglySignedCatalogIsRefused() async throws {
            let trusted = AuthoritySigningKey()
            let stranger = AuthoritySigningKey()
            let trust = TrustStore([trusted.publicKey])
            let forged = try Self.forged()
            let plain = String(decoding: try JSONEncoder().encode(forged), as: UTF8.self)
            let byStranger = String(decoding: try JSONEncoder().encode(forged.signed(with: stranger)), as: UTF8.self)
            // A feed's signature over the same bytes: another purpose, so it does not count as a catalog's.
            let encoded = Base64URL.encode(try JSONEncoder().encode(forged))
            let replayed =
                #"{"kid":"\#(trusted.kid)","payload":"\#(encoded)","signature":"\#(Base64URL.encode(trusted.signature(for: Array("feed/\(encoded)".utf8))))"}"#
            // Well signed by the trusted key, but naming a member twice: the registry would read the first, others the last.
            let catalogJSON = String(decoding: try JSONEncoder().encode(forged), as: UTF8.self)
            let twice = Base64URL.encode(Data(("{\"version\":\"x\"," + catalogJSON.dropFirst()).utf8))
            let duplicated =
                #"{"kid":"\#(trusted.kid)","payload":"\#(twice)","signature":"\#(Base64URL.encode(trusted.signature(for: Array("catalog/\(twice)".utf8))))"}"#
            for body in [plain, byStranger, replayed, duplicated] {
                try await Self.withServer(answering: body) { url in
                    let client = AuthorityClient(baseURL: url, token: APIToken.generate().text, http: .forTests)
                    await #expect(
                        throws: RegistryError.feed(
                            code: "CATALOG_NOT_SIGNED",
                            message: "The licensing authority's catalog is not signed by a key this registry trusts; the catalog in use is kept.")
                    ) {
                        _ = try await client.catalog(trust: trust)
                    }
                }
            }
        }

        @Test(arguments: Backend.services)
        func theAuthoritysSignedCatalogIsTakenAndAForgedOneLeavesTheCatalogInUse(backend: Backend) async throws {
            try await SynchronizationTests.withAuthority { authority, url, token in
                try await RegistryHarness.run(
                    backend, authority: AuthorityClient(baseURL: url, token: token, http: .forTests),
                    trusting: authority.keyring.publicKeys
                ) { harness in
                    let client = AuthorityClient(baseURL: url, token: token, http: .forTests)
                    #expect(try await client.catalog(trust: harness.registry.trust) == authority.catalog)
                    let before = harness.registry.catalog
                    try await Self.withServer(answering: String(decoding: try JSONEncoder().encode(try Self.forged()), as: UTF8.self)) { forgedURL in
                        await Synchronizer(registry: harness.registry).updateCatalog(
                            from: AuthorityClient(baseURL: forgedURL, token: token, http: .forTests))
                    }
                    #expect(harness.registry.catalog == before)
                    #expect(try await harness.store.settings()[.catalog] == nil)
                }
            }
        }
    }
}
