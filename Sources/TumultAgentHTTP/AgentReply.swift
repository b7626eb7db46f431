import Foundation
import Hummingbird
import TumultAgent

/// Reading agent bodies and writing agent replies, JSON both ways.
enum AgentReply {
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try AgentJSON.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The error as the body, with its status.
    static func error(_ error: AgentError) -> Response {
        let data = (try? AgentJSON.encode(error)) ?? Data(#"{"code":"failed","message":"unencodable error","fields":[]}"#.utf8)
        return Response(status: HTTPResponse.Status(code: error.httpStatus), headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The body decoded as `type`; a body too large or not of that shape is the caller's fault (400).
    static func decode<Value: Decodable>(_ type: Value.Type, from request: Request, limit: Int) async throws -> Value {
        let body = try await collect(request, limit: limit)
        do {
            return try AgentJSON.decode(type, from: body)
        } catch let error as AgentError {
            throw error
        } catch {
            throw AgentError(.invalid, "the body does not read as \(Value.self): \(error)")
        }
    }

    static func collect(_ request: Request, limit: Int) async throws -> Data {
        do {
            return Data(buffer: try await request.body.collect(upTo: limit))
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw AgentError(.invalid, "the request body is larger than \(limit >> 20) MiB")
        }
    }
}

extension AgentError {
    /// Any error thrown behind a route, as the agent error it travels as:
    /// an agent error as it is, the router's own errors by their status,
    /// anything else a failure on the host (500).
    static func wrapping(_ error: any Error) -> AgentError {
        switch error {
        case let error as AgentError:
            return error
        case let error as any HTTPResponseError:
            let message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            switch error.status.code {
            case 401: return AgentError(.unauthorized, message)
            case 404, 405: return AgentError(.notFound, message)
            case 400..<500: return AgentError(.invalid, message)
            default: return AgentError(.failed, message)
            }
        default:
            return AgentError(.failed, String(describing: error))
        }
    }
}
