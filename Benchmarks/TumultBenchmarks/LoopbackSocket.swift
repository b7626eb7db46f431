import Foundation

/// TCP to 127.0.0.1, written once for the benchmarks' two HTTP clients (the
/// crash soak's `LoopbackHTTP` and the dashboard's `HTTPConnection`, which
/// share the socket but not the protocol above it: one request per
/// connection there, kept-alive GETs counted to the byte here).
enum LoopbackSocket {
    /// 127.0.0.1:`port` (0 for any free port, to bind).
    static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// A new TCP socket, close-on-exec (an error to throw if there is none).
    static func open() throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw BenchmarkError("socket: \(String(cString: strerror(errno)))") }
        return descriptor
    }

    /// A new TCP socket connected to 127.0.0.1:`port` (closed again if it
    /// cannot connect).
    static func connect(port: Int) throws -> Int32 {
        let descriptor = try open()
        var server = address(port: port)
        let connected = withUnsafePointer(to: &server) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw BenchmarkError("connecting to 127.0.0.1:\(port): \(reason)")
        }
        return descriptor
    }
}
