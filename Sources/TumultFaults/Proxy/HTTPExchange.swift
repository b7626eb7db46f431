import NIOCore

/// The HTTP/1.1 side of one proxied connection: frames what each peer
/// sends, asks the policy what to do with each message, and hands back
/// what to send on. A message no rule matches goes on as the very bytes
/// that came in; a matching one is held whole and rewritten, delayed, or
/// ends the connection. Pure: no sockets, times in monotonic nanoseconds.
struct HTTPExchange {
    enum Output: Equatable {
        /// Send these bytes on, not before this time: to the server
        /// (`toServer`) or to the client.
        case bytes(ByteBuffer, notBefore: UInt64, toServer: Bool)
        /// Close the connection, as Chaos Mesh's abort does.
        case abort
    }

    /// One message being relayed in one direction.
    private struct Message {
        var head: HTTPHead
        var verdict: HTTPVerdict
        var notBefore: UInt64
        /// How the body is framed and how long the raw head is.
        var framing: HTTPBodyFraming
        var headLength: Int
        /// The raw head and body, held while the verdict rewrites it.
        var held: ByteBuffer?
    }

    var policy: HTTPFaultPolicy
    private var requests = HTTPFramer(side: .requests)
    private var responses = HTTPFramer(side: .responses)
    /// Requests forwarded whose responses have not ended (pipelining),
    /// oldest first, as forwarded (after any rewrite).
    private var inFlight: [HTTPHead] = []
    private var request: Message?
    private var response: Message?
    /// Whether the client's first bytes were a TLS handshake (passed through untouched).
    private(set) var sawTLS = false
    private var clientSpoke = false
    private let allocator = ByteBufferAllocator()

    init(policy: HTTPFaultPolicy) {
        self.policy = policy
    }

    /// Whether no message is in flight either way: the connection can be
    /// closed between messages without cutting one (draining).
    var isIdle: Bool { inFlight.isEmpty && request == nil && response == nil && !requests.isOpaque }

    mutating func fromClient(_ buffer: ByteBuffer, now: UInt64) -> [Output] {
        var outputs: [Output] = []
        if !clientSpoke {
            clientSpoke = true
            // A TLS record (handshake, version 3.x): nothing here can be read; pass it all through.
            if buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0x16,
               buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == 0x03 {
                sawTLS = true
                outputs += handle(requests.becomeOpaque(), fromClient: true, now: now)
                outputs += handle(responses.becomeOpaque(), fromClient: false, now: now)
            }
        }
        return outputs + handle(requests.feed(buffer), fromClient: true, now: now)
    }

    mutating func fromServer(_ buffer: ByteBuffer, now: UInt64) -> [Output] {
        handle(responses.feed(buffer), fromClient: false, now: now)
    }

    mutating func clientClosed(now: UInt64) -> [Output] {
        handle(requests.finish(), fromClient: true, now: now)
    }

    mutating func serverClosed(now: UInt64) -> [Output] {
        handle(responses.finish(), fromClient: false, now: now)
    }

    private mutating func handle(_ events: [HTTPFrameEvent], fromClient: Bool, now: UInt64) -> [Output] {
        var outputs: [Output] = []
        for event in events {
            switch event {
            case .head(let head, let framing, let raw):
                let verdict: HTTPVerdict
                if fromClient {
                    verdict = policy.verdict(request: head)
                } else {
                    verdict = inFlight.first.map { policy.verdict(response: head, request: $0) } ?? .passThrough
                }
                if verdict.abort {
                    outputs.append(.abort)
                    return outputs
                }
                if fromClient && !verdict.rewrites { forwarded(head) }
                let notBefore = now + UInt64(max(0, verdict.delayNanoseconds))
                let message = Message(head: head, verdict: verdict, notBefore: notBefore, framing: framing,
                                      headLength: raw.readableBytes, held: verdict.rewrites ? raw : nil)
                if !verdict.rewrites { outputs.append(.bytes(raw, notBefore: notBefore, toServer: fromClient)) }
                if fromClient { request = message } else { response = message }
            case .body(let raw):
                if fromClient {
                    outputs += Self.body(raw, of: &request, now: now, toServer: true)
                } else {
                    outputs += Self.body(raw, of: &response, now: now, toServer: false)
                }
            case .end:
                if fromClient {
                    let ended = request
                    request = nil
                    outputs += end(ended, toServer: true)
                } else {
                    let ended = response
                    response = nil
                    outputs += end(ended, toServer: false)
                    outputs += responseEnded(ended?.head.status, now: now)
                }
            case .opaque(let raw):
                outputs.append(.bytes(raw, notBefore: now, toServer: fromClient))
                // Not HTTP, or a tunnel: both directions are raw from here on.
                if fromClient && !responses.isOpaque {
                    outputs += handle(responses.becomeOpaque(), fromClient: false, now: now)
                } else if !fromClient && !requests.isOpaque {
                    outputs += handle(requests.becomeOpaque(), fromClient: true, now: now)
                }
            }
        }
        return outputs
    }

    /// A request goes to the server as `head`: its response is expected next in line.
    private mutating func forwarded(_ head: HTTPHead) {
        inFlight.append(head)
        responses.expectResponse(toMethod: head.method ?? "GET")
    }

    /// A response ended: the request it answered leaves the line (not for
    /// an interim 1xx), and a held upgrade or CONNECT is settled.
    private mutating func responseEnded(_ status: Int?, now: UInt64) -> [Output] {
        guard let status, status >= 200 || status == 101 else { return [] }
        let answered = inFlight.isEmpty ? nil : inFlight.removeFirst()
        guard requests.isAwaitingUpgrade else { return [] }
        let switched = status == 101 || (answered?.method == "CONNECT" && (200..<300).contains(status))
        if switched {
            return handle(requests.becomeOpaque(), fromClient: true, now: now)
                + handle(responses.isOpaque ? [] : responses.becomeOpaque(), fromClient: false, now: now)
        }
        return handle(requests.resumeAfterRefusedUpgrade(), fromClient: true, now: now)
    }

    private static func body(_ raw: ByteBuffer, of message: inout Message?, now: UInt64, toServer: Bool) -> [Output] {
        guard var current = message else { return [.bytes(raw, notBefore: now, toServer: toServer)] }
        if current.held != nil {
            var raw = raw
            current.held!.writeBuffer(&raw)
            message = current
            return []
        }
        return [.bytes(raw, notBefore: current.notBefore, toServer: toServer)]
    }

    /// A held message is complete: rewritten as the verdict says, sent whole.
    private mutating func end(_ message: Message?, toServer: Bool) -> [Output] {
        guard let current = message, var held = current.held else { return [] }
        held.moveReaderIndex(forwardBy: min(held.readableBytes, current.headLength))
        let body: [UInt8]
        switch current.framing {
        case .chunked: body = HTTPChunkedBody.decode(held) ?? []
        default: body = held.readBytes(length: held.readableBytes) ?? []
        }
        let rewritten = policy.rewritten(current.head, body: body, with: current.verdict)
        // Response rules match the request as the server saw it.
        if toServer { forwarded(rewritten.head) }
        let bytes = policy.rewrite(current.head, body: body, with: current.verdict)
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return [.bytes(buffer, notBefore: current.notBefore, toServer: toServer)]
    }
}
