import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import NIOCore

/// A SCIM answer: `application/scim+json`, as RFC 7644 section 3.1 says.
struct SCIMResponse: ResponseGenerator {
    var status: HTTPResponse.Status = .ok
    var body: JSONValue
    var etag: String?
    var location: String?

    static let contentType = "application/scim+json; charset=utf-8"

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers: HTTPFields = [.contentType: Self.contentType]
        if let etag { headers[.eTag] = etag }
        if let location { headers[.location] = location }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(body))))
    }
}

/// Every refusal under `/scim/v2` in SCIM's error format (RFC 7644 section 3.12): `schemas`, `status` (a string),
/// `scimType` where one applies, and `detail`, a sentence an identity provider's administrator can act on.
struct SCIMErrorMiddleware: RouterMiddleware {
    typealias Context = RegistryRequestContext

    static let errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

    /// Put on the whole router, before the token check: a revoked or malformed token and an unknown path under
    /// `/scim/` are answered in SCIM's format too. Every other path passes through.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/scim/") else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch {
            let (status, scimType, detail) = Self.translate(error)
            if status == .internalServerError {
                context.logger.error("SCIM request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            }
            var body: [String: JSONValue] = [
                "schemas": .array([.string(Self.errorSchema)]), "status": .string(String(status.code)), "detail": .string(detail),
            ]
            if let scimType { body["scimType"] = .string(scimType) }
            var response = try SCIMResponse(status: status, body: .object(body)).response(from: request, context: context)
            if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"keyward-scim\"" }
            return response
        }
    }

    static func translate(_ error: any Error) -> (HTTPResponse.Status, String?, String) {
        switch error {
        case let problem as SCIMProblem:
            let status: HTTPResponse.Status = problem.scimType == .uniqueness ? .conflict : .badRequest
            return (status, problem.scimType.rawValue, problem.message)
        case let error as StoreError:
            switch error.code {
            case "DUPLICATE_LOGIN", "DUPLICATE_EXTERNAL_ID", "LOGIN_RESERVED": return (.conflict, "uniqueness", error.message)
            case "VERSION_MISMATCH": return (.preconditionFailed, nil, error.message)
            case "UNKNOWN_MEMBER": return (.badRequest, "invalidValue", error.message)
            case "LOGIN_IMMUTABLE": return (.badRequest, "mutability", error.message)
            default: break
            }
            switch error.kind {
            case .invalid: return (.badRequest, "invalidValue", error.message)
            case .notFound: return (.notFound, nil, error.message)
            case .conflict: return (.conflict, nil, error.message)
            case .unavailable: return (.serviceUnavailable, nil, error.message)
            }
        case let error as APIError:
            let scimType = error.code == "INVALID_JSON" || error.code == "NUL_IN_TEXT" ? "invalidSyntax" : nil
            return (error.status, scimType, error.message)
        case let error as RegistryError:
            let api = error.apiError
            return (api.status, api.status == .unprocessableContent ? "invalidValue" : nil, api.message)
        case is NIOTooManyBytesError:
            return (.contentTooLarge, nil, "The request body is larger than the 1 MiB a SCIM request may be; send fewer operations at a time.")
        case let error as HTTPError:
            return (error.status, nil, error.body ?? error.status.reasonPhrase)
        default:
            return (.internalServerError, nil, "Something went wrong on the server; it has been logged. Try again, and report it if it persists.")
        }
    }
}

/// Only a directory token may use `/scim/v2`, and a directory token may use nothing else (the other routes' roles
/// refuse it).
struct DirectoryTokenPolicy: AuthorizationPolicy {
    func authorize(_ request: Request, context: RegistryRequestContext) throws {
        guard let token = context.token else { throw APIError.unauthenticated }
        guard token.kind == RegistryTokenKind.directory else {
            throw APIError(
                .forbidden, code: "FORBIDDEN",
                message:
                    "SCIM provisioning needs a directory token (keyward tokens create --directory NAME, or Settings > Tokens for other systems), not a \(token.kind) token."
            )
        }
    }
}

extension Request {
    /// The body as JSON for SCIM: at most 1 MiB, no NUL, nested at most 64 levels deep (a resource needs 4).
    func scimJSON(context: RegistryRequestContext) async throws -> JSONValue {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw SCIMProblem(.invalidSyntax, "The request needs a JSON body.") }
        if NULGuard.jsonContainsNUL(buffer.readableBytesView) { throw SCIMProblem(.invalidSyntax, "Text may not hold the character U+0000.") }
        guard Self.nesting(of: buffer.readableBytesView) <= 64 else {
            throw SCIMProblem(.invalidSyntax, "The body nests objects and arrays more than 64 levels deep; a SCIM resource needs 4.")
        }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(buffer: buffer))
        } catch {
            throw SCIMProblem(.invalidSyntax, "The request body is not valid JSON.")
        }
    }

    /// The deepest nesting of arrays and objects in a JSON text, outside strings; read before decoding, so a body of
    /// 100,000 brackets is refused without recursing into it.
    static func nesting(of bytes: some Collection<UInt8>) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }
}
