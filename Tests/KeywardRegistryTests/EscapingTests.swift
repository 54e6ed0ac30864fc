import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Mustache
import Testing

@testable import KeywardAuthorityHTTP
@testable import KeywardRegistry
@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// HTML escaping holds for every template and every value it renders, including text built so that a grapheme
    /// cluster joins `<` or `"` to the letter before it (a Prepend letter, a combining mark), which escaping by
    /// `Character` lets through while the browser reads a tag.
    @Suite struct EscapingTests {
        /// Values an attacker can store (a name, an ID #, a legal name from the authority) or reflect (`?search=`, a path).
        static let payloads: [String] = [
            "\u{0D4E}<b id=kwx>", "\u{0D4E}<meta http-equiv=refresh content=\"0;url=http://127.0.0.1:9\">",
            "a\u{0301}<b id=kwx>", "<\u{0301}b id=kwx>", "\"\u{0301}><b id=kwx>", "x\u{0D4E}\"onmouseover=kwx", "'\u{0301} onfocus=kwx '",
            "<b id=kwx>", "\"><b id=kwx>",
        ]

        /// Byte sequences that must never reach a page raw: a tag opened by a payload, or an attribute it breaks out into.
        static let forbidden = ["<b id=kwx", "<meta http-equiv", "\"onmouseover=kwx", "' onfocus=kwx", "'\u{0301} onfocus=kwx", "\"\u{0301}><b"]
            .map { Array($0.utf8) }

        /// Whether `needle` occurs in `bytes`, compared byte by byte (a search by `Character` would miss a `<` joined to a
        /// letter, the very thing these tests are about).
        static func occurs(_ needle: [UInt8], in bytes: [UInt8]) -> Bool {
            guard bytes.count >= needle.count else { return false }
            return (0...(bytes.count - needle.count)).contains { start in bytes[start..<(start + needle.count)].elementsEqual(needle) }
        }

        /// The forbidden byte sequences found in `html`.
        static func leaks(in html: String) -> [String] {
            let bytes = Array(html.utf8)
            return forbidden.filter { occurs($0, in: bytes) }.map { String(decoding: $0, as: UTF8.self) }
        }

        /// `text` with every `entity` (by bytes) replaced by `character`.
        static func replacing(_ entity: String, with character: String, in text: [UInt8]) -> [UInt8] {
            let needle = Array(entity.utf8)
            let replacement = Array(character.utf8)
            var output: [UInt8] = []
            var index = 0
            while index < text.count {
                if index + needle.count <= text.count, text[index..<(index + needle.count)].elementsEqual(needle) {
                    output += replacement
                    index += needle.count
                } else {
                    output.append(text[index])
                    index += 1
                }
            }
            return output
        }

        /// The registry's own templates and the ones it shares with the authority's console (layout, login, error).
        static let templateDirectories = ["KeywardRegistryHTTP/Resources/templates", "KeywardWeb/Resources/templates"].map {
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/\($0)").standardizedFileURL
        }

        /// The authority's console's own templates.
        static let consoleDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/KeywardAuthorityHTTP/Resources/console").standardizedFileURL

        static var consoleTemplateNames: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: consoleDirectory.path)) ?? []).filter { $0.hasSuffix(".mustache") }
                .map { String($0.dropLast(".mustache".count)) }.sorted()
        }

        static var templateFiles: [URL] {
            (templateDirectories + [consoleDirectory]).flatMap { directory in
                ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".mustache") }
                    .map { directory.appendingPathComponent($0) }
            }
        }

        /// The registry's templates (its own and the shared ones).
        static var templateNames: [String] {
            templateFiles.filter { !$0.path.hasPrefix(consoleDirectory.path) }.map { $0.deletingPathExtension().lastPathComponent }.sorted()
        }

        /// Answers every name a template asks for with the payload, so every variable is filled and every section shown
        /// once; `chart`, the one value rendered raw, is the real chart drawn with the payload as a key's label.
        struct Everything: MustacheParent, CustomStringConvertible {
            let payload: String

            func child(named name: String) -> Any? {
                name == "chart" ? WebUI.seatChart([(label: payload, used: 3, limit: 5, floating: false)]) : self
            }

            var description: String { payload }
        }

        @Test func everyTemplateNamesTheEscapingContentTypeFirst() throws {
            #expect(Self.templateNames.count >= 20)
            for file in Self.templateFiles {
                let text = try String(contentsOf: file, encoding: .utf8)
                #expect(text.hasPrefix("{{% CONTENT_TYPE: \(EscapedHTML.name)}}"), "\(file.lastPathComponent)")
            }
        }

        @Test(arguments: templateNames)
        func everyFieldOfTheTemplateIsEscaped(template: String) async throws {
            try await RegistryHarness.run(.sqliteMemory) { harness in
                let web = try await WebUI.load(
                    registry: harness.registry, throttle: harness.throttle, synchronizer: Synchronizer(registry: harness.registry))
                for payload in Self.payloads {
                    let html = try #require(web.pages.templates.render(Everything(payload: payload), withTemplate: template))
                    #expect(html.utf8.count > 40, "\(template) rendered nothing")
                    #expect(Self.leaks(in: html).isEmpty, "\(template) with \(payload.debugDescription): \(Self.leaks(in: html))")
                }
                // Text that looks like an entity is shown as typed, not read as the character it names.
                let literal = try #require(web.pages.templates.render(Everything(payload: "&lt;b id=kwx&gt;"), withTemplate: template))
                #expect(!Self.occurs(Array("&lt;b id=kwx&gt;".utf8), in: Array(literal.utf8)), "\(template)")
            }
        }

        @Test(arguments: consoleTemplateNames)
        func everyFieldOfTheConsoleTemplateIsEscaped(template: String) async throws {
            try await withTemporaryDirectory { directory in
                let database = try await KeywardDatabase.open(
                    setting: directory.appendingPathComponent("authority.sqlite").path, migrating: Schema.authority, logger: testLogger)
                let authority = Authority(
                    store: AuthorityStore(database: database), keyring: try AuthorityKeyring.create(in: directory, rotate: false, now: Date()),
                    catalog: try Catalog.shipped())
                let pages = try await AuthorityConsole.load(authority: authority).pages
                for payload in Self.payloads {
                    let html = try #require(pages.templates.render(Everything(payload: payload), withTemplate: template))
                    #expect(html.utf8.count > 40, "\(template) rendered nothing")
                    #expect(Self.leaks(in: html).isEmpty, "\(template) with \(payload.debugDescription): \(Self.leaks(in: html))")
                }
                await database.close()
            }
        }

        @Test(arguments: payloads)
        func escapeLeavesNoMarkupAndReadsBackAsTheText(payload: String) {
            let escaped = HTML.escape(payload)
            #expect(!escaped.utf8.contains { [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""), UInt8(ascii: "'")].contains($0) })
            var unescaped = Array(escaped.utf8)
            for (entity, character) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
                unescaped = Self.replacing(entity, with: character, in: unescaped)
            }
            #expect(unescaped == Array(payload.utf8))
        }

        /// Stored through the API and reflected through the query and the path, then read on the pages that show them.
        @Test func storedAndReflectedValuesAreEscapedOnThePages() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let key = try await harness.registerAndActivate(
                    harness.accessKey(users: 50, profile: .manager, components: ["DOC"]), idNumber: "Main")
                for (index, payload) in Self.payloads.enumerated() {
                    _ = try await harness.registry.createUser(
                        UserInput(login: "user\(index)", name: payload, email: "user\(index)@example.com"), actor: "test")
                }
                _ = try await harness.registry.rename(key.serial, to: "\u{0D4E}<b id=kwx>", actor: "test")
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(
                        idNumber: "a\u{0301}<b id=kwx>", name: Self.payloads[1], keySerial: key.serial, component: "DOC", menus: ["DC021"],
                        users: ["user0"]),
                    actor: "test")
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    var pages = ["/users", "/license-keys", "/access-groups", "/dashboard", "/license-keys/\(key.serial)", "/sessions/history"]
                    for payload in Self.payloads {
                        let encoded = payload.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                        pages += [
                            "/users?search=\(encoded)", "/sessions/history?login=\(encoded)", "/users/\(encoded)", "/access-groups/\(encoded)",
                            "/license-keys/\(encoded)",
                        ]
                    }
                    for path in pages {
                        let response = try await browser.request(.get, path)
                        let html = String(buffer: response.body)
                        #expect(response.headers[.contentType]?.hasPrefix("text/html") == true, "\(path) answered \(response.status)")
                        #expect(Self.leaks(in: html).isEmpty, "\(path): \(Self.leaks(in: html))")
                        do {
                            let policy = response.headers[HTTPField.Name("Content-Security-Policy")!] ?? ""
                            #expect(policy.contains("base-uri 'none'") && policy.contains("object-src 'none'"), "\(path): \(policy)")
                        }
                    }
                    // The stored payloads are on the pages, escaped, so the check above looked at them.
                    let users = String(buffer: try await browser.request(.get, "/users?limit=100").body)
                    #expect(users.contains(HTML.escape(Self.payloads[3])))
                }
            }
        }
    }
}
