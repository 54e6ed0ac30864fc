import Foundation
import Hummingbird
import KeywardDomain
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// Keys by the ID # the administrator chose: a serial becomes `{"idNumber", "serial", "showSerial"}` for templates
/// (`showSerial` is false when the ID # is the serial itself, as synchronized keys start).
struct KeyNames {
    let names: [String: String]

    init(_ keys: [RegisteredKey]) {
        names = Dictionary(keys.map { ($0.serial, $0.idNumber) }, uniquingKeysWith: { first, _ in first })
    }

    func idNumber(_ serial: String) -> String { names[serial] ?? serial }

    func values(_ serial: String) -> [String: Any] {
        let idNumber = idNumber(serial)
        return ["idNumber": idNumber, "serial": serial, "showSerial": idNumber != serial, "known": names[serial] != nil]
    }
}

extension WebUI {
    /// A settings page's form with Save, Test connection and Remove (Settings > Directory, Settings > Sign-in): runs the
    /// button pressed; saving and removing go back to the page with their flash. A refusal of one field is shown beside
    /// it, any other where the test's outcome goes, through `page`.
    func settingsAction(
        _ action: String?, at path: String, saved: String, cleared: String, test: () async throws -> Response,
        clear: () async throws -> Void, save: () async throws -> Void,
        page: (_ errors: [String: String], _ failure: (code: String, message: String)?) async throws -> Response
    ) async throws -> Response {
        do {
            switch action {
            case "test":
                return try await test()
            case "clear":
                try await clear()
                return Self.redirect("\(path)?flash=\(cleared)")
            default:
                try await save()
                return Self.redirect("\(path)?flash=\(saved)")
            }
        } catch let error as RegistryError {
            if case .invalid(let problem) = error { return try await page([problem.field: problem.message], nil) }
            return try await page([:], (error.code, error.message))
        }
    }
}
