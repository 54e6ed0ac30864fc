import Hummingbird

extension Request {
    /// Calls `body` with each query parameter in order, read as `uri.queryParameters` reads them (keys verbatim, values
    /// percent-decoded, a parameter without `=` has the empty value), without building its dictionary when the query
    /// holds no percent-encoding: the entitlement check reads three parameters thousands of times a second.
    /// Kept hand-written on purpose: `Benchmarks/RouteBenchmarks` and `scripts/bench-access` measure that route.
    public func forEachQueryParameter(_ body: (_ key: Substring, _ value: Substring) -> Void) {
        let target = uri.description
        guard let questionMark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return }
        let query = target[target.utf8.index(after: questionMark)...]
        guard !query.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "#") }) else {
            for (key, value) in uri.queryParameters { body(key, value) }
            return
        }
        // Segments between `&`, the empty ones too, but none after a final `&` (as Hummingbird splits them).
        var start = query.startIndex
        while start < query.endIndex {
            let end = query.utf8[start...].firstIndex(of: UInt8(ascii: "&")) ?? query.endIndex
            let segment = query[start..<end]
            if let equals = segment.utf8.firstIndex(of: UInt8(ascii: "=")) {
                body(segment[..<equals], segment[segment.utf8.index(after: equals)...])
            } else {
                body(segment, "")
            }
            start = end == query.endIndex ? end : query.utf8.index(after: end)
        }
    }
}
