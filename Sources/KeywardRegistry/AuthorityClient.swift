import AsyncHTTPClient
import Foundation
import KeywardDomain
import KeywardStore
import NIOCore
import NIOPosix

/// The registry's side of the authority's API: online activation now, the feed with synchronization.
public struct AuthorityClient: Sendable {
    public let baseURL: String
    /// Kept inside: never returned by the API, shown by the UI or logged.
    public let token: String
    public let http: HTTPClient
    public let timeout: TimeAmount
    /// The largest feed read; a larger answer is refused unread (`FEED_TOO_LARGE`).
    public let maximumFeedSize: Int

    /// `http` is the client made with `HTTPClient.forAuthority()`, which the caller shuts down.
    public init(baseURL: String, token: String, http: HTTPClient, timeout: TimeAmount = .seconds(30), maximumFeedSize: Int = 64 << 20) {
        self.baseURL = Self.normalized(baseURL)
        self.token = token
        self.http = http
        self.timeout = timeout
        self.maximumFeedSize = maximumFeedSize
    }

    /// A base URL as clients keep it: without a trailing slash.
    public static func normalized(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }

    /// Whether this client sends `token`, without handing the token out.
    public func uses(token candidate: String) -> Bool { token == candidate }

    /// Asks the authority to activate this installation and returns the signed certificate.
    public func activate(_ request: ActivationRequestFile) async throws -> SignedDocument {
        struct Body: Encodable {
            let installationId: String
            let environment: InstallationEnvironment
            let serials: [String]
            let promote: Bool
            let reason: String?
        }
        struct Answer: Decodable { let certificate: SignedDocument }
        let body = Body(
            installationId: request.installationId, environment: request.environment, serials: request.serials, promote: request.promote,
            reason: request.reason)
        // A certificate names every key of the installation: 100,000 serials and the response around them are a few MiB.
        let data = try await send(
            "POST", "/v1/organizations/\(request.organizationId)/activations", body: try JSONEncoder().encode(body),
            maximumSize: StoredActivation.maximumCertificateSize)
        do {
            return try JSONDecoder().decode(Answer.self, from: data).certificate
        } catch {
            throw RegistryError.authority(
                code: "AUTHORITY_BAD_ANSWER", message: "The licensing authority answered with something that is not an activation certificate.")
        }
    }

    /// The authority's solutions catalog, signed by a key `trust` holds: an unsigned or wrongly signed one is refused
    /// (`CATALOG_NOT_SIGNED`), since the catalog decides which menus each profile opens.
    public func catalog(trust: TrustStore) async throws -> Catalog {
        let data = try await send("GET", "/v1/catalog/signed", maximumSize: 4 << 20)
        do {
            return try Catalog.verified(try JSONDecoder().decode(SignedDocument.self, from: data), trust: trust)
        } catch {
            throw RegistryError.feed(
                code: "CATALOG_NOT_SIGNED",
                message: "The licensing authority's catalog is not signed by a key this registry trusts; the catalog in use is kept.")
        }
    }

    /// The answer to a feed request: a new feed, or `nil` when it is unchanged (`304`).
    public struct FeedAnswer: Sendable {
        public let body: Data
        public let etag: String?
    }

    /// Fetches the organization's signed feed, sending `If-None-Match` when an entity tag is known.
    public func feed(organizationId: String, etag: String?) async throws -> FeedAnswer? {
        let maximumSize = maximumFeedSize
        var headers: [(String, String)] = []
        if let etag { headers.append(("If-None-Match", etag)) }
        let (status, data, answerTag) = try await exchange(
            "GET", "/v1/organizations/\(organizationId)/feed", headers: headers, maximumSize: maximumSize)
        if status == 304 { return nil }
        return FeedAnswer(body: data, etag: answerTag)
    }

    /// Sends a request and returns the body of a 2xx answer; anything else becomes a `RegistryError.authority`.
    public func send(_ method: String, _ path: String, body: Data? = nil, maximumSize: Int = 1 << 20) async throws -> Data {
        try await exchange(method, path, body: body, maximumSize: maximumSize).data
    }

    /// One request: 2xx and 304 answers come back; every other answer, and every failure, is a `RegistryError.authority`.
    func exchange(
        _ method: String, _ path: String, headers extra: [(String, String)] = [], body: Data? = nil,
        maximumSize: Int
    ) async throws -> (status: Int, data: Data, etag: String?) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        let data: Data
        do {
            response = try await http.execute(request, timeout: timeout)
            data = Data(buffer: try await response.body.collect(upTo: maximumSize))
        } catch is NIOTooManyBytesError {
            throw RegistryError.authority(
                code: "FEED_TOO_LARGE", message: "The licensing authority's answer is larger than \(maximumSize / 1024) KiB; it was not read.")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw RegistryError.authority(
                code: "AUTHORITY_TIMEOUT",
                message: "The licensing authority at \(baseURL) did not answer within \(timeout.nanoseconds / 1_000_000_000) seconds.")
        } catch {
            throw RegistryError.authority(code: "AUTHORITY_UNREACHABLE", message: unreachable(error))
        }
        if response.status.code == 304 { return (304, data, response.headers.first(name: "etag")) }
        if response.status.code == 401 {
            throw RegistryError.authority(
                code: "AUTHORITY_UNAUTHORIZED", message: "The licensing authority refused the organization token. Ask the vendor for a new one.")
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            struct Refusal: Decodable {
                struct Content: Decodable {
                    let code: String
                    let message: String
                }
                let error: Content
            }
            let refusal = try? JSONDecoder().decode(Refusal.self, from: data)
            if response.status.code == 404, refusal.map({ $0.error.code == "NOT_FOUND" }) ?? true, let organization = Self.organization(inPath: path)
            {
                // The authority answers another organization's token as it answers an unknown organization, so as not
                // to say which organizations exist: the registry can only name both.
                throw RegistryError.authority(
                    code: "AUTHORITY_UNKNOWN_ORGANIZATION",
                    message:
                        "The licensing authority at \(baseURL) knows no organization \(organization) for this token: the token belongs to another organization, "
                        + "or the organization is unknown to the vendor. Check the organization token (it must be the one issued for \(organization)) or ask the vendor."
                )
            }
            if let refusal {
                throw RegistryError.authority(code: refusal.error.code, message: "The licensing authority refused: \(refusal.error.message)")
            }
            throw RegistryError.authority(code: "AUTHORITY_ERROR", message: "The licensing authority answered \(response.status.code).")
        }
        return (Int(response.status.code), data, response.headers.first(name: "etag"))
    }
}

extension AuthorityClient {
    /// The organization of an authority path `/v1/organizations/{id}/...`.
    public static func organization(inPath path: String) -> String? {
        let parts = path.split(separator: "/")
        guard parts.count >= 3, parts[0] == "v1", parts[1] == "organizations" else { return nil }
        return String(parts[2])
    }

    /// A failed connection in words: nothing listening, a name that does not resolve, or the error as it came.
    func unreachable(_ error: any Error) -> String {
        let url = URL(string: baseURL)
        let host = url?.host ?? baseURL
        let port = url?.port ?? (url?.scheme == "https" ? 443 : 80)
        let advice = "Check the authority URL and its port, and that the authority is running, or activate offline."
        if Self.isRefused(error) {
            return "Nothing answers at \(host) port \(port): the connection to the licensing authority at \(baseURL) was refused. \(advice)"
        }
        if let connection = error as? NIOConnectionError, connection.dnsAError != nil || connection.dnsAAAAError != nil,
            connection.connectionErrors.isEmpty
        {
            return
                "The name \(host) cannot be resolved, so the licensing authority at \(baseURL) cannot be reached. Check the authority URL and the network, or activate offline."
        }
        return "The licensing authority at \(baseURL) cannot be reached (\(error)). Check the authority URL and the network, or activate offline."
    }

    /// Whether `error` is a refused connection (`ECONNREFUSED`), however AsyncHTTPClient wrapped it.
    static func isRefused(_ error: any Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        if let connection = error as? NIOConnectionError {
            return !connection.connectionErrors.isEmpty && connection.connectionErrors.allSatisfy { isRefused($0.error) }
        }
        return "\(error)".contains("Connection refused") || "\(error)".contains("errno: \(ECONNREFUSED))")
    }
}

extension HTTPClient {
    /// A client for calling the licensing authority: AsyncHTTPClient's shared configuration, except that a refused
    /// connection fails the request at once. By default the pool retries connecting with backoff until the request's
    /// 30 s deadline, so a stopped authority took 30 s to report `AUTHORITY_UNREACHABLE`, and the backoff delayed the
    /// first run after it came back (found by scripts/verify_faults.py). Whoever makes it shuts it down
    /// (`keyward serve` when it stops, a CLI command when it is done).
    public static func forAuthority() -> HTTPClient {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}
