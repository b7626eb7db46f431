import AsyncHTTPClient
import Synchronization
import NIOCore
import NIOSSL
import TumultController
import TumultModel

/// StatusCheck's HTTP probe, as Chaos Mesh's executor does it
/// (`controllers/statuscheck/http/http.go`, a Go `http.Client` with a
/// timeout): the method, headers and body of the check; success when the
/// status code is within the criteria; a failure for any other code, a
/// refused or reset connection, TLS that does not verify, or no complete
/// answer within the timeout. Redirects are followed as Go's client follows
/// them, so that a check of a URL that redirects ends where Chaos Mesh's does.
///
/// One `HTTPClient` serves every probe (connections are kept, as Go's
/// default transport keeps them); call `shutdown()` once, when done.
public final class HTTPStatusProber: StatusProber {
    public struct Configuration: Sendable {
        /// Redirects followed before the probe fails. Go's client follows 9
        /// and fails at the tenth ("stopped after 10 redirects"); 0 follows
        /// none, and a redirect's own code is then judged.
        public var redirectLimit = 9
        /// Response body bytes read (and dropped) before the probe stops
        /// reading: the criteria are the status code only, and the body is
        /// read so that a server that stalls in it fails as in Chaos Mesh,
        /// not to keep it. Chaos Mesh reads it all into memory.
        public var responseBodyLimit = 1 << 20
        /// Trust for https; nil: the system's roots, as Go's client.
        public var tls: TLSConfiguration?

        public init() {}
    }

    private let clientConfiguration: HTTPClient.Configuration
    /// Made at the first probe: a server that never probes (most) holds no
    /// client, and one built but never run has nothing to shut down.
    private let made = Mutex<(client: HTTPClient?, shutDown: Bool)>((nil, false))
    private let responseBodyLimit: Int

    public init(configuration: Configuration = Configuration()) {
        let redirects: HTTPClient.Configuration.RedirectConfiguration = configuration.redirectLimit > 0
            // Go has no cycle check, only the count: a URL that redirects to
            // itself until a cookie is set still ends well there.
            ? .follow(max: configuration.redirectLimit, allowCycles: true)
            : .disallow
        var client = HTTPClient.Configuration(tlsConfiguration: configuration.tls, redirectConfiguration: redirects)
        // A refused connection is a failed probe at once, as in Go, not
        // retried with backoff until the timeout.
        client.connectionPool.retryConnectionEstablishment = false
        clientConfiguration = client
        responseBodyLimit = max(0, configuration.responseBodyLimit)
    }

    /// The client, made on first use; nil once shut down.
    private var client: HTTPClient? {
        made.withLock { state in
            if state.shutDown { return nil }
            if let client = state.client { return client }
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)
            state.client = client
            return client
        }
    }

    /// Closes the client's connections; call once, when no probe runs any more.
    public func shutdown() async throws {
        let client = made.withLock { state -> HTTPClient? in
            state.shutDown = true
            defer { state.client = nil }
            return state.client
        }
        try await client?.shutdown()
    }

    deinit {
        // Not shut down (a caller that forgot, or a server built and never
        // run): closed in the background rather than trapping in HTTPClient's deinit.
        if let client = made.withLock({ $0.client }) {
            client.shutdown { _ in }
        }
    }

    /// One request; a failure, never a hang, past `timeout` (the
    /// connection, the redirects, the head and the body all count, as with
    /// Go's `Client.Timeout`).
    public func probe(_ check: HTTPStatusCheck, timeout: Duration) async -> ProbeResult {
        let request = Self.request(for: check)
        return await withTaskGroup(of: ProbeResult?.self) { group in
            group.addTask { await self.exchange(request, criteria: check.criteria, timeout: timeout) }
            // AsyncHTTPClient's deadline ends when the head arrives; this
            // one covers a body that stalls.
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return nil }
                return .failure("no complete answer within \(Self.text(timeout))")
            }
            defer { group.cancelAll() }
            while let result = await group.next() {
                if let result { return result }
            }
            return .failure("cancelled")
        }
    }

    /// The request Go's client would send for `check`: each header value
    /// as given (a name may repeat), but the framing headers Go writes
    /// itself from the URL and the body (Host, Content-Length,
    /// Transfer-Encoding, Trailer), which it ignores when given.
    static func request(for check: HTTPStatusCheck) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: check.url)
        request.method = check.method == .post ? .POST : .GET
        let framing: Set<String> = ["host", "content-length", "transfer-encoding", "trailer"]
        for (name, values) in (check.headers ?? [:]).sorted(by: { $0.key < $1.key })
        where !framing.contains(name.lowercased()) {
            for value in values { request.headers.add(name: name, value: value) }
        }
        // Go's client always names itself; some servers refuse requests that do not.
        if !request.headers.contains(name: "User-Agent") {
            request.headers.add(name: "User-Agent", value: "tumult-status-check")
        }
        let body = check.body ?? ""
        if !body.isEmpty || request.method == .POST {
            // Go sends a body with any method, and `Content-Length: 0` for an empty POST.
            request.body = .bytes(ByteBuffer(string: body))
        }
        return request
    }

    private func exchange(_ request: HTTPClientRequest, criteria: HTTPCriteria, timeout: Duration) async -> ProbeResult {
        let response: HTTPClientResponse
        do {
            guard let client else { return .failure("the prober is shut down") }
            response = try await client.execute(request, deadline: .now() + TimeAmount(timeout))
        } catch {
            return .failure(Self.describe(error, timeout: timeout))
        }
        let result = ProbeResult.response(statusCode: Int(response.status.code), criteria: criteria)
        do {
            var received = 0
            for try await chunk in response.body {
                received += chunk.readableBytes
                // Leaving the loop ends the request and closes its connection.
                if received >= responseBodyLimit { break }
            }
        } catch {
            return .failure("reading the response body: \(Self.describe(error, timeout: timeout))",
                            statusCode: result.statusCode)
        }
        return result
    }

    private static func describe(_ error: any Error, timeout: Duration) -> String {
        guard let error = error as? HTTPClientError else { return String(describing: error) }
        switch error {
        case .deadlineExceeded: return "no answer within \(text(timeout))"
        case .redirectLimitReached: return "too many redirects"
        default: return error.shortDescription.lowercased()
        }
    }

    /// `1 s`, `0.5 s`.
    private static func text(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return value == value.rounded() ? "\(Int64(value)) s" : "\(value) s"
    }
}
