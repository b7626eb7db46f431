import Foundation
import Logging
import NIOCore
import Prometheus

extension ConnectionGuard {
    /// Descriptors kept for everything but connections (the store, the
    /// journal, helpers' pipes, namespaces, libdispatch's own): at most
    /// half the limit, at most this many.
    static let descriptorReserve = 1024

    /// The guard `tumult server` runs with: raises the soft limit on open
    /// descriptors (up to the hard one) to hold `connectionLimit`
    /// connections and the reserve, and lowers the connection limit to fit
    /// if it cannot, so that connections never take the last descriptors.
    public static func serving(_ configuration: ServerConfiguration, registry: PrometheusCollectorRegistry,
                               logger: Logger) -> ConnectionGuard {
        let wanted = max(1, configuration.connectionLimit)
        let available = raiseDescriptorLimit(toHold: wanted + descriptorReserve)
        let fitting = available - min(descriptorReserve, available / 2)
        let limit = min(wanted, max(16, fitting))
        if limit < wanted {
            logger.warning("Connection limit lowered to fit the limit on open descriptors",
                           metadata: ["connections.limit": "\(limit)", "connections.wanted": "\(wanted)",
                                      "descriptors.limit": "\(available)"])
        }
        return ConnectionGuard(limit: limit, headerTimeout: TimeAmount(configuration.headerTimeout),
                               idleTimeout: TimeAmount(configuration.idleTimeout), registry: registry, logger: logger)
    }

    /// Raises this process's soft `RLIMIT_NOFILE` to `wanted` descriptors
    /// if it is lower (never above the hard limit), and returns the soft
    /// limit in force afterwards.
    static func raiseDescriptorLimit(toHold wanted: Int) -> Int {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return 1024 }
        let soft = Int(clamping: limits.rlim_cur), hard = Int(clamping: limits.rlim_max)
        guard soft < wanted else { return soft }
        var raised = limits
        raised.rlim_cur = rlim_t(min(wanted, hard))
        return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 ? Int(raised.rlim_cur) : soft
    }
}
