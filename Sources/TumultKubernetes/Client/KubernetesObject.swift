/// Anything the client reads and writes: a JSON document with `metadata`.
public protocol KubernetesObject: Codable, Sendable {
    var metadata: ObjectMeta { get set }
}

extension KubernetesObject {
    /// `namespace/name`, or `name` for cluster-scoped objects: the informer's cache key.
    public var key: String {
        ObjectMeta.key(namespace: metadata.namespace, name: metadata.name)
    }
}

/// A page of objects and the resource version the list was read at: the
/// point a watch starts from so that nothing between the two is missed.
public struct ObjectList<T: KubernetesObject>: Sendable {
    public var items: [T]
    public var resourceVersion: String

    public init(items: [T], resourceVersion: String) {
        self.items = items
        self.resourceVersion = resourceVersion
    }
}

/// The list reply as the server sends it: `metadata.continue` is set while
/// pages remain; `items` may be null when empty.
struct ListPage<T: KubernetesObject>: Decodable {
    struct Meta: Decodable {
        var resourceVersion: String?
        var `continue`: String?
    }
    var apiVersion: String?
    var kind: String?
    var metadata: Meta?
    var items: [T]?
}
