import Hummingbird

/// `GET /metrics` in the Prometheus text format (0.0.4). It sits behind the
/// bearer token like the API: Prometheus sends one with `authorization`.
struct MetricsRoutes: Sendable {
    static let path = "/metrics"
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    let parts: ServerParts
    let metrics: TumultMetrics

    func register(on router: Router<BasicRequestContext>) {
        router.get(RouterPath(Self.path)) { _, _ in
            let text = await metrics.scrape(parts)
            return Response(status: .ok, headers: [.contentType: Self.contentType],
                            body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
    }
}
