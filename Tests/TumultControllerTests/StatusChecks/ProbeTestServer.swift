import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// An HTTP (or HTTPS) server on 127.0.0.1 for one prober test, in process:
/// `/status/<code>` answers that code; `/echo` keeps what it received;
/// `/redirect` and `/loop` redirect; `/big` streams without end; `/stall` sends its head and part of a body, then nothing until
/// the test opens `gate`.
struct ProbeTestServer {
    /// What `/echo` received.
    struct Received: Sendable {
        var method: String
        /// The Host header (HTTP/1.1's, kept apart from the others).
        var authority: String?
        /// Lowercased names, in the order sent, a name once per value.
        var headers: [(name: String, value: String)]
        var body: String
    }

    /// Shared with the handlers.
    final class State: @unchecked Sendable {
        private let lock = NSLock()
        private var received: [Received] = []
        private var open = false

        func keep(_ request: Received) { lock.withLock { received.append(request) } }
        var requests: [Received] { lock.withLock { received } }
        func openGate() { lock.withLock { open = true } }
        var isOpen: Bool { lock.withLock { open } }
    }

    let port: Int
    let state: State

    /// `http://127.0.0.1:<port><path>` (https with TLS).
    func url(_ path: String, scheme: String = "http") -> String { "\(scheme)://127.0.0.1:\(port)\(path)" }

    /// Serves for the length of `body`; with `tls`, over HTTPS.
    static func with<Value: Sendable>(tls: TLSConfiguration? = nil,
                                      _ body: @Sendable (ProbeTestServer) async throws -> Value) async throws -> Value {
        let state = State()
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "probe-test-server")
        logger.logLevel = .warning
        let builder: HTTPServerBuilder = if let tls { try .tls(.http1(), tlsConfiguration: tls) } else { .http1() }
        let application = Application(
            router: router(state),
            server: builder,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) },
            logger: logger)
        let services = ServiceGroup(configuration: .init(services: [application], logger: application.logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            var iterator = ports.makeAsyncIterator()
            let server = ProbeTestServer(port: await iterator.next() ?? 0, state: state)
            do {
                let value = try await body(server)
                state.openGate()
                await services.triggerGracefulShutdown()
                return value
            } catch {
                state.openGate()
                await services.triggerGracefulShutdown()
                throw error
            }
        }
    }

    private static func router(_ state: State) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("status/:code") { _, context in
            let code = context.parameters.get("code", as: Int.self) ?? 500
            return Response(status: .init(code: code), body: ResponseBody(byteBuffer: ByteBuffer(string: "status \(code)")))
        }
        @Sendable func echo(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
            let body = try await request.body.collect(upTo: 1 << 20)
            state.keep(Received(method: request.method.rawValue, authority: request.head.authority,
                                headers: request.headers.map { (name: $0.name.canonicalName, value: $0.value) },
                                body: String(buffer: body)))
            return Response(status: .ok)
        }
        router.get("echo", use: echo)
        router.post("echo", use: echo)
        router.get("redirect") { _, _ in
            Response(status: .found, headers: [.location: "/status/200"])
        }
        router.get("loop") { _, _ in
            Response(status: .found, headers: [.location: "/loop"])
        }
        router.get("big") { _, _ in
            // Without end: written as it is read, until the reader leaves.
            let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 << 10)
            return Response(status: .ok, body: .init { writer in
                while !state.isOpen { try await writer.write(chunk) }
                try await writer.finish(nil)
            })
        }
        router.get("stall") { _, _ in
            Response(status: .ok, body: .init { writer in
                try await writer.write(ByteBuffer(string: "a start, then nothing"))
                while !state.isOpen { try await Task.sleep(for: .milliseconds(20)) }
                try await writer.finish(nil)
            })
        }
        return router
    }
}
