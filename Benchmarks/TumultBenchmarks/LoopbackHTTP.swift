import Foundation

/// The smallest HTTP/1.1 client the crash soak needs to talk to `tumult
/// server` on 127.0.0.1: one request per connection (`Connection: close`),
/// and a request can be left in flight while the server is killed.
struct LoopbackHTTP {
    let port: Int

    struct Response {
        var status: Int
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var object: [String: Any]? { json as? [String: Any] }
    }

    /// Sends the request and returns the connected socket without reading the answer.
    func send(_ method: String, _ path: String, body: String? = nil, contentType: String? = nil) throws -> Int32 {
        let descriptor = try LoopbackSocket.connect(port: port)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let payload = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nAccept: application/json\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        head += "Content-Length: \(payload.count)\r\n\r\n"
        let bytes = Array(head.utf8) + payload
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw BenchmarkError("sending \(method) \(path): \(reason)")
            }
            sent += count
        }
        return descriptor
    }

    /// Reads the answer on a socket from `send` (waiting at most `timeout`
    /// seconds) and closes it; nil if the connection ended without one.
    func receive(_ descriptor: Int32, timeout: Double = 30) -> Response? {
        defer { close(descriptor) }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let deadline = Clock.now + timeout
        while Clock.now < deadline {
            var polled = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&polled, 1, Int32(max(1, min(100, (deadline - Clock.now) * 1000))))
            if ready < 0 && errno != EINTR { break }
            guard ready > 0 else { continue }
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            data.append(contentsOf: chunk[0..<count])
        }
        return Self.parse(data)
    }

    /// One whole request and its answer.
    func request(_ method: String, _ path: String, body: String? = nil, contentType: String? = nil,
                 timeout: Double = 30) throws -> Response {
        let descriptor = try send(method, path, body: body, contentType: contentType)
        guard let response = receive(descriptor, timeout: timeout) else {
            throw BenchmarkError("\(method) \(path): no answer from 127.0.0.1:\(port)")
        }
        return response
    }

    static func parse(_ data: Data) -> Response? {
        let separator = Data("\r\n\r\n".utf8)
        guard let end = data.range(of: separator) else { return nil }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else { return nil }
        var body = Data(data[end.upperBound...])
        let chunked = lines.dropFirst().contains { $0.lowercased().hasPrefix("transfer-encoding:") && $0.lowercased().contains("chunked") }
        if chunked { body = dechunk(body) }
        return Response(status: status, body: body)
    }

    static func dechunk(_ data: Data) -> Data {
        var result = Data(), index = data.startIndex
        let crlf = Data("\r\n".utf8)
        while let line = data.range(of: crlf, in: index..<data.endIndex) {
            let sizeText = String(decoding: data[index..<line.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = line.upperBound
            guard let stop = data.index(start, offsetBy: size, limitedBy: data.endIndex) else { break }
            result.append(data[start..<stop])
            index = min(data.endIndex, stop + 2)
        }
        return result
    }

    /// A port nothing listens on now, on 127.0.0.1.
    static func freePort() throws -> Int {
        let descriptor = try LoopbackSocket.open()
        defer { close(descriptor) }
        var address = LoopbackSocket.address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(descriptor, pointer, length) == 0 else { return -1 }
                return getsockname(descriptor, pointer, &length)
            }
        }
        guard bound == 0 else { throw BenchmarkError("no free port on 127.0.0.1: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
