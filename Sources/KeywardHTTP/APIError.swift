import Foundation
import Hummingbird
import KeywardDomain
import KeywardStore

/// An API refusal: `{"error": {"code", "message", "details"}}` with a stable upper-snake-case code.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let details: [String: JSONValue]
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, message: String, details: [String: JSONValue] = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    /// The API form of a store refusal.
    public init(_ error: StoreError) {
        let status: HTTPResponse.Status =
            switch error.kind {
            case .invalid: .unprocessableContent
            case .notFound: .notFound
            case .conflict: .conflict
            case .unavailable: .serviceUnavailable
            }
        self.init(status, code: error.code, message: error.message, details: error.details)
        if error.kind == .unavailable { headers[.retryAfter] = "5" }
    }

    /// A field that breaks a rule: 422 naming it.
    public static func invalidField(_ problem: FieldError) -> APIError {
        APIError(.unprocessableContent, code: problem.code, message: problem.message, details: ["field": .string(problem.field)])
    }

    /// Several broken fields: 422 with the first one's code and every problem in the details.
    public static func invalidFields(_ problems: [FieldError]) -> APIError {
        guard let first = problems.first else {
            return APIError(.unprocessableContent, code: "INVALID_INPUT", message: "The request breaks a rule.")
        }
        guard problems.count > 1 else { return invalidField(first) }
        let all = problems.map { JSONValue.object(["field": .string($0.field), "code": .string($0.code), "message": .string($0.message)]) }
        return APIError(
            .unprocessableContent, code: first.code, message: first.message, details: ["field": .string(first.field), "problems": .array(all)])
    }

    /// A body over `limit` bytes: 413, before anything is decoded.
    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(
            .contentTooLarge, code: "PAYLOAD_TOO_LARGE", message: "The request body is larger than the \(limit / 1024) KiB this endpoint accepts.")
    }

    public static let unauthenticated = APIError(
        .unauthorized, code: "UNAUTHENTICATED",
        message: "Send a valid token in the Authorization header: \"Authorization: Bearer kw_...\"."
    )

    /// The answer for things that do not exist and for things the caller may not know exist.
    public static func notFound(_ what: String = "There is nothing at this address.") -> APIError {
        APIError(.notFound, code: "NOT_FOUND", message: what)
    }

    private struct Body: Encodable {
        struct Content: Encodable {
            let code: String
            let message: String
            let details: [String: JSONValue]
        }

        let error: Content
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        let body = try KeywardJSON.encoder.encode(Body(error: .init(code: code, message: message, details: details)))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension RefusalKind {
    /// The HTTP status a refusal of this kind is answered with.
    public var status: HTTPResponse.Status {
        switch self {
        case .invalid: .unprocessableContent
        case .notFound: .notFound
        case .forbidden: .forbidden
        case .conflict: .conflict
        case .busy: .serviceUnavailable
        case .unauthorized: .unauthorized
        }
    }
}

/// The JSON conventions of both APIs: camelCase fields, ISO 8601 UTC times, sorted keys.
public enum KeywardJSON {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return encoder
    }()

    /// The same conventions, indented for people: `--json` output and downloaded files.
    public static let prettyEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return encoder
    }()

    /// `value` as indented JSON text.
    public static func pretty(_ value: some Encodable) throws -> String {
        String(decoding: try prettyEncoder.encode(value), as: UTF8.self)
    }

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = Timestamp.parseDayOrTimestamp(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\"\(text)\" is not an ISO 8601 date: use 2027-12-31 or 2027-12-31T18:00:00Z.")
            }
            return date
        }
        return decoder
    }()
}
