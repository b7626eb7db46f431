import Foundation

/// What this kernel can do, found by trying it where it harms nothing: in a
/// throwaway network namespace. Reading module lists is not enough, since
/// qdiscs may be built in or loadable on demand.
public enum KernelSupport {
    nonisolated(unsafe) private static var cache: [String: Bool] = [:]
    private static let lock = NSLock()

    /// Whether `tc` can create a root qdisc of `kind` (`netem`, `prio` ...).
    /// `tc` runs under `unshare --net`, in an anonymous namespace that ends
    /// with it: a probe killed half-way leaves no named namespace behind
    /// (one did, when a server was killed while probing).
    public static func hasQdisc(_ kind: String, arguments: [String] = [], runner: any CommandRunner) -> Bool {
        lock.lock()
        if let known = cache[kind] { lock.unlock(); return known }
        lock.unlock()
        let added = (try? runner.run(Command(["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root", kind] + arguments)))?
            .succeeded ?? false
        lock.lock()
        cache[kind] = added
        lock.unlock()
        return added
    }
}
