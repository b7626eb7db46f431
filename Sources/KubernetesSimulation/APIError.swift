import Foundation
import Hummingbird

/// A failure answered as a Kubernetes `Status` object, the only error body
/// the apiserver sends and the one kubectl prints as
/// `Error from server (Reason): message`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// HTTP status code, also `Status.code`.
    public var code: Int
    /// `Status.reason`: NotFound, AlreadyExists, Conflict, Gone, Invalid, BadRequest, ...
    public var reason: String
    /// `Status.message`.
    public var message: String
    /// `Status.details` (name, group, kind), when the failure is about one object.
    public var details: Details?

    /// Which object a failure is about, as `Status.details` carries it.
    public struct Details: Sendable {
        public var name: String
        public var group: String
        /// The resource's plural name, as the apiserver puts it in `details.kind`.
        public var kind: String
    }

    public init(code: Int, reason: String, message: String, details: Details? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    public var description: String { "\(code) \(reason): \(message)" }

    static func notFound(_ type: ResourceType, name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(type.qualifiedName) \"\(name)\" not found",
                 details: Details(name: name, group: type.group, kind: type.plural))
    }

    static func namespaceNotFound(_ namespace: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found",
                 details: Details(name: namespace, group: "", kind: "namespaces"))
    }

    static func alreadyExists(_ type: ResourceType, name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(type.qualifiedName) \"\(name)\" already exists",
                 details: Details(name: name, group: type.group, kind: type.plural))
    }

    static func conflict(_ type: ResourceType, name: String) -> APIError {
        APIError(code: 409, reason: "Conflict",
                 message: "Operation cannot be fulfilled on \(type.qualifiedName) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                 details: Details(name: name, group: type.group, kind: type.plural))
    }

    static func gone(requested: Int, oldest: Int) -> APIError {
        APIError(code: 410, reason: "Expired", message: "too old resource version: \(requested) (\(oldest))")
    }

    static func invalid(_ type: ResourceType, name: String, _ message: String) -> APIError {
        APIError(code: 422, reason: "Invalid", message: "\(type.kind).\(type.group) \"\(name)\" is invalid: \(message)",
                 details: Details(name: name, group: type.group, kind: type.kind))
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    static let resourceNotFound = APIError(code: 404, reason: "NotFound",
                                           message: "the server could not find the requested resource")

    static func methodNotAllowed(_ method: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource (\(method))")
    }

    /// The Status object as a JSON tree, also what an ERROR watch event carries.
    var statusObject: [String: Any] {
        var status: [String: Any] = [
            "kind": "Status", "apiVersion": "v1", "metadata": [String: Any](),
            "status": "Failure", "message": message, "reason": reason, "code": code,
        ]
        if let details {
            var detailObject: [String: Any] = ["name": details.name, "kind": details.kind]
            if !details.group.isEmpty { detailObject["group"] = details.group }
            status["details"] = detailObject
        }
        return status
    }

    var response: Response {
        Response.json(statusObject, status: code)
    }
}

extension Response {
    /// A JSON body with `application/json`, the only encoding the simulation speaks.
    static func json(_ value: Any, status: Int = 200) -> Response {
        json(data: JSONValue.data(value), status: status)
    }

    static func json(data: Data, status: Int = 200) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: HTTPResponse.Status(code: status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
