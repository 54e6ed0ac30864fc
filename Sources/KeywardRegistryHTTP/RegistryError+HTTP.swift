import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry

/// How the registry's refusals are answered over HTTP: the one place that gives them a status.
extension RegistryError: APIErrorConvertible {
    public var apiError: APIError {
        switch self {
        case .invalid(let problem): APIError.invalidField(problem)
        case .accessKey: APIError(.unprocessableContent, code: code, message: message, details: ["field": "accessKey"])
        case .certificate: APIError(.unprocessableContent, code: code, message: message, details: ["field": "certificate"])
        case .authority, .feed: APIError(.badGateway, code: code, message: message)
        case .noAuthority, .syncInProgress, .settingsLocked: APIError(.conflict, code: code, message: message)
        case .refused(_, _, let kind, let details): APIError(kind.status, code: code, message: message, details: details)
        }
    }
}

extension Registry {
    /// The registry's OpenAPI description, served at `/openapi.yaml`.
    public static func openAPIDescription() -> String {
        Bundle.module.url(forResource: "registry", withExtension: "yaml").flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
    }
}
