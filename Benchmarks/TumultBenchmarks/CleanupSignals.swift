import Foundation

/// The signals that end a benchmark which leaves things on the host
/// (`network`, `crash`: namespaces, processes, attacks) and how they are
/// taken: SIGINT, SIGTERM and SIGHUP (unless ignored, as under nohup) clean
/// up, then exit. Written once so that both benchmarks stop the same way.
enum CleanupSignals {
    /// Blocks the signals in this thread, and so in every thread started
    /// after it, and starts one thread that takes the first with sigwait:
    /// it calls `interrupted`, says "`program`: signal N, cleaning up" on
    /// standard error, calls `cleanUp`, and exits with 128 + N. Children get
    /// an empty mask and default handlers from `Spawn`.
    static func install(program: String, interrupted: @escaping @Sendable () -> Void,
                        cleanUp: @escaping @Sendable () -> Void) {
        var previous = sigaction()
        sigaction(SIGHUP, nil, &previous)
        let hangup = previous.__sigaction_handler.sa_handler.map { unsafeBitCast($0, to: Int.self) != 1 } ?? true
        let signals = [SIGINT, SIGTERM] + (hangup ? [SIGHUP] : [])
        var set = sigset_t()
        sigemptyset(&set)
        for signalNumber in signals { sigaddset(&set, signalNumber) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        Thread.detachNewThread {
            var set = sigset_t()
            sigemptyset(&set)
            for signalNumber in signals { sigaddset(&set, signalNumber) }
            var received: Int32 = 0
            guard sigwait(&set, &received) == 0 else { return }
            interrupted()
            FileHandle.standardError.write(Data("\(program): signal \(received), cleaning up\n".utf8))
            cleanUp()
            exit(128 + received)
        }
    }
}
