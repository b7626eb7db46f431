import Foundation
import Hummingbird
import NIOCore
import TumultAgent
import TumultController

/// The API's error body: Chaos Mesh dashboard's `{code, type, message,
/// full_text}` plus every problem of an invalid document with its field path.
struct APIError: Error, Sendable {
    struct FieldError: Encodable, Sendable {
        var path: String
        var message: String
        var document: Int?
    }

    var status: HTTPResponse.Status
    var type: String
    var message: String
    var errors: [FieldError] = []

    init(_ status: HTTPResponse.Status, _ type: String, _ message: String, errors: [FieldError] = []) {
        self.status = status
        self.type = type
        self.message = message
        self.errors = errors
    }

    init(_ error: ControllerError) {
        switch error.code {
        case .invalidDocument: self.init(.badRequest, "ValidationError", error.message)
        case .unsupported: self.init(.badRequest, "Unsupported", error.message)
        case .notFound: self.init(.notFound, "NotFound", error.message)
        case .conflict: self.init(.conflict, "Conflict", error.message)
        case .halted: self.init(.conflict, "Halted", error.message)
        case .internalError: self.init(.internalServerError, "InternalError", error.message)
        }
        errors = error.diagnostics.map { FieldError(path: $0.path.description, message: $0.message) }
    }

    /// An agent's refusal or failure, as the chaosd routes and the
    /// fleet's calls return it.
    init(_ error: AgentError) {
        switch error.code {
        case .invalid, .version: self.init(.badRequest, "ValidationError", error.message)
        case .unsupported: self.init(.badRequest, "Unsupported", error.message)
        case .notFound: self.init(.notFound, "NotFound", error.message)
        case .halted: self.init(.conflict, "Halted", error.message)
        case .unauthorized: self.init(.badGateway, "AgentUnauthorized", error.message)
        case .unreachable: self.init(.badGateway, "AgentUnreachable", error.message)
        case .failed: self.init(.internalServerError, "InjectFailed", error.message)
        }
        errors = error.fields.map { FieldError(path: $0.path, message: $0.message) }
    }

    var response: Response {
        struct Body: Encodable {
            var code: Int
            var type: String
            var message: String
            var full_text: String
            var errors: [FieldError]
        }
        let fullText = ([message] + errors.map { "\($0.path): \($0.message)" }.filter { $0 != message }).joined(separator: "\n")
        return JSONResponse.make(Body(code: status.code, type: type, message: message, full_text: fullText, errors: errors),
                                 status: status)
    }
}

/// Turns every error a route throws into the JSON error body.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as ControllerError {
            return APIError(error).response
        } catch let error as AgentError {
            return APIError(error).response
        } catch is NIOTooManyBytesError {
            return APIError(.contentTooLarge, "PayloadTooLarge", "the body is larger than this route accepts").response
        } catch let error as HTTPError {
            return APIError(error.status, error.status == .notFound ? "NotFound" : "BadRequest", error.body ?? error.status.reasonPhrase).response
        } catch {
            return APIError(.internalServerError, "InternalError", String(describing: error)).response
        }
    }
}

/// Requires `Authorization: Bearer TOKEN` on the API (the server listens
/// off loopback only with one). The dashboard's page and assets hold no
/// data and stay open, so that the page can load and ask for the token.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if DashboardRoutes.isPublic(path) { return try await next(request, context) }
        var given = request.headers[.authorization] ?? ""
        // EventSource cannot send headers: the live stream may carry the token in its query.
        if given.isEmpty, path == DashboardRoutes.streamPath, let query = request.uri.queryParameters.get("token") {
            given = "Bearer " + query
        }
        // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
        let parts = given.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        let presented = parts.count == 2 && parts[0].lowercased() == "bearer"
            ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        guard Self.constantTimeEqual(presented, token) else {
            return APIError(.unauthorized, "Unauthorized", "a bearer token is required (Authorization: Bearer TOKEN)").response
        }
        return try await next(request, context)
    }

    /// Compares without stopping at the first difference (no timing hint).
    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8), b = Array(rhs.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<min(a.count, b.count) { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// JSON bodies with the API's date format.
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
