import Foundation
import Hummingbird
import TumultAgent

/// chaosd's error reply (`utils.APIError` written by its `MWHandleErrors`),
/// for servers that stand in for chaosd itself (`tumult daemon`).
public enum ChaosdErrorReply {
    /// The error as chaosd would answer it: its status, and a body naming
    /// chaosd's error type (`error.api.invalid_request` ...). chaosd's
    /// `full_text` carries a Go stack trace; here it repeats the message.
    /// chaosd's error bodies go out as `text/plain` (net/http sniffs them
    /// before gin sets a type), and so do these.
    public static func response(for error: AgentError) -> Response {
        let type = typeName(error)
        var message = error.message
        if error.code == .invalid || error.code == .unsupported {
            message = "error.core.attack_config_validation_error: attack config validation failed, cause: \(message)"
        }
        message = "\(type): \(message)"
        let body = #"{"error":true,"message":\#(GoJSON.string(message)),"code":\#(GoJSON.string(type)),"full_text":\#(GoJSON.string(message))}"#
        return Response(status: HTTPResponse.Status(code: error.httpStatus),
                        headers: [.contentType: "text/plain; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// gin's answer to a path or method it has no route for.
    public static func notFound() -> Response {
        Response(status: .notFound, headers: [.contentType: "text/plain"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: "404 page not found")))
    }

    /// chaosd's errorx type for an agent error's code.
    static func typeName(_ error: AgentError) -> String {
        switch error.code {
        case .invalid, .unsupported, .version: "error.api.invalid_request"
        case .unauthorized: "error.api.auth"
        case .notFound: "error.api.resource_not_found"
        case .halted, .failed, .unreachable: "error.api.internal_server_error"
        }
    }
}
