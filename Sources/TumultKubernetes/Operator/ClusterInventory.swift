import Foundation
import TumultAgent
import TumultModel

/// The cluster's pods as selectors read them: the operator's informer
/// caches of pods and nodes, with no request to the API server per selection.
/// The dashboard's server reads it too, without nodes: it lists pods, it
/// does not select them by node labels.
struct ClusterInventory: PodInventory {
    let pods: [Informer<PodObject>]
    let nodes: Informer<NodeObject>?

    func pods() async throws -> [Pod] {
        var labelsByNode: [String: [String: String]] = [:]
        for node in nodes?.list() ?? [] {
            let name = node.metadata.name
            labelsByNode[name] = node.metadata.labels
        }
        var found: [Pod] = []
        for informer in pods {
            for object in informer.list() {
                // Not yet on a node, or on its way out: nothing to inject into.
                guard object.metadata.deletionTimestamp == nil, let pod = Pod(kubernetes: object) else { continue }
                var labelled = pod
                if let labels = labelsByNode[pod.nodeName] {
                    labelled.nodeLabels = labels.merging(["kubernetes.io/hostname": pod.nodeName]) { mine, _ in mine }
                }
                found.append(labelled)
            }
        }
        return found
    }
}

extension Pod {
    /// A pod of the API server as a selection target: its node, addresses,
    /// and every container's runtime id for the node's daemon to resolve.
    /// Nil for a pod not bound to a node yet.
    init?(kubernetes object: PodObject) {
        guard let node = object.spec?.nodeName, !node.isEmpty, !object.metadata.name.isEmpty else { return nil }
        let name = object.metadata.name
        var ips = object.status?.podIPs?.map(\.ip) ?? []
        if ips.isEmpty, let ip = object.status?.podIP, !ip.isEmpty { ips = [ip] }
        var containers: [String: String] = [:]
        for status in object.status?.containerStatuses ?? [] {
            if let id = status.containerID, !id.isEmpty { containers[status.name] = id }
        }
        // The first container of the spec is Chaos Mesh's default target.
        let first = object.spec?.containers.first.flatMap { containers[$0.name] } ?? containers.values.sorted().first
        self.init(name: name, namespace: object.metadata.namespace ?? "default", labels: object.metadata.labels,
                  annotations: object.metadata.annotations, ips: ips, nodeName: node,
                  phase: object.status?.phase ?? "Unknown", source: .kubernetes, containerID: first,
                  containerIDs: containers.isEmpty ? nil : containers)
    }
}
