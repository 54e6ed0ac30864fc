import OpenAPIKit
import Yams

/// `METHOD /path/{param}` for every operation under `paths:` of an OpenAPI 3.1 description, read with OpenAPIKit.
/// A description OpenAPIKit cannot read fails the test that asks.
public func describedOperations(_ yaml: String) throws -> Set<String> {
    // JSON Schema allows every RFC 4648 encoding in contentEncoding; OpenAPIKit 6.4 knows base64 but not base64url,
    // which our signed documents use. The encoding does not matter for listing operations.
    let readable = yaml.replacingOccurrences(of: "contentEncoding: base64url", with: "contentEncoding: base64")
    let document = try YAMLDecoder().decode(OpenAPI.Document.self, from: readable)
    var operations: Set<String> = []
    for (path, item) in document.paths {
        guard let item = item.pathItemValue else { continue }
        for endpoint in item.endpoints {
            operations.insert("\(endpoint.method.rawValue.uppercased()) \(path.rawValue)")
        }
    }
    return operations
}
