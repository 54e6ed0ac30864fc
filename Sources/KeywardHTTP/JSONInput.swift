import Foundation
import Hummingbird
import KeywardDomain
import NIOCore

extension Request {
    /// The body decoded as `T`: 400 `INVALID_JSON` when it is not JSON (or, with `uniqueMembers`, names a member
    /// twice), 422 `INVALID_FIELD` naming the field when a field is missing or has the wrong type, 413 past the
    /// context's size limit, 400 `NUL_IN_TEXT` when a string holds U+0000. Unknown fields are ignored. `limit` replaces
    /// the context's size limit for this body (lower for a login, higher for an activation of 100,000 keys).
    public func decodeJSON<T: Decodable>(as type: T.Type, context: some RequestContext, limit: Int? = nil, uniqueMembers: Bool = false) async throws
        -> T
    {
        let buffer: ByteBuffer
        let limit = limit ?? context.maxUploadSize
        do {
            buffer = try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(limit: limit)
        }
        guard buffer.readableBytes > 0 else {
            throw APIError(.badRequest, code: "INVALID_JSON", message: "The request needs a JSON body.")
        }
        if NULGuard.jsonContainsNUL(buffer.readableBytesView) { throw NULGuard.refusal }
        if uniqueMembers, !SignedDocument.isUniquelyNamed(buffer.readableBytesView) {
            throw APIError(
                .badRequest, code: "INVALID_JSON",
                message: "The request body must be strict JSON that names each member once; send the document as it was written.")
        }
        do {
            return try KeywardJSON.decoder.decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw Self.apiError(for: error)
        }
    }

    /// Like ``decodeJSON(as:context:)``, but an empty body is `nil`: for bodies whose fields are all optional.
    public func decodeJSONIfPresent<T: Decodable>(as type: T.Type, context: some RequestContext) async throws -> T? {
        var request = self
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(limit: context.maxUploadSize)
        }
        guard buffer.readableBytes > 0 else { return nil }
        return try await request.decodeJSON(as: type, context: context)
    }

    static func apiError(for error: DecodingError) -> APIError {
        guard let problem = error.fieldProblem else {
            switch error {
            case .typeMismatch, .valueNotFound: return APIError(.badRequest, code: "INVALID_JSON", message: "The request body must be a JSON object.")
            default: return APIError(.badRequest, code: "INVALID_JSON", message: "The request body is not valid JSON.")
            }
        }
        return APIError(.unprocessableContent, code: problem.code, message: problem.message, details: ["field": .string(problem.field)])
    }
}

extension DecodingError {
    /// The field a decoding error is about, as a path (`lines[1].users`), with `INVALID_FIELD` and a sentence; `nil`
    /// when the document as a whole is not JSON or not an object. The API and the command line's JSON files both say so.
    public var fieldProblem: FieldError? {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingPrefix(".").description
        }
        switch self {
        case .typeMismatch(_, let context) where context.codingPath.isEmpty, .valueNotFound(_, let context) where context.codingPath.isEmpty:
            return nil
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return FieldError(field: field, code: "INVALID_FIELD", message: "The field \(field) is required.")
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let field = path(context.codingPath)
            return FieldError(field: field, code: "INVALID_FIELD", message: "The field \(field) has the wrong type.")
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            let field = path(context.codingPath)
            return FieldError(field: field, code: "INVALID_FIELD", message: "The field \(field) is not valid: \(context.debugDescription)")
        default:
            return nil
        }
    }
}

/// Checks on free-text input shared by the APIs.
public enum TextInput {
    /// `text` trimmed, refused with 422 `code` when empty, longer than `maximum` or holding control characters.
    public static func require(_ text: String, field: String, code: String, maximum: Int) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // Counted in Unicode scalars as given, as the API descriptions' `maxLength` counts.
        guard !trimmed.isEmpty, text.unicodeScalars.count <= maximum,
            !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw APIError.invalidField(
                FieldError(field: field, code: code, message: "\(field) must be 1 to \(maximum) characters, without control characters."))
        }
        return trimmed
    }
}
