import Glibc

/// A TCP port on 127.0.0.1 for the failures no HTTP server makes: with
/// `listening`, connections are taken by the kernel and never answered (a
/// hung server); without, a bound socket that refuses them. Closed by `close()`.
struct SilentPort {
    let port: Int
    private let descriptor: Int32

    init(listening: Bool) throws {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw TestSetupError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socketDescriptor, pointer, length) == 0 && getsockname(socketDescriptor, pointer, &length) == 0
            }
        }
        guard bound, !listening || listen(socketDescriptor, 16) == 0 else {
            let failure = errno
            _ = Glibc.close(socketDescriptor)
            throw TestSetupError("bind or listen on 127.0.0.1: errno \(failure)")
        }
        descriptor = socketDescriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(descriptor) }
}
