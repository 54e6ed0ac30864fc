import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
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

        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        public var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
        public var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        public var errorField: String? { ((json["error"] as? [String: Any])?["details"] as? [String: Any])?["field"] as? String }
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The body decoded as `T` with the APIs' conventions (ISO 8601 times).
        public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(T.self, from: body)
        }
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
