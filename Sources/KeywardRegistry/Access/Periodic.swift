import Logging
import ServiceLifecycle

/// The loop of a background service: `work` every `interval` until graceful shutdown. A failed round is logged as
/// `failure` and the loop goes on: a `Service` whose `run()` returns stops the whole server.
func repeatUntilShutdown(every interval: Duration, logger: Logger, failure: Logger.Message, _ work: () async throws -> Void) async {
    while !Task.isShuttingDownGracefully, !Task.isCancelled {
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        } catch {
            return
        }
        do {
            try await work()
        } catch {
            logger.warning(failure, metadata: ["error": "\(error)"])
        }
    }
}
