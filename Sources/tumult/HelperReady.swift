import Foundation

/// What every helper `tumult` starts for a fault (`dns-responder`,
/// `io-fs`) does once it serves: says `ready` to the injector waiting for
/// that line, then writes nothing more to a pipe the injector closes.
enum HelperReady {
    /// `detail`: what the injector reads from the line (the proxy's address families).
    static func announce(_ detail: String = "") {
        print(detail.isEmpty ? "ready" : "ready \(detail)")
        fflush(nil)
        let null = open("/dev/null", O_WRONLY)
        if null >= 0 {
            dup2(null, STDOUT_FILENO)
            dup2(null, STDERR_FILENO)
            close(null)
        }
    }
}
