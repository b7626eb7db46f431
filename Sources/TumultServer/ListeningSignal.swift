import Foundation

/// Set once the HTTP server holds its port. The controller starts only
/// then: a replacement server that cannot bind (the port still held) must
/// not take the crashed server's faults back — and then recover them all in
/// its graceful shutdown as it gives up — while they should be running.
final class ListeningSignal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let flag = LockedFlag()

    init() {
        (stream, continuation) = AsyncStream<Void>.makeStream()
    }

    /// The server listens.
    func listening() {
        flag.set()
        continuation.yield()
        continuation.finish()
    }

    /// The server will not listen (shutdown before it did).
    func abandon() { continuation.finish() }

    var isListening: Bool { flag.value }

    /// Waits until the server listens (true) or never will (false).
    /// One waiter only: the controller's service.
    func wait() async -> Bool {
        for await _ in stream { return true }
        return isListening
    }
}

/// A boolean set once, read from any thread.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var isSet = false
    func set() { lock.withLock { isSet = true } }
    var value: Bool { lock.withLock { isSet } }
}
