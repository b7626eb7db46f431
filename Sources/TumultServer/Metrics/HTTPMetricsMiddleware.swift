import Hummingbird

/// Times every request for `chaos_dashboard_http_request_duration_seconds`,
/// until the response head (a live event stream would otherwise count as
/// one request lasting minutes). Added first, so it also sees what the
/// token and error middleware answer.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: TumultMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let status: Int
        defer {
            let elapsed = ContinuousClock.now - started
            metrics.didServe(path: Self.pathLabel(route: context.endpointPath, path: request.uri.path),
                             method: request.method.rawValue, status: status,
                             seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        do {
            let response = try await next(request, context)
            status = response.status.code
            return response
        } catch let error as any HTTPResponseError {
            status = error.status.code
            throw error
        } catch {
            status = 500
            throw error
        }
    }

    /// The route's pattern (`/api/experiments/{uid}`), so that ids do not
    /// make a series each; Hummingbird names unmatched requests `NotFound`.
    /// Should a request come with no name at all, the first two segments
    /// of its path, at most 64 characters.
    static func pathLabel(route: String?, path: String) -> String {
        if let route, !route.isEmpty { return route }
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let kept = "/" + segments.prefix(2).joined(separator: "/") + (segments.count > 2 ? "/..." : "")
        return String(kept.prefix(64))
    }
}
