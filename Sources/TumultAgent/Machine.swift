import Foundation
import TumultModel

/// A host a controller can reach: its own (in process), one registered
/// by a PhysicalMachine document, or one whose daemon joined (`tumult
/// daemon --join`). PhysicalMachineChaos selects among these.
public struct Machine: Sendable, Hashable, Codable {
    public enum Source: String, Sendable, Codable {
        /// The controller's own host, reached in process.
        case local
        /// A PhysicalMachine document.
        case document
        /// A daemon that announced itself (`tumult daemon --join`).
        case joined
        /// A chaosd address named by a PhysicalMachineChaos's `address`.
        case address
        /// A Kubernetes node, reached through its daemon's pod (the DaemonSet's).
        case node
    }

    /// The machine's name: the host part of attack ids and `spec.nodeName`
    /// of its pods.
    public var name: String
    /// The Kubernetes-style namespace of its PhysicalMachine object.
    public var namespace: String
    public var labels: [String: String]
    public var annotations: [String: String]
    /// The daemon's URL (`https://10.0.0.2:31768`); empty for the local host.
    public var address: String
    public var source: Source
    /// When its agent last answered, and what went wrong the last time it did not.
    public var lastSeen: Date?
    public var error: String?

    public init(name: String, namespace: String = "default", labels: [String: String] = [:],
                annotations: [String: String] = [:], address: String, source: Source,
                lastSeen: Date? = nil, error: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.address = address
        self.source = source
        self.lastSeen = lastSeen
        self.error = error
    }

    /// The machine as a selectable target: PhysicalMachineChaos selectors
    /// (namespaces, labels, annotations, names) read it as they read a pod.
    public var asTarget: Pod {
        Pod(name: name, namespace: namespace, labels: labels, annotations: annotations, netns: nil, pid: nil,
            ips: [], nodeName: name, phase: error == nil ? "Running" : "Unknown", source: .machine)
    }
}

/// Where the controller finds the pods selectors choose from.
public protocol PodInventory: Sendable {
    func pods() async throws -> [Pod]
}

/// A fixed list of pods (tests and benchmarks).
public struct StaticInventory: PodInventory {
    public var list: [Pod]
    public init(_ list: [Pod]) { self.list = list }
    public func pods() async throws -> [Pod] { list }
}

extension Machine {
    /// Set on the PhysicalMachine a daemon applies when it joins (`tumult daemon --join`).
    public static let joinedAnnotation = "tumult.dev/joined"
}
