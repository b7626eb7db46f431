import Foundation
import Hummingbird
import Logging
import NIOCore

/// Turns HTTP requests into store operations with the apiserver's rules:
/// routing by group/version/resource, defaults on create, optimistic
/// concurrency, the status subresource, patches, finalizers, admission.
final class RequestHandler: Sendable {
    let store: ObjectStore
    let configuration: APIServerSimulation.Configuration
    let counter = RequestCounter()
    let admission: AdmissionController

    init(store: ObjectStore, configuration: APIServerSimulation.Configuration, admission: AdmissionController) {
        self.store = store
        self.configuration = configuration
        self.admission = admission
    }

    /// Where a resource request points.
    struct Target {
        var type: ResourceType
        var version: String
        var namespace: String?
        var name: String?
        var subresource: String?

        var apiVersion: String { type.apiVersion(version) }
    }

    func respond(to request: Request) async -> Response {
        do {
            if configuration.requestLatency > .zero { try await Task.sleep(for: configuration.requestLatency) }
            var request = request
            return try await handle(&request)
        } catch let error as APIError {
            return error.response
        } catch {
            return APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(error)").response
        }
    }

    private func handle(_ request: inout Request) async throws -> Response {
        let segments = request.uri.path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        if let discovery = try discovery(segments, host: request.head.authority) { return discovery }
        var rest: ArraySlice<String>
        let group: String
        let version: String
        if segments.count >= 3, segments[0] == "api" {
            (group, version, rest) = ("", segments[1], segments[2...])
        } else if segments.count >= 4, segments[0] == "apis" {
            (group, version, rest) = (segments[1], segments[2], segments[3...])
        } else {
            throw APIError.resourceNotFound
        }
        var watchPath = false
        if rest.first == "watch" {
            watchPath = true
            rest = rest.dropFirst()
        }
        var namespace: String?
        if rest.count >= 3, rest[rest.startIndex] == "namespaces",
           !(group.isEmpty && ["status", "finalize"].contains(rest[rest.startIndex + 2])) {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        let parts = Array(rest)
        guard (1...3).contains(parts.count),
              let type = store.type(group: group, version: version, plural: parts[0])
        else { throw APIError.resourceNotFound }
        if namespace != nil, !type.namespaced { throw APIError.resourceNotFound }
        let target = Target(type: type, version: version, namespace: namespace,
                            name: parts.count > 1 ? parts[1] : nil, subresource: parts.count > 2 ? parts[2] : nil)
        if let subresource = target.subresource, !(subresource == "status" && type.hasStatus) {
            throw APIError.resourceNotFound
        }
        let query = request.uri.queryParameters
        let parameter: (String) -> String? = { key in query[Substring(key)].map(String.init) }
        let dryRun = parameter("dryRun") == "All"

        switch request.method {
        case .get:
            if target.name != nil {
                count("get", target)
                return try get(target)
            }
            let watchParameter = parameter("watch")
            if watchPath || watchParameter == "1" || watchParameter == "true" {
                count("watch", target)
                return try watch(target, parameter)
            }
            count("list", target)
            return try list(target, parameter)
        case .post:
            guard target.name == nil, !type.namespaced || namespace != nil else { throw APIError.methodNotAllowed("POST") }
            count("create", target)
            return try await create(target, body: try await body(&request), dryRun: dryRun)
        case .put:
            guard target.name != nil else { throw APIError.methodNotAllowed("PUT") }
            count("update", target)
            return try await update(target, body: try await body(&request), dryRun: dryRun)
        case .patch:
            guard target.name != nil else { throw APIError.methodNotAllowed("PATCH") }
            count("patch", target)
            let contentType = request.headers[.contentType] ?? ""
            return try await patch(target, contentType: contentType, body: try await body(&request), dryRun: dryRun)
        case .delete:
            guard target.name != nil else { throw APIError.methodNotAllowed("DELETE") }
            count("delete", target)
            return try delete(target, body: try await body(&request), dryRun: dryRun)
        default:
            throw APIError.methodNotAllowed(request.method.rawValue)
        }
    }

    private func count(_ verb: String, _ target: Target) {
        counter.add("\(verb) \(target.type.plural)" + (target.subresource.map { "/\($0)" } ?? ""))
    }

    /// JSON bodies, and the few protobuf ones kubectl's typed commands send
    /// (see `ProtobufBody`); CBOR and YAML are 415.
    private func body(_ request: inout Request) async throws -> Data {
        let contentType = (request.headers[.contentType] ?? "").lowercased()
        if contentType.contains("protobuf") {
            let buffer = try await request.collectBody(upTo: 64 << 20)
            return JSONValue.data(try ProtobufBody.json(from: Data(buffer.readableBytesView)))
        }
        if contentType.contains("cbor") || contentType.contains("yaml") {
            throw APIError(code: 415, reason: "UnsupportedMediaType",
                           message: "the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json")
        }
        let buffer = try await request.collectBody(upTo: 64 << 20)
        return Data(buffer.readableBytesView)
    }

    // MARK: Reads

    private func get(_ target: Target) throws -> Response {
        let name = target.name ?? ""
        guard let object = store.get(target.type, namespace: target.namespace ?? "", name: name) else {
            throw APIError.notFound(target.type, name: name)
        }
        return .json(data: object.data(as: target.apiVersion))
    }

    private func list(_ target: Target, _ parameter: (String) -> String?) throws -> Response {
        let labels = try LabelSelector(parsing: parameter("labelSelector") ?? "")
        let fields = try FieldSelector(parsing: parameter("fieldSelector") ?? "")
        var after: (String, String)?
        if let token = parameter("continue"), !token.isEmpty {
            guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
                  let separator = text.firstIndex(of: "\u{0}")
            else { throw APIError.badRequest("invalid continue token") }
            after = (String(text[..<separator]), String(text[text.index(after: separator)...]))
        }
        let page = store.list(target.type, namespace: target.namespace, labels: labels, fields: fields,
                              limit: parameter("limit").flatMap(Int.init), after: after)
        var metadata = "{\"resourceVersion\":\"\(page.revision)\""
        if let next = page.continueKey {
            let token = Data("\(next.0)\u{0}\(next.1)".utf8).base64EncodedString()
            metadata += ",\"continue\":\"\(token)\",\"remainingItemCount\":\(page.remaining)"
        }
        metadata += "}"
        var data = Data("{\"apiVersion\":\"\(target.apiVersion)\",\"kind\":\"\(target.type.kind)List\",\"metadata\":\(metadata),\"items\":[".utf8)
        for (index, object) in page.items.enumerated() {
            if index > 0 { data.append(UInt8(ascii: ",")) }
            data.append(object.data(as: target.apiVersion))
        }
        data.append(contentsOf: Array("]}".utf8))
        return .json(data: data)
    }

    /// A chunked stream of newline-delimited watch events. It ends after
    /// `timeoutSeconds` (or the configured watch timeout), on `breakWatches`,
    /// after an ERROR event, or when the client goes away.
    private func watch(_ target: Target, _ parameter: (String) -> String?) throws -> Response {
        let labels = try LabelSelector(parsing: parameter("labelSelector") ?? "")
        let fields = try FieldSelector(parsing: parameter("fieldSelector") ?? "")
        var fromRevision: Int?
        if let text = parameter("resourceVersion"), !text.isEmpty {
            guard let revision = Int(text) else { throw APIError.badRequest("invalid resourceVersion \(text)") }
            fromRevision = revision
        }
        let timeout = parameter("timeoutSeconds").flatMap(Int.init).map { Duration.seconds($0) }
            ?? configuration.watchTimeout
        let bookmarks = ["true", "1"].contains(parameter("allowWatchBookmarks") ?? "")
        let (stream, id) = try store.watch(target.type, apiVersion: target.apiVersion, namespace: target.namespace,
                                           labels: labels, fields: fields, from: fromRevision)
        let store = self.store
        let table = target.type.qualifiedName
        let interval = configuration.bookmarkInterval
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let timer = Task {
                try? await Task.sleep(for: timeout)
                store.endWatch(table, id: id)
            }
            let ticker: Task<Void, Never>? = bookmarks ? Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled { break }
                    store.bookmark(table, id: id)
                }
            } : nil
            defer {
                timer.cancel()
                ticker?.cancel()
                store.removeWatcher(table, id: id)
            }
            for await line in stream {
                try await writer.write(ByteBuffer(bytes: line))
            }
            try await writer.finish(nil)
        })
    }

    // MARK: Writes

    private func create(_ target: Target, body: Data, dryRun: Bool) async throws -> Response {
        let type = target.type
        var object = try JSONValue.parseObject(body)
        try checkKind(&object, target)
        var metadata = object.metadata
        var name = metadata["name"] as? String ?? ""
        if name.isEmpty {
            guard let prefix = metadata["generateName"] as? String, !prefix.isEmpty else {
                throw APIError.invalid(type, name: "", "metadata.name: Required value: name or generateName is required")
            }
            let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
            name = prefix + String((0..<5).map { _ in alphabet.randomElement()! })
            metadata["name"] = name
        }
        try validateName(name, type)
        if type.namespaced {
            let namespace = target.namespace ?? ""
            if let given = metadata["namespace"] as? String, !given.isEmpty, given != namespace {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            metadata["namespace"] = namespace
            guard store.namespaceExists(namespace) else { throw APIError.namespaceNotFound(namespace) }
        } else {
            metadata.removeValue(forKey: "namespace")
        }
        metadata["uid"] = UUID().uuidString.lowercased()
        metadata["creationTimestamp"] = JSONValue.timestamp()
        metadata["generation"] = 1
        for key in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            metadata.removeValue(forKey: key)
        }
        object["metadata"] = metadata
        // A custom resource with the status subresource ignores status on
        // create; built-in objects keep it, so that tests can seed pods with a phase.
        if type.hasStatus, !Self.builtInNames.contains(type.qualifiedName) { object.removeValue(forKey: "status") }
        try prepare(&object, type)
        try await admission.review(.init(type: type, version: target.version, subresource: nil, operation: "CREATE",
                                         name: name, namespace: target.namespace ?? "", object: object,
                                         oldObject: nil, dryRun: dryRun))
        if dryRun { return .json(object, status: 201) }
        let stored = try store.create(type, json: object)
        return .json(data: stored.data(as: target.apiVersion), status: 201)
    }

    private func update(_ target: Target, body: Data, dryRun: Bool) async throws -> Response {
        var object = try JSONValue.parseObject(body)
        try checkKind(&object, target)
        let name = target.name ?? ""
        let metadata = object.metadata
        if let given = metadata["name"] as? String, given != name {
            throw APIError.badRequest("the name of the object (\(given)) does not match the name on the URL (\(name))")
        }
        if target.type.namespaced, let given = metadata["namespace"] as? String, !given.isEmpty,
           given != target.namespace {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        let precondition = (metadata["resourceVersion"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return try await retryingConflicts(unconditional: precondition == nil) {
            guard let current = self.store.get(target.type, namespace: target.namespace ?? "", name: name) else {
                throw APIError.notFound(target.type, name: name)
            }
            if let precondition, precondition != String(current.resourceVersion) {
                throw APIError.conflict(target.type, name: name)
            }
            return try await self.commitUpdate(target, current: current, incoming: object, dryRun: dryRun)
        }
    }

    /// Patches as the content type says; apply patches (server-side apply) are not supported.
    private func patch(_ target: Target, contentType: String, body: Data, dryRun: Bool) async throws -> Response {
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let supported = ["application/merge-patch+json", "application/json-patch+json",
                         "application/strategic-merge-patch+json"]
        guard supported.contains(mediaType) else {
            throw APIError(code: 415, reason: "UnsupportedMediaType",
                           message: "the body of the request was in an unknown format - accepted media types include: \(supported.joined(separator: ", "))")
        }
        let patchDocument = try JSONValue.parse(body)
        let name = target.name ?? ""
        return try await retryingConflicts(unconditional: true) {
            guard let current = self.store.get(target.type, namespace: target.namespace ?? "", name: name) else {
                throw APIError.notFound(target.type, name: name)
            }
            let patched: Any
            switch mediaType {
            case "application/json-patch+json": patched = try Patch.json(current.json, operations: patchDocument)
            case "application/merge-patch+json": patched = Patch.merge(current.json, patchDocument)
            default: patched = Patch.strategicMerge(current.json, patchDocument)
            }
            guard var object = patched as? [String: Any] else {
                throw APIError.invalidPatch("the patched document is not an object")
            }
            if let version = object.metadata["resourceVersion"] as? String, version != String(current.resourceVersion) {
                // A precondition the patch itself carries: retrying cannot help.
                throw NonRetryable(error: .conflict(target.type, name: name))
            }
            object["apiVersion"] = current.json["apiVersion"]
            object["kind"] = current.json["kind"]
            return try await self.commitUpdate(target, current: current, incoming: object, dryRun: dryRun)
        }
    }

    /// The apiserver retries a write without a resourceVersion precondition
    /// when another write got in between; so does this.
    private func retryingConflicts(unconditional: Bool,
                                   _ attempt: () async throws -> Response) async throws -> Response {
        var tries = 0
        while true {
            tries += 1
            do {
                return try await attempt()
            } catch let error as NonRetryable {
                throw error.error
            } catch let error as APIError where error.reason == "Conflict" && unconditional && tries < 5 {
                continue
            }
        }
    }

    private struct NonRetryable: Error {
        var error: APIError
    }

    /// Builds the next version from the stored one and the incoming tree,
    /// asks the webhooks, and commits it if nothing was written meanwhile.
    private func commitUpdate(_ target: Target, current: StoredObject, incoming: [String: Any],
                              dryRun: Bool) async throws -> Response {
        let type = target.type
        var next = incoming
        let old = current.json
        var metadata = next.metadata
        if target.subresource == "status" {
            next = old
            next["status"] = incoming["status"]
            metadata = old.metadata
        } else if type.hasStatus {
            next["status"] = old["status"]
        }
        for key in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace",
                    "name", "generation"] {
            metadata[key] = old.metadata[key]
        }
        metadata["resourceVersion"] = String(current.resourceVersion)
        next["metadata"] = metadata
        if target.subresource == nil, Self.specChanged(old, next, ignoringStatus: type.hasStatus) {
            metadata["generation"] = ((old.metadata["generation"] as? Int) ?? 0) + 1
            next["metadata"] = metadata
        }
        try prepare(&next, type)
        try await admission.review(.init(type: type, version: target.version, subresource: target.subresource,
                                         operation: "UPDATE", name: target.name ?? "",
                                         namespace: target.namespace ?? "", object: next, oldObject: old,
                                         dryRun: dryRun))
        if dryRun { return .json(next) }
        let stored = try store.replace(type, json: next, expectedRevision: current.resourceVersion)
        return .json(data: stored.data(as: target.apiVersion))
    }

    /// Generation counts changes to anything but metadata (and status, when
    /// status is a subresource), as for custom resources.
    static func specChanged(_ old: [String: Any], _ new: [String: Any], ignoringStatus: Bool) -> Bool {
        var before = old
        var after = new
        for key in ["metadata"] + (ignoringStatus ? ["status"] : []) {
            before.removeValue(forKey: key)
            after.removeValue(forKey: key)
        }
        return !JSONValue.equal(before, after)
    }

    private func delete(_ target: Target, body: Data, dryRun: Bool) throws -> Response {
        let name = target.name ?? ""
        var precondition: (uid: String?, resourceVersion: String?) = (nil, nil)
        if !body.isEmpty, let options = try? JSONValue.parseObject(body),
           let preconditions = options["preconditions"] as? [String: Any] {
            precondition = (preconditions["uid"] as? String, preconditions["resourceVersion"] as? String)
        }
        if dryRun {
            guard let current = store.get(target.type, namespace: target.namespace ?? "", name: name) else {
                throw APIError.notFound(target.type, name: name)
            }
            return .json(data: current.data(as: target.apiVersion))
        }
        let deleted = try store.delete(target.type, namespace: target.namespace ?? "", name: name,
                                       precondition: precondition)
        return .json(data: deleted.data(as: target.apiVersion))
    }

    // MARK: Rules

    static let builtInNames = Set(ResourceType.builtIn.map(\.qualifiedName))

    /// A body names the kind and version of the endpoint it is sent to (or none: then they are filled in).
    private func checkKind(_ object: inout [String: Any], _ target: Target) throws {
        if let apiVersion = object["apiVersion"] as? String, !apiVersion.isEmpty, apiVersion != target.apiVersion {
            throw APIError.badRequest("the API version in the data (\(apiVersion)) does not match the expected API version (\(target.apiVersion))")
        }
        if let kind = object["kind"] as? String, !kind.isEmpty, kind != target.type.kind {
            throw APIError.badRequest("the kind in the data (\(kind)) does not match the expected kind (\(target.type.kind))")
        }
        object["apiVersion"] = target.apiVersion
        object["kind"] = target.type.kind
    }

    /// Names are lowercase RFC 1123 subdomains (RBAC names may also hold ':').
    private func validateName(_ name: String, _ type: ResourceType) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-." + (type.group.hasPrefix("rbac.") ? ":" : ""))
        let alphanumeric = Set("abcdefghijklmnopqrstuvwxyz0123456789")
        guard name.count <= 253, name.allSatisfy(allowed.contains),
              let first = name.first, let last = name.last, alphanumeric.contains(first), alphanumeric.contains(last)
        else {
            throw APIError.invalid(type, name: name,
                                   "metadata.name: Invalid value: \"\(name)\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
        }
    }

    /// What the apiserver's registries fill in: a namespace's phase, a
    /// CRD's conditions (Established, NamesAccepted) and accepted names.
    private func prepare(_ object: inout [String: Any], _ type: ResourceType) throws {
        switch type.qualifiedName {
        case ResourceType.namespaces.qualifiedName:
            var status = object["status"] as? [String: Any] ?? [:]
            if status["phase"] == nil { status["phase"] = "Active" }
            object["status"] = status
        case ResourceType.customResourceDefinitions.qualifiedName:
            let name = object.metadata["name"] as? String ?? ""
            guard let defined = ResourceType(customResourceDefinition: object) else {
                throw APIError.invalid(type, name: name, "spec: Required value: group, names.plural, names.kind and versions are required")
            }
            guard name == defined.qualifiedName else {
                throw APIError.invalid(type, name: name, "metadata.name: Invalid value: \"\(name)\": must be spec.names.plural+\".\"+spec.group")
            }
            let now = JSONValue.timestamp()
            let spec = object["spec"] as? [String: Any] ?? [:]
            object["status"] = [
                "acceptedNames": spec["names"] ?? [:],
                "storedVersions": [defined.versions[0]],
                "conditions": [
                    ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": now],
                    ["type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": now],
                ],
            ]
        default:
            break
        }
    }
}

/// Requests served, keyed "VERB RESOURCE" ("list pods", "patch networkchaos/status").
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]

    func add(_ key: String) {
        lock.lock()
        counts[key, default: 0] += 1
        lock.unlock()
    }

    var snapshot: [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        return counts
    }

    func reset() {
        lock.lock()
        counts = [:]
        lock.unlock()
    }
}
