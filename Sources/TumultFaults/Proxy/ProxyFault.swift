import Foundation
import TumultModel
import TumultSystem

/// One fault inside the TCP connections to a port of one network
/// namespace: Toxiproxy's toxics (TCPChaos, `tumult attack tcp`) and
/// HTTPChaos's rules, applied by Tumult's proxy, which the namespace's
/// connections on that port are redirected to without the application
/// knowing.
public struct ProxyFault: Codable, Sendable, Hashable {
    /// Which connections on the port go through the proxy.
    public enum Connections: String, Codable, Sendable, CaseIterable {
        /// Connections made to the namespace's port (the target serves it).
        case incoming
        /// Connections the namespace makes to that port elsewhere (the target is the client).
        case outgoing
        case both
    }

    public var namespace: NetworkNamespace
    public var port: Int
    public var connections: Connections
    public var toxics: [Toxic]
    /// HTTPChaos rules; non-empty makes the proxy read HTTP/1.1 on the port.
    public var httpRules: [HTTPRule]

    public init(namespace: NetworkNamespace, port: Int, connections: Connections = .both, toxics: [Toxic] = [],
                httpRules: [HTTPRule] = []) {
        self.namespace = namespace
        self.port = port
        self.connections = connections
        self.toxics = toxics
        self.httpRules = httpRules
    }

    /// `latency downstream latency=100 on port 6379` or `http abort GET /api/* on port 80`.
    public var summary: String {
        var parts = toxics.map(\.summary) + httpRules.map(\.summary)
        if parts.isEmpty { parts = ["pass-through"] }
        return parts.joined(separator: "; ") + " on port \(port)" + (connections == .both ? "" : " (\(connections.rawValue))")
    }

    /// What cannot be run, in words naming the field.
    public func problems() -> [String] {
        var problems: [String] = []
        if !(1...65_535).contains(port) { problems.append("port: \(port) is not a port (1 to 65535)") }
        var names = Set<String>()
        for (index, toxic) in toxics.enumerated() {
            var diagnostics = Diagnostics()
            toxic.validate(at: FieldPath.root.child("toxics").index(index), into: &diagnostics)
            problems += diagnostics.items.filter { $0.severity == .error }.map { "\($0.path): \($0.message)" }
            if !names.insert(toxic.effectiveName).inserted {
                problems.append("toxics[\(index)].name: \"\(toxic.effectiveName)\" is used twice")
            }
        }
        if !httpRules.isEmpty && connections != .incoming {
            problems.append("connections: HTTP rules apply to the connections the target serves (incoming)")
        }
        return problems
    }
}

/// What the proxy process reads from its configuration file, and reads
/// again on SIGHUP: the toxics and rules of a running fault can change
/// without the proxy (or its connections) restarting.
public struct ProxyConfiguration: Codable, Sendable, Hashable {
    /// Raised by every change; the proxy reports the one it runs.
    public var generation: Int
    public var toxics: [Toxic]
    public var httpRules: [HTTPRule]

    public init(generation: Int, toxics: [Toxic], httpRules: [HTTPRule]) {
        self.generation = generation
        self.toxics = toxics
        self.httpRules = httpRules
    }

    /// Where a proxy's files live: on tmpfs, gone with a reboot, as the proxy is.
    public static let directory = "/run/tumult/proxy"

    public static func path(attack: String) -> String { "\(directory)/\(attack).json" }
    /// What the proxy writes back: the generation it runs and its counters.
    public static func statePath(attack: String) -> String { "\(directory)/\(attack).state" }

    /// Written to a temporary file and renamed, so the proxy never reads half of it.
    public func write(to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try JSONEncoder().encode(self)
        let temporary = path + ".new"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            throw FaultError(.applyFailed, "could not write \(path): \(String(cString: strerror(errno)))")
        }
    }

    public static func read(from path: String) throws -> ProxyConfiguration {
        try JSONDecoder().decode(ProxyConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// What a running proxy says about itself (its state file).
public struct ProxyState: Codable, Sendable, Hashable {
    /// The configuration generation in force.
    public var generation: Int
    /// Connections relayed now, and since start.
    public var open: Int
    public var accepted: Int
    /// TLS connections to a port with HTTP rules, passed through untouched.
    public var tlsPassedThrough: Int
    /// Recovery has begun: nothing is applied any more.
    public var draining: Bool

    public init(generation: Int, open: Int = 0, accepted: Int = 0, tlsPassedThrough: Int = 0, draining: Bool = false) {
        self.generation = generation
        self.open = open
        self.accepted = accepted
        self.tlsPassedThrough = tlsPassedThrough
        self.draining = draining
    }

    public static func read(attack: String) -> ProxyState? {
        guard let data = FileManager.default.contents(atPath: ProxyConfiguration.statePath(attack: attack)) else { return nil }
        return try? JSONDecoder().decode(ProxyState.self, from: data)
    }
}
