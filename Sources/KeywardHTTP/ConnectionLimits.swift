import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// How long a client may take and how many may be connected, against slow-header (slowloris) attacks and running
/// out of file descriptors.
public struct ConnectionLimits: Sendable, Hashable {
    /// A connection must send a whole request head within this time of opening, or of its last answer (so an idle
    /// keep-alive connection closes after it too).
    public var headerTimeout: TimeAmount
    /// A request whose body stops arriving for this long is dropped.
    public var idleTimeout: TimeAmount
    /// A request's whole body must arrive within this time of its head, however slowly it trickles (the largest body,
    /// a 16 MiB certificate, needs 140 KiB/s).
    public var bodyTimeout: TimeAmount
    /// Connections served at once; more wait in the listen backlog until one closes.
    public var maximumConnections: Int

    public init(
        headerTimeout: TimeAmount = .seconds(10), idleTimeout: TimeAmount = .seconds(30), bodyTimeout: TimeAmount = .seconds(120),
        maximumConnections: Int? = nil
    ) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.maximumConnections = maximumConnections ?? Self.connectionsForFileLimit()
    }

    /// Files the process keeps for itself beside its connections: the database, its journal, logs, the authority client.
    public static let reservedFiles = 64

    /// The connection limit that fits the open-files limit (`ulimit -n`), keeping `reservedFiles` for the rest; at
    /// most 10,000.
    public static func connectionsForFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_000 }
        // RLIM_INFINITY is all ones.
        let soft = limit.rlim_cur == rlim_t.max ? UInt64(10_000 + reservedFiles) : UInt64(limit.rlim_cur)
        return Int(max(16, min(10_000, Int64(clamping: soft) - Int64(reservedFiles))))
    }

    /// The HTTP/1.1 server with these limits.
    public var server: HTTPServerBuilder {
        let headerTimeout = headerTimeout
        let bodyTimeout = bodyTimeout
        return .http1(
            configuration: .init(
                additionalChannelHandlers: [RequestHeadDeadline(timeout: headerTimeout, bodyTimeout: bodyTimeout)],
                idleTimeout: idleTimeout))
    }
}

/// Closes a connection that has not sent a complete request head within `timeout` of opening or of its last answer,
/// or a request's whole body within `bodyTimeout` of its head. Hummingbird's idle timeout is reset by every byte
/// read, so a client sending one header line, or one body byte, every few seconds would keep a connection (and a file
/// descriptor) for ever without this.
final class RequestHeadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let timeout: TimeAmount
    let bodyTimeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Requests whose head arrived and whose answer has not ended: while any is, no head deadline runs.
    private var inFlight = 0

    init(timeout: TimeAmount, bodyTimeout: TimeAmount = .seconds(120)) {
        self.timeout = timeout
        self.bodyTimeout = bodyTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inFlight += 1
            arm(context, after: bodyTimeout)
        case .end:
            disarm()
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight = max(0, inFlight - 1)
            if inFlight == 0 { arm(context) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount? = nil) {
        disarm()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: delay ?? timeout) { bound.value.close(promise: nil) }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}
