import Foundation
import Hummingbird

/// Discovery as kubectl reads it: `/version`, `/api`, `/apis`, and one
/// APIResourceList per group version. Requests for the aggregated form
/// (`as=APIGroupDiscoveryList`) get the plain form with
/// `application/json`, which client-go takes as "not supported" and falls
/// back to the per-group-version documents.
///
/// OpenAPI: kubectl 1.32 validates with `--validate=strict` by default and
/// first asks `/openapi/v3` whether each kind's PATCH takes the
/// `fieldValidation` parameter; when it cannot tell it falls back to
/// client-side validation against `/openapi/v2`, and fails when that is
/// missing. So `/openapi/v3` lists every group version, and each
/// group-version document has one PATCH operation per kind (tagged with
/// `x-kubernetes-group-version-kind`) naming `fieldValidation` and the
/// merge and JSON patch body types. Strategic merge is not listed, so
/// `kubectl apply` computes its patches from its compiled-in types (or a
/// JSON merge patch for custom resources) instead of from schemas, and
/// there are no schemas: `/openapi/v2` is 404, `kubectl explain` does not
/// work, and `fieldValidation` is accepted but not enforced.
extension RequestHandler {
    func discovery(_ segments: [String], host: String?) throws -> Response? {
        switch segments.count {
        case 1 where segments[0] == "version":
            return .json([
                "major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "kubernetes-simulation",
                "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4",
                "compiler": "gc", "platform": "linux/amd64",
            ])
        case 1 where ["healthz", "readyz", "livez"].contains(segments[0]):
            var headers = HTTPFields()
            headers[.contentType] = "text/plain"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok")))
        case 1 where segments[0] == "api":
            return .json([
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": host ?? "127.0.0.1"]],
            ])
        case 2 where segments[0] == "api":
            return try resourceList(group: "", version: segments[1])
        case 1 where segments[0] == "apis":
            return .json(["kind": "APIGroupList", "apiVersion": "v1", "groups": groups().map(\.value)])
        case 2 where segments[0] == "apis":
            guard let group = groups().first(where: { $0.name == segments[1] }) else { throw APIError.resourceNotFound }
            var document = group.value
            document["kind"] = "APIGroup"
            document["apiVersion"] = "v1"
            return .json(document)
        case 3 where segments[0] == "apis":
            return try resourceList(group: segments[1], version: segments[2])
        case 2 where segments == ["openapi", "v3"]:
            return .json(["paths": openAPIRoot()])
        default:
            if segments.count == 4, segments[0] == "openapi", segments[1] == "v3", segments[2] == "api" {
                return try openAPIDocument(group: "", version: segments[3])
            }
            if segments.count == 5, segments[0] == "openapi", segments[1] == "v3", segments[2] == "apis" {
                return try openAPIDocument(group: segments[3], version: segments[4])
            }
            if segments.first == "openapi" { throw APIError.resourceNotFound }
            return nil
        }
    }

    /// Every non-core group with its versions, the storage version preferred.
    private func groups() -> [(name: String, value: [String: Any])] {
        var versions: [String: [String]] = [:]
        for type in store.allTypes() where !type.group.isEmpty {
            for version in type.versions where !(versions[type.group]?.contains(version) ?? false) {
                versions[type.group, default: []].append(version)
            }
        }
        return versions.keys.sorted().map { name in
            let list = versions[name] ?? []
            let entries = list.map { ["groupVersion": "\(name)/\($0)", "version": $0] }
            return (name, ["name": name, "versions": entries, "preferredVersion": entries[0]])
        }
    }

    private func resourceList(group: String, version: String) throws -> Response {
        let types = store.allTypes().filter { $0.group == group && $0.versions.contains(version) }
            .sorted { $0.plural < $1.plural }
        guard !types.isEmpty else { throw APIError.resourceNotFound }
        var resources: [[String: Any]] = []
        for type in types {
            var resource: [String: Any] = [
                "name": type.plural, "singularName": type.singular, "namespaced": type.namespaced,
                "kind": type.kind, "verbs": ResourceType.verbs,
            ]
            if !type.shortNames.isEmpty { resource["shortNames"] = type.shortNames }
            if !type.categories.isEmpty { resource["categories"] = type.categories }
            resources.append(resource)
            if type.hasStatus {
                resources.append(["name": "\(type.plural)/status", "singularName": "", "namespaced": type.namespaced,
                                  "kind": type.kind, "verbs": ["get", "patch", "update"]])
            }
        }
        return .json(["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": type(group, version),
                      "resources": resources])
    }

    /// `/openapi/v3`: where each group version's document is.
    private func openAPIRoot() -> [String: Any] {
        var paths: [String: Any] = [:]
        for type in store.allTypes() {
            for version in type.versions {
                let key = type.group.isEmpty ? "api/\(version)" : "apis/\(type.group)/\(version)"
                paths[key] = ["serverRelativeURL": "/openapi/v3/\(key)"]
            }
        }
        return paths
    }

    /// A group version's OpenAPI 3 document: PATCH operations only, enough
    /// for kubectl's query-parameter and patch-type checks.
    private func openAPIDocument(group: String, version: String) throws -> Response {
        let types = store.allTypes().filter { $0.group == group && $0.versions.contains(version) }
        guard !types.isEmpty else { throw APIError.resourceNotFound }
        let prefix = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        let parameters: [[String: Any]] = ["dryRun", "fieldManager", "fieldValidation", "force"].map {
            ["name": $0, "in": "query", "schema": ["type": $0 == "force" ? "boolean" : "string"]]
        }
        var paths: [String: Any] = [:]
        for type in types {
            let path = type.namespaced
                ? "\(prefix)/namespaces/{namespace}/\(type.plural)/{name}" : "\(prefix)/\(type.plural)/{name}"
            let body: [String: Any] = ["schema": ["type": "object"]]
            paths[path] = ["patch": [
                "operationId": "patch\(type.kind)",
                "parameters": parameters,
                "requestBody": ["content": ["application/json-patch+json": body,
                                            "application/merge-patch+json": body]],
                "responses": ["200": ["description": "OK"]],
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": ["group": group, "version": version, "kind": type.kind],
            ]]
        }
        return .json(["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0"],
                      "paths": paths, "components": ["schemas": [String: Any]()]])
    }

    private func type(_ group: String, _ version: String) -> String {
        group.isEmpty ? version : "\(group)/\(version)"
    }
}
