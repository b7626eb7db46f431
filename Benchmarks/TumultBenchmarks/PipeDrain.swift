import Foundation

/// Reads a child's output pipes until every writer has closed them, so that
/// the child never blocks on a full pipe. Written once for the crash soak's
/// `SoakChild` and the dashboard's `RunningServer`, which differ only in what
/// they keep of the bytes.
enum PipeDrain {
    /// Blocks the calling thread until every descriptor has reached its end,
    /// handing each chunk read to `received` with the descriptor it came
    /// from; closes each descriptor at its end (and any still open if poll
    /// fails).
    static func run(_ descriptors: [Int32], received: (_ descriptor: Int32, _ bytes: ArraySlice<UInt8>) -> Void) {
        var open = Set(descriptors)
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while !open.isEmpty {
            var polled = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&polled, nfds_t(polled.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for descriptor in polled where descriptor.revents != 0 {
                let count = read(descriptor.fd, &chunk, chunk.count)
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    open.remove(descriptor.fd)
                    close(descriptor.fd)
                    continue
                }
                received(descriptor.fd, chunk[0..<count])
            }
        }
        for descriptor in open { close(descriptor) }
    }
}
