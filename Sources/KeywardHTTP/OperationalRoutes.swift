import Crypto
import Foundation
import Hummingbird
import KeywardStore
import Prometheus

/// `/health/live`, `/health/ready`, `/metrics` and `/openapi.yaml`: the routes every Keyward service has.
public struct OperationalRoutes<Context: RequestContext>: Sendable {
    let database: KeywardDatabase
    let metrics: PrometheusCollectorRegistry
    let openAPI: String
    /// When set, `/metrics` answers only `Authorization: Bearer <this>` (Prometheus' `authorization` scrape setting).
    let metricsToken: String?

    public init(database: KeywardDatabase, metrics: PrometheusCollectorRegistry, openAPI: String, metricsToken: String? = nil) {
        self.database = database
        self.metrics = metrics
        self.openAPI = openAPI
        self.metricsToken = metricsToken
    }

    /// Whether the request carries the metrics token, compared in constant time (as hashes, so lengths do not show).
    func mayReadMetrics(_ request: Request) -> Bool {
        guard let metricsToken else { return true }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return false }
        return SHA256.hash(data: Data(header.dropFirst(7).utf8)) == SHA256.hash(data: Data(metricsToken.utf8))
    }

    public func add(to router: Router<Context>) {
        router.get("/health/live") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"live"}"#)))
        }
        router.get("/health/ready") { _, _ in
            // Ready only while the store answers; load balancers stop sending traffic otherwise.
            guard await database.ping() else {
                throw APIError(
                    .serviceUnavailable, code: "NOT_READY", message: "The database does not answer; the service will be ready again when it does.")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ready"}"#)))
        }
        router.get("/metrics") { request, _ in
            guard mayReadMetrics(request) else {
                var refusal = APIError(
                    .unauthorized, code: "UNAUTHENTICATED",
                    message: "The metrics need the metrics token: \"Authorization: Bearer <token>\" (Prometheus: authorization.credentials_file).")
                refusal.headers[.wwwAuthenticate] = "Bearer"
                throw refusal
            }
            var text: [UInt8] = []
            metrics.emit(into: &text)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: openAPI)))
        }
    }
}
