import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardStore
import SQLKit

/// A thin JSON client over HummingbirdTesting's, shared by the registry's and the authority's tests.
public struct TestAPI: Sendable {
    public let client: any TestClientProtocol
    /// The token sent when a call names none.
    public var token: String?
    /// Whether a call with a JSON body says `Content-Type: application/json` by itself (the authority's tests), or
    /// sends only the headers it is given (the registry's, some of which test what a missing type does).
    public var labelsJSON: Bool

    public init(client: any TestClientProtocol, token: String?, labelsJSON: Bool = false) {
        self.client = client
        self.token = token
        self.labelsJSON = labelsJSON
    }

    /// An answer: its status, headers and body, with the body read as JSON on demand.
    public struct Reply: @unchecked Sendable {  // `json` holds Foundation values read once, on the test's task only
        public let status: HTTPResponse.Status
        public let headers: HTTPFields
        public let body: Data

        /// The body as Foundation values, for the tests that pin the raw shape of the wire format (fuzz, OpenAPI);
        /// the others decode the API's own types with ``decode(_:)`` or the typed helpers.
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        /// The `items` of a list as Foundation values; see ``json``.
        public var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
        /// The refusal in the body, when it is one.
        public var error: APIErrorBody.Content? { (try? decode(APIErrorBody.self))?.error }
        public var errorCode: String? { error?.code }
        public var errorField: String? { error?.details["field"]?.string }
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The body decoded as `T` with the APIs' conventions (ISO 8601 times).
        public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
            try JSONDecoder.iso8601.decode(T.self, from: body)
        }
    }

    /// Calls `path` with `body` encoded as JSON.
    public func call(_ method: HTTPRequest.Method, _ path: String, token: String?? = .none, body: some Encodable, headers: HTTPFields = [:])
        async throws -> Reply
    {
        try await call(method, path, token: token, json: String(decoding: JSONEncoder().encode(body), as: UTF8.self), headers: headers)
    }

    /// Calls `path` and reads the answer as a `Value` when it succeeds.
    public func call<Value: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, token: String?? = .none, json: String? = nil, headers: HTTPFields = [:],
        as type: Value.Type
    ) async throws -> Answer<Value> {
        Answer(reply: try await call(method, path, token: token, json: json, headers: headers))
    }

    /// Calls `path` with `body` encoded as JSON and reads the answer as a `Value` when it succeeds.
    public func call<Value: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, token: String?? = .none, body: some Encodable, headers: HTTPFields = [:],
        as type: Value.Type
    ) async throws -> Answer<Value> {
        Answer(reply: try await call(method, path, token: token, body: body, headers: headers))
    }

    /// Calls `path`; `token` defaults to ``token``, `.some(nil)` sends none.
    public func call(_ method: HTTPRequest.Method, _ path: String, token: String?? = .none, json: String? = nil, headers: HTTPFields = [:])
        async throws -> Reply
    {
        var headers = headers
        if let token = token ?? self.token { headers[.authorization] = "Bearer \(token)" }
        if labelsJSON, json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body))
    }
}

/// Row counts of `tables` (and of `extra` queries answering `n`), to prove a refused request wrote nothing.
public func fingerprint(_ database: KeywardDatabase, tables: [String], extra: [String: String] = [:]) async throws -> [String: Int] {
    try await database.read { sql in
        var counts: [String: Int] = [:]
        for table in tables {
            counts[table] = try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()!.decode(column: "n", as: Int.self)
        }
        for (name, query) in extra {
            counts[name] = try await sql.raw("\(unsafeRaw: query)").first()!.decode(column: "n", as: Int.self)
        }
        return counts
    }
}

/// An answer whose body, when the call succeeds, is a `Value` of the API's own types.
public struct Answer<Value: Decodable>: Sendable {
    public let reply: TestAPI.Reply

    public init(reply: TestAPI.Reply) {
        self.reply = reply
    }

    public var status: HTTPResponse.Status { reply.status }
    public var headers: HTTPFields { reply.headers }
    /// The refusal, when the call was refused.
    public var error: APIErrorBody.Content? { reply.error }
    public var errorCode: String? { reply.errorCode }
    /// The body decoded; throws when it is not a `Value` (a refusal, say).
    public var value: Value {
        get throws { try reply.decode(Value.self) }
    }
}

/// A list as both APIs answer it: `{"items": [...]}`.
public struct Page<Item: Decodable>: Decodable {
    public let items: [Item]
}

/// A refusal as both APIs answer it: `{"error": {"code", "message", "details"}}`.
public struct APIErrorBody: Decodable, Sendable {
    public struct Content: Decodable, Sendable {
        public let code: String
        public let message: String?
        public let details: [String: JSONValue]

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            code = try container.decode(String.self, forKey: .code)
            message = try container.decodeIfPresent(String.self, forKey: .message)
            details = try container.decodeIfPresent([String: JSONValue].self, forKey: .details) ?? [:]
        }

        enum CodingKeys: String, CodingKey { case code, message, details }
    }

    public let error: Content
}

extension JSONValue {
    /// The text, when this is a string.
    public var string: String? { if case .string(let value) = self { value } else { nil } }
    /// The number, when this is a whole number.
    public var int: Int? { if case .int(let value) = self { value } else { nil } }
    /// The elements, when this is an array.
    public var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    /// The member named `key`, when this is an object that has one.
    public subscript(key: String) -> JSONValue? { if case .object(let value) = self { value[key] } else { nil } }
    /// The strings, when this is an array of strings only.
    public var strings: [String]? {
        guard case .array(let values) = self else { return nil }
        let strings = values.compactMap(\.string)
        return strings.count == values.count ? strings : nil
    }
}

extension JSONDecoder {
    /// A decoder with the APIs' conventions: ISO 8601 times.
    public static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
