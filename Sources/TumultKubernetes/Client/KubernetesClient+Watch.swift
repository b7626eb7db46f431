import AsyncHTTPClient
import Foundation
import NIOCore

extension KubernetesClient {
    /// Watches changes from `resourceVersion` on: the reply is a stream of JSON
    /// lines, decoded one by one as bytes arrive. Bookmarks are asked for so
    /// that a quiet watch still advances its resource version. The stream ends
    /// when the server closes the watch (its timeout), and fails with an
    /// `isGone` error when the version has left the server's history (an
    /// ERROR event with code 410, or a 410 reply): list again. Cancelling the
    /// consuming task, or dropping the stream, closes the connection.
    public func watch<T: KubernetesObject>(
        _ resource: ResourceType, namespace: String?, resourceVersion: String, labelSelector: String? = nil,
        fieldSelector: String? = nil, timeoutSeconds: Int? = nil, as type: T.Type = T.self
    ) -> AsyncThrowingStream<WatchEvent<T>, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent<T>.self)
        var query: [(String, String)] = [("watch", "true"), ("allowWatchBookmarks", "true")]
        if !resourceVersion.isEmpty { query.append(("resourceVersion", resourceVersion)) }
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
        let path = resource.path(namespace: namespace)
        let task = Task {
            do {
                try await self.stream(resource, path: path, query: query, into: continuation)
                continuation.finish()
            } catch {
                continuation.finish(throwing: self.transportError(error, verb: "watch", path: path))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func stream<T: KubernetesObject>(
        _ resource: ResourceType, path: String, query: [(String, String)],
        into continuation: AsyncThrowingStream<WatchEvent<T>, any Error>.Continuation
    ) async throws {
        let request = try makeRequest(verb: "watch", method: .get, path: path, query: query)
        try await admit(verb: "watch", resource: resource, subresource: nil)
        let response = try await http.execute(request, timeout: Self.requestTimeout)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw Self.failure(status: status, body: Data(body.readableBytesView), verb: "watch", path: path)
        }
        var pending: [UInt8] = []
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            var start = 0
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try emit(pending[start..<newline], path: path, into: continuation)
                start = newline + 1
            }
            if start > 0 { pending.removeFirst(start) }
        }
        try emit(pending[...], path: path, into: continuation)
    }

    private func emit<T: KubernetesObject>(
        _ line: ArraySlice<UInt8>, path: String,
        into continuation: AsyncThrowingStream<WatchEvent<T>, any Error>.Continuation
    ) throws {
        guard line.contains(where: { !($0 == 32 || $0 == 9 || $0 == 10 || $0 == 13) }) else { return }
        let decoded: WatchLine<T>
        do {
            decoded = try Self.decoder.decode(WatchLine<T>.self, from: Data(line))
        } catch {
            throw KubernetesError(
                statusCode: nil, reason: nil, message: "a watch event does not read as \(T.self): \(error)",
                verb: "watch", path: path)
        }
        switch decoded.content {
        case .event(let event):
            continuation.yield(event)
        case .error(let status):
            throw KubernetesError(
                statusCode: status.code, reason: status.reason.flatMap { $0.isEmpty ? nil : $0 },
                message: status.message ?? "the watch failed", verb: "watch", path: path)
        }
    }
}
