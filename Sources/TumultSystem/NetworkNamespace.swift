import Foundation

/// Where a network fault acts: a named namespace (`/var/run/netns/NAME`),
/// the namespace of a process, or the host's own.
///
/// Commands run inside it through `ip netns exec` or `nsenter`, in a child
/// process: `setns` changes only the calling thread, so it is never called
/// from Tumult's own (Swift concurrency) threads.
public enum NetworkNamespace: Sendable, Hashable, Codable, CustomStringConvertible {
    case host
    case named(String)
    case process(Int32)

    /// `command` as it runs inside this namespace. `ip` and `tc` enter a
    /// named namespace themselves (`-n NAME`), which spares the mount
    /// namespace `ip netns exec` sets up for every other command.
    public func wrap(_ command: Command) -> Command {
        switch self {
        case .host: command
        case .named(let name) where ["ip", "tc"].contains(command.arguments.first ?? ""):
            Command([command.arguments[0], "-n", name] + command.arguments.dropFirst())
        case .named(let name): Command(["ip", "netns", "exec", name] + command.arguments)
        case .process(let pid): Command(["nsenter", "--net=/proc/\(pid)/ns/net", "--"] + command.arguments)
        }
    }

    /// Whether the namespace is still there; a vanished one needs no recovery.
    public var exists: Bool {
        switch self {
        case .host: true
        case .named, .process: path.map { FileManager.default.fileExists(atPath: $0) } ?? false
        }
    }

    /// The namespace's identity (its inode), to tell whether two refer to the same one.
    public var inode: UInt64? {
        guard let path = self == .host ? "/proc/1/ns/net" : path else { return nil }
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    /// The file that is the namespace; nil for the host's, and for a name
    /// that would lead out of /var/run/netns (`../../proc/1/ns/net`) or a
    /// pid that is none. Callers check names with `HostNames` first; this
    /// is the last line, so that an injector never acts on such a name:
    /// every injector asks `exists` before it changes anything.
    public var path: String? {
        switch self {
        case .host: nil
        case .named(let name) where name.isEmpty || name == "." || name == ".." || name.contains("/")
            || name.contains("\0"): nil
        case .named(let name): "/var/run/netns/\(name)"
        case .process(let pid) where pid <= 0: nil
        case .process(let pid): "/proc/\(pid)/ns/net"
        }
    }

    public var description: String {
        switch self {
        case .host: "the host"
        case .named(let name): "netns \(name)"
        case .process(let pid): "the network namespace of pid \(pid)"
        }
    }
}

/// A command runner that runs everything inside one namespace.
public struct NamespacedRunner: CommandRunner {
    public var namespace: NetworkNamespace
    public var base: any CommandRunner

    public init(_ namespace: NetworkNamespace, base: any CommandRunner) {
        self.namespace = namespace
        self.base = base
    }

    public func run(_ command: Command) throws -> CommandResult {
        try base.run(namespace.wrap(command))
    }
}
