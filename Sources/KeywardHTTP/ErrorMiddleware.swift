import Foundation
import Hummingbird
import KeywardStore
import Logging
import NIOCore

/// A service's own error that knows its API form.
public protocol APIErrorConvertible: Error {
    var apiError: APIError { get }
}

/// Turns every error into the API's error body, and logs the unexpected ones once, here at the edge.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as StoreError {
            throw APIError(error)
        } catch let error as any APIErrorConvertible {
            throw error.apiError
        } catch let error as HTTPError {
            throw Self.translate(error)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(limit: context.maxUploadSize)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            throw APIError(
                .internalServerError, code: "INTERNAL_ERROR",
                message: "Something went wrong on the server; it has been logged. Try again, and report it if it persists.")
        }
    }

    static func translate(_ error: HTTPError) -> APIError {
        var translated =
            switch error.status {
            case .notFound: APIError.notFound()
            case .contentTooLarge: APIError.payloadTooLarge(limit: 1 << 20)
            case .methodNotAllowed: APIError(.methodNotAllowed, code: "METHOD_NOT_ALLOWED", message: "This address does not accept that method.")
            case .unauthorized: APIError.unauthenticated
            default:
                APIError(
                    error.status, code: error.status.reasonPhrase.uppercased().replacingOccurrences(of: " ", with: "_"),
                    message: error.body ?? error.status.reasonPhrase)
            }
        translated.headers = error.headers
        return translated
    }
}
