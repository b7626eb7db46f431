import Logging
import ServiceLifecycle
import TumultController

/// Runs the controller's loop (or a cluster's caches) for as long as the
/// server runs. On SIGTERM or SIGINT (graceful shutdown) it recovers every
/// fault it injected before the process exits; experiments stay in the
/// store and resume at the next start.
struct ControllerService: Service {
    let controller: any ExperimentService
    let listening: ListeningSignal
    let logger: Logger

    func run() async throws {
        let bound = await withGracefulShutdownHandler {
            await listening.wait()
        } onGracefulShutdown: {
            listening.abandon()
        }
        guard bound, !Task.isCancelled else {
            // The faults a crashed server left stay in place for the next
            // server that does get its port.
            logger.warning("the server never listened: experiments and faults left as they are")
            return
        }
        logger.info("controller starting")
        // The controller's loop is this service's body; a graceful
        // shutdown cancels it, then every injected fault is recovered.
        try? await cancelWhenGracefulShutdown { await controller.run() }
        logger.info("shutting down: recovering every injected fault")
        await controller.shutdown(recover: true)
        logger.info("controller stopped")
    }
}
