import Hummingbird

/// The NUL character (U+0000) has no place in any text this system keeps, and PostgreSQL cannot store it. Requests
/// carrying one, in the address or in a JSON body, are refused at the edge with 400 `NUL_IN_TEXT` before any handler
/// or query sees them, the same on every store.
public enum NULGuard {
    /// The answer to a request that carries a NUL.
    public static let refusal = APIError(
        .badRequest, code: "NUL_IN_TEXT",
        message: "Text may not contain the NUL character (U+0000, %00 or \\u0000): remove it and send the request again.")

    /// Whether a JSON text holds the escape `\u0000` (an odd run of backslashes before `u0000`; `\\u0000` is a
    /// backslash followed by the letters u0000) or a raw NUL byte.
    public static func jsonContainsNUL(_ bytes: some Collection<UInt8>) -> Bool {
        var backslashes = 0
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == 0 { return true }
            if byte == UInt8(ascii: "\\") {
                backslashes += 1
            } else {
                if byte == UInt8(ascii: "u"), backslashes % 2 == 1 {
                    let digits = bytes[bytes.index(after: index)...].prefix(4)
                    if digits.count == 4, digits.allSatisfy({ $0 == UInt8(ascii: "0") }) { return true }
                }
                backslashes = 0
            }
            index = bytes.index(after: index)
        }
        return false
    }

    /// Whether a request target holds `%00` in its path or query. Read over the bytes: every request passes here, and
    /// `String.contains` goes through Foundation's locale-aware search (a microsecond on the entitlement check's URI).
    public static func uriContainsNUL(_ uri: String) -> Bool {
        var matched = 0  // how much of "%00" the bytes just read spell
        for byte in uri.utf8 {
            if byte == UInt8(ascii: "%") {
                matched = 1
            } else if byte == UInt8(ascii: "0"), matched > 0 {
                matched += 1
                if matched == 3 { return true }
            } else {
                matched = 0
            }
        }
        return false
    }
}

/// Refuses request targets with `%00` (see ``NULGuard``).
public struct NULGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if NULGuard.uriContainsNUL(request.uri.description) { throw NULGuard.refusal }
        return try await next(request, context)
    }
}
