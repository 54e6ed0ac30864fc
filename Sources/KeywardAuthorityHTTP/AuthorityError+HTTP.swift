import Foundation
import Hummingbird
import KeywardAuthority
import KeywardHTTP

/// How the authority's own refusals are answered over HTTP.
extension AuthorityError: APIErrorConvertible {
    public var apiError: APIError {
        switch self {
        case .invalid(let problems): APIError.invalidFields(problems)
        }
    }
}

/// A signing key the service could not write or read (its refusals reach the API as store errors): the admin must look
/// at the data directory.
extension AuthorityKeyringError: APIErrorConvertible {
    public var apiError: APIError { APIError(.internalServerError, code: code, message: message) }
}

extension Authority {
    /// The authority's OpenAPI description, served at `/openapi.yaml`.
    public static func openAPIDescription() -> String {
        Bundle.module.url(forResource: "authority", withExtension: "yaml").flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
    }
}
