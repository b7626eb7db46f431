import ServiceLifecycle

/// Keeps the status checks' HTTP client for as long as the server runs and
/// closes it at shutdown, after the controller (services stop in reverse
/// order, and this one is listed before it).
struct StatusProberService: Service {
    let prober: HTTPStatusProber

    func run() async throws {
        try? await gracefulShutdown()
        try? await prober.shutdown()
    }
}
