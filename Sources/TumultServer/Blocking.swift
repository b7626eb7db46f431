import Dispatch

/// Runs blocking work (commands, helpers, SQLite) on a dispatch queue and
/// awaits it, so that it never holds one of Swift's few cooperative threads,
/// which the HTTP server and the controller need.
func blocking<T: Sendable>(on queue: DispatchQueue = .global(qos: .userInitiated),
                           _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        queue.async { continuation.resume(with: Result { try body() }) }
    }
}
