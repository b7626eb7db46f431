import Foundation
import NIOSSL
import TumultModel

/// What `tumult operator` is told: where it watches, who it is, how it
/// reaches the nodes' daemons.
public struct OperatorConfiguration: Sendable {
    /// Namespaces whose chaos objects and pods are watched; empty: cluster-wide.
    public var namespaces: [String] = []
    /// Tumult's own namespace: the leader Lease and the daemons' pods live there.
    public var namespace: String = "tumult"
    /// This replica's name in the Lease (its pod name).
    public var identity: String = ProcessInfo.processInfo.hostName
    /// The Lease replicas compete for: one leader at a time reconciles.
    public var leaseName = "tumult-operator"
    public var leaseDuration: Duration = .seconds(15)
    public var renewDeadline: Duration = .seconds(10)
    public var retryPeriod: Duration = .seconds(2)
    /// The daemon pods (the DaemonSet's), found by label in `namespace`.
    public var daemonSelector = "app.kubernetes.io/name=tumult,app.kubernetes.io/component=daemon"
    /// The daemons' agent port when their pod does not name one (a container port called `agent`).
    public var daemonPort = 31768
    /// Mutual TLS to the daemons (the fleet's CA, the operator's client
    /// certificate); nil: plain HTTP, only for daemons on loopback (tests).
    public var fleetTLS: TLSConfiguration?
    /// The bearer token the daemons require, if any.
    public var fleetToken: String?
    /// Owner of every fault journaled on the nodes: the same for every
    /// replica, so a new leader owns what the last one injected.
    public var controllerID = "tumult-operator"
    /// The chaos kinds the daemons run (others get a warning event and are left alone).
    public var kinds: Set<ChaosKind>
    /// Why the daemons cannot run a document of a supported kind, if they cannot.
    public var refusal: (@Sendable (ChaosDocument) -> String?)?
    /// The dead-man's switch on each node: a daemon not renewed for this
    /// long (no leader) recovers what the operator injected; nil: none.
    public var daemonLeaseSeconds: Double? = 60
    /// How often the controller reads back every injected fault on its node.
    public var watchInterval: TimeInterval? = 5
    /// How often every experiment's status is compared with what was last
    /// written, besides the writes its changes trigger (a safety net).
    public var statusSweep: Duration = .seconds(10)

    public init(kinds: Set<ChaosKind>) {
        self.kinds = kinds
    }

    /// Chaos Mesh's finalizer: the object is deleted only once every record is recovered.
    public static let finalizer = "chaos-mesh/records"
    /// Chaos Mesh's annotation that drops the finalizer at once (a node that is gone).
    public static let cleanFinalizerAnnotation = "chaos-mesh.chaos-mesh.org/cleanFinalizer"
    public static let cleanFinalizerForced = "forced"
}
