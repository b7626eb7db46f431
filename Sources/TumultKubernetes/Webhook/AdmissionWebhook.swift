import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import TumultModel

/// The validating admission webhook: the API server sends each chaos
/// object being created or updated (`admission.k8s.io/v1` AdmissionReview)
/// and `kubectl apply` of a bad document fails with Tumult's field-path
/// errors, as Chaos Mesh's webhook makes it fail with its own.
public enum AdmissionWebhook {
    /// The path the ValidatingWebhookConfiguration names.
    public static let path = "/validate-chaos-mesh-org-v1alpha1"

    /// The reply to one AdmissionReview (pure): allowed, or denied with
    /// every error of the document, each with its field path. Kinds the
    /// daemons cannot run yet are allowed with a warning (kubectl prints it):
    /// a cluster may hold them for another tool.
    public static func review(_ body: Value, runnable: Set<ChaosKind>) -> Value {
        let request = body.objectValue?["request"]?.objectValue
        let uid = request?["uid"]?.stringValue ?? ""
        var response = Value.Object()
        response["uid"] = .string(uid)
        let operation = request?["operation"]?.stringValue ?? ""
        if operation == "DELETE" || operation == "CONNECT" {
            response["allowed"] = .bool(true)
        } else if let object = request?["object"], object.objectValue != nil {
            let report = ChaosObjects.check(object)
            if let document = report.document, report.diagnostics.errors.isEmpty {
                response["allowed"] = .bool(true)
                var warnings = report.diagnostics.warnings.map(\.description)
                if !runnable.contains(document.kind) && document.kind != .schedule {
                    warnings.append("\(document.kind.rawValue) is accepted but Tumult does not run it yet; it stays Not Injected")
                }
                if !warnings.isEmpty { response["warnings"] = .array(warnings.map(Value.string)) }
            } else {
                response["allowed"] = .bool(false)
                response["status"] = .object(.init([
                    ("code", .integer(400)), ("reason", .string("Invalid")), ("message", .string(ChaosObjects.problems(of: report))),
                ]))
            }
        } else {
            response["allowed"] = .bool(false)
            response["status"] = .object(.init([("code", .integer(400)), ("message", .string("an AdmissionReview without request.object"))]))
        }
        return .object(.init([
            ("apiVersion", .string("admission.k8s.io/v1")),
            ("kind", .string("AdmissionReview")),
            ("response", .object(response)),
        ]))
    }

    /// The webhook's HTTPS server (the API server verifies it with the
    /// caBundle of the ValidatingWebhookConfiguration); port 0 in tests.
    public static func application(host: String = "0.0.0.0", port: Int, tls: TLSConfiguration?, runnable: Set<ChaosKind>,
                                   logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
    throws -> some ApplicationProtocol {
        let router = Router(context: BasicRequestContext.self)
        router.post(RouterPath(stringLiteral: path)) { request, context -> Response in
            let bytes = try await request.body.collect(upTo: 4 << 20)
            let body: Value
            do {
                body = try JSONDecoder().decode(Value.self, from: Data(buffer: bytes))
            } catch {
                throw HTTPError(.badRequest, message: "not JSON: \(error)")
            }
            let reply = review(body, runnable: runnable)
            let data = try JSONEncoder().encode(reply)
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/healthz") { _, _ in "ok" }
        let address = BindAddress.hostname(host, port: port)
        let running: @Sendable (any Channel) async -> Void = { channel in
            await onServerRunning(channel.localAddress?.port ?? port)
        }
        if let tls {
            return Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls),
                               configuration: .init(address: address, serverName: "tumult-webhook"),
                               onServerRunning: running, logger: logger)
        }
        return Application(router: router, server: .http1(), configuration: .init(address: address, serverName: "tumult-webhook"),
                           onServerRunning: running, logger: logger)
    }
}
