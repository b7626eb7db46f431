import Foundation

/// What this kernel can do, found by trying it where it harms nothing: in a
/// throwaway network namespace. Reading module lists is not enough, since
/// qdiscs may be built in or loadable on demand.
public enum KernelSupport {
    nonisolated(unsafe) private static var cache: [String: Bool] = [:]
    private static let lock = NSLock()

    /// Whether `tc` can create a root qdisc of `kind` (`netem`, `prio` ...).
    public static func hasQdisc(_ kind: String, arguments: [String] = [], runner: any CommandRunner) -> Bool {
        lock.lock()
        if let known = cache[kind] { lock.unlock(); return known }
        lock.unlock()
        let probe = "tmt-probe-\(UInt32.random(in: 0..<UInt32.max))"
        defer { _ = try? runner.run(Command(["ip", "netns", "del", probe])) }
        guard (try? runner.run(Command(["ip", "netns", "add", probe])))?.succeeded == true else { return false }
        let added = (try? runner.run(NetworkNamespace.named(probe).wrap(
            Command(["tc", "qdisc", "add", "dev", "lo", "root", kind] + arguments))))?.succeeded ?? false
        lock.lock()
        cache[kind] = added
        lock.unlock()
        return added
    }
}
