import Foundation

/// One committed version of an object: the tree, its canonical bytes
/// (serialised once at commit and shared by every get, list and watch
/// event that sends it) and the fields lookups need.
final class StoredObject: @unchecked Sendable {
    /// Never mutated after init; writes make a new `StoredObject`.
    let json: [String: Any]
    let data: Data
    let resourceVersion: Int
    let namespace: String
    let name: String
    let apiVersion: String
    let labels: [String: String]

    init(json: [String: Any]) {
        self.json = json
        data = JSONValue.data(json)
        let metadata = json.metadata
        resourceVersion = Int(metadata["resourceVersion"] as? String ?? "") ?? 0
        namespace = metadata["namespace"] as? String ?? ""
        name = metadata["name"] as? String ?? ""
        apiVersion = json["apiVersion"] as? String ?? ""
        labels = metadata["labels"] as? [String: String] ?? [:]
    }

    var finalizers: [String] { json.metadata["finalizers"] as? [String] ?? [] }

    var isDeleting: Bool { json.metadata["deletionTimestamp"] != nil }

    /// The bytes as seen through `apiVersion` (a CRD served at several
    /// versions without conversion: only `apiVersion` differs).
    func data(as requestedVersion: String) -> Data {
        if requestedVersion == apiVersion { return data }
        var copy = json
        copy["apiVersion"] = requestedVersion
        return JSONValue.data(copy)
    }
}

/// A committed change, kept in the table's history for watches that resume
/// from a resourceVersion.
struct WatchEvent: @unchecked Sendable {
    /// ADDED, MODIFIED or DELETED.
    let type: String
    let object: StoredObject
    /// The version before the change, for MODIFIED: a watch with a selector
    /// sees an object leaving the selection as DELETED and entering it as ADDED.
    let previous: StoredObject?

    var revision: Int { object.resourceVersion }
}

/// One open watch: its filters and the stream its HTTP response drains.
final class Watcher: @unchecked Sendable {
    let id: Int
    let namespace: String?
    let labels: LabelSelector
    let fields: FieldSelector
    let apiVersion: String
    let kind: String
    let continuation: AsyncStream<Data>.Continuation

    init(id: Int, namespace: String?, labels: LabelSelector, fields: FieldSelector, apiVersion: String, kind: String,
         continuation: AsyncStream<Data>.Continuation) {
        self.id = id
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.apiVersion = apiVersion
        self.kind = kind
        self.continuation = continuation
    }

    func matches(_ object: StoredObject) -> Bool {
        if let namespace, object.namespace != namespace { return false }
        if !labels.isEmpty, !labels.matches(object.labels) { return false }
        if !fields.isEmpty, !fields.matches(object.json) { return false }
        return true
    }

    func deliver(_ event: WatchEvent) {
        let now = matches(event.object)
        let before = event.previous.map(matches) ?? false
        let type: String
        switch (event.type, before, now) {
        case ("MODIFIED", true, true): type = "MODIFIED"
        case ("MODIFIED", false, true): type = "ADDED"
        case ("MODIFIED", true, false): type = "DELETED"
        case (_, _, true): type = event.type
        default: return
        }
        send(type: type, objectData: event.object.data(as: apiVersion))
    }

    func send(type: String, objectData: Data) {
        var line = Data("{\"type\":\"\(type)\",\"object\":".utf8)
        line.append(objectData)
        line.append(contentsOf: Array("}\n".utf8))
        continuation.yield(line)
    }

    /// A BOOKMARK: only apiVersion, kind and metadata.resourceVersion, as the apiserver sends.
    func bookmark(revision: Int) {
        let object: [String: Any] = ["apiVersion": apiVersion, "kind": kind,
                                     "metadata": ["resourceVersion": String(revision)]]
        send(type: "BOOKMARK", objectData: JSONValue.data(object))
    }

    /// An ERROR event carrying a Status, then the end of the stream.
    func fail(_ error: APIError) {
        send(type: "ERROR", objectData: JSONValue.data(error.statusObject))
        continuation.finish()
    }
}
