import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL

/// Validating admission: before a create or update is stored, every
/// webhook of every stored ValidatingWebhookConfiguration whose `rules`
/// match gets an `admission.k8s.io/v1` AdmissionReview over HTTPS, and a
/// denial fails the request the way the apiserver does.
///
/// Simplifications: `namespaceSelector`, `objectSelector` and
/// `matchConditions` are ignored (every matching rule applies); only
/// `clientConfig.url` is called (a `service` reference is unreachable, so
/// `failurePolicy` decides); DELETE and CONNECT are not reviewed; mutating
/// webhook configurations are stored but never called.
struct AdmissionController: Sendable {
    let store: ObjectStore
    let client: HTTPClient
    let logger: Logger

    /// What the webhooks are asked about.
    struct Review {
        var type: ResourceType
        var version: String
        var subresource: String?
        var operation: String
        var name: String
        var namespace: String
        var object: [String: Any]
        var oldObject: [String: Any]?
        var dryRun: Bool
    }

    func review(_ review: Review) async throws {
        for configuration in store.all(.validatingWebhookConfigurations) {
            for case let webhook as [String: Any] in configuration.json["webhooks"] as? [Any] ?? [] {
                guard Self.matches(webhook, review) else { continue }
                try await call(webhook, review)
            }
        }
    }

    /// Whether any rule covers this group, version, resource (or
    /// subresource), operation and scope. `*` covers every resource but no
    /// subresource; `*/*` covers both, as in the apiserver.
    static func matches(_ webhook: [String: Any], _ review: Review) -> Bool {
        let resource = review.subresource.map { "\(review.type.plural)/\($0)" } ?? review.type.plural
        for case let rule as [String: Any] in webhook["rules"] as? [Any] ?? [] {
            let groups = rule["apiGroups"] as? [String] ?? []
            let versions = rule["apiVersions"] as? [String] ?? []
            let operations = rule["operations"] as? [String] ?? []
            let resources = rule["resources"] as? [String] ?? []
            let scope = rule["scope"] as? String ?? "*"
            guard groups.contains("*") || groups.contains(review.type.group),
                  versions.contains("*") || versions.contains(review.version),
                  operations.contains("*") || operations.contains(review.operation),
                  scope == "*" || (scope == "Namespaced") == review.type.namespaced
            else { continue }
            let covered = resources.contains { pattern in
                if pattern == resource || pattern == "*/*" { return true }
                if pattern == "*" { return review.subresource == nil }
                let parts = pattern.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2, let subresource = review.subresource else { return false }
                return (parts[0] == "*" || parts[0] == review.type.plural) && (parts[1] == "*" || parts[1] == subresource)
            }
            if covered { return true }
        }
        return false
    }

    private func call(_ webhook: [String: Any], _ review: Review) async throws {
        let name = webhook["name"] as? String ?? ""
        let failurePolicy = webhook["failurePolicy"] as? String ?? "Fail"
        let uid = UUID().uuidString.lowercased()
        let reply: [String: Any]
        do {
            reply = try await send(webhook, body: Self.admissionReview(review, uid: uid))
        } catch {
            if failurePolicy == "Ignore" {
                logger.warning("admission webhook unreachable, ignored", metadata: [
                    "webhook.name": "\(name)", "error.message": "\(error)",
                ])
                return
            }
            throw APIError(code: 500, reason: "InternalError",
                           message: "Internal error occurred: failed calling webhook \"\(name)\": failed to call webhook: \(error)")
        }
        guard let response = reply["response"] as? [String: Any] else {
            throw APIError(code: 500, reason: "InternalError",
                           message: "Internal error occurred: failed calling webhook \"\(name)\": the AdmissionReview has no response")
        }
        if response["allowed"] as? Bool == true { return }
        let status = response["status"] as? [String: Any] ?? [:]
        let code = (status["code"] as? Int).flatMap { $0 == 0 ? nil : $0 } ?? 400
        let message = (status["message"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "without explanation"
        let reason = (status["reason"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? Self.reason(forCode: code)
        throw APIError(code: code, reason: reason, message: "admission webhook \"\(name)\" denied the request: \(message)")
    }

    private static func reason(forCode code: Int) -> String {
        switch code {
        case 400: return "BadRequest"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "NotFound"
        case 409: return "Conflict"
        case 422: return "Invalid"
        default: return ""
        }
    }

    /// POSTs the review to `clientConfig.url`, trusting only `caBundle`
    /// (or the system roots without one), within `timeoutSeconds` (default 10).
    private func send(_ webhook: [String: Any], body: [String: Any]) async throws -> [String: Any] {
        guard let clientConfig = webhook["clientConfig"] as? [String: Any],
              let url = clientConfig["url"] as? String
        else { throw AdmissionCallError("only clientConfig.url is reachable from the simulation") }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: JSONValue.data(body)))
        if let bundle = clientConfig["caBundle"] as? String {
            guard let pem = Data(base64Encoded: bundle) else { throw AdmissionCallError("caBundle is not base64") }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem)))
            request.tlsConfiguration = tls
        }
        let timeout = webhook["timeoutSeconds"] as? Int ?? 10
        let response = try await client.execute(request, timeout: .seconds(Int64(timeout)))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else {
            throw AdmissionCallError("the webhook answered \(response.status.code)")
        }
        guard let reply = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any] else {
            throw AdmissionCallError("the webhook's answer is not a JSON object")
        }
        return reply
    }

    static func admissionReview(_ review: Review, uid: String) -> [String: Any] {
        let kind: [String: Any] = ["group": review.type.group, "version": review.version, "kind": review.type.kind]
        let resource: [String: Any] = ["group": review.type.group, "version": review.version,
                                       "resource": review.type.plural]
        var request: [String: Any] = [
            "uid": uid, "kind": kind, "resource": resource, "requestKind": kind, "requestResource": resource,
            "name": review.name, "operation": review.operation,
            "userInfo": ["username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]],
            "object": review.object, "oldObject": review.oldObject ?? NSNull(), "dryRun": review.dryRun,
            "options": ["apiVersion": "meta.k8s.io/v1",
                        "kind": review.operation == "CREATE" ? "CreateOptions" : "UpdateOptions"],
        ]
        if review.type.namespaced { request["namespace"] = review.namespace }
        if let subresource = review.subresource { request["subResource"] = subresource }
        return ["apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request]
    }
}

/// Why a webhook could not be called; `failurePolicy` decides what follows.
struct AdmissionCallError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
