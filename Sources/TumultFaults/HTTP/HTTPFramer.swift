import NIOCore

/// How a message's body is delimited (RFC 9112 section 6.3).
public enum HTTPBodyFraming: Sendable, Hashable {
    case none
    case contentLength(Int)
    case chunked
    /// A response without length: its body ends when the server closes.
    case untilClose
}

public enum HTTPFrameEvent: Sendable {
    /// A message starts: its head, how its body is framed, and the head's
    /// exact bytes (empty lines the peer sent before it included).
    case head(HTTPHead, framing: HTTPBodyFraming, raw: ByteBuffer)
    /// Body bytes exactly as on the wire (chunk-size lines, chunk CRLFs and trailers included when chunked).
    case body(ByteBuffer)
    /// The message (head and body) is complete.
    case end
    /// Bytes that are not HTTP, or come after an upgrade/CONNECT tunnel started: pass them on unchanged.
    case opaque(ByteBuffer)
}

/// Incremental framing of one direction of one HTTP/1.1 connection.
///
/// The proxy forwards every byte it is given back, in order: the raw bytes
/// of `.head`, `.body` and `.opaque` events concatenated are exactly the
/// bytes fed. Whatever the framer does not understand (not HTTP/1.x, a
/// framing it cannot trust, a head too large) turns the rest of the
/// direction opaque rather than failing: a chaos proxy must never break
/// traffic its rules do not select.
///
/// A message whose body turns out malformed half-way (a bad chunk-size
/// line) gets no `.end`: the bytes from the bad one on come as `.opaque`.
public struct HTTPFramer: Sendable {
    public enum Side: Sendable { case requests, responses }

    enum Mode: Sendable {
        case head
        case contentLength(remaining: Int)
        case chunked(ChunkedBodyScanner)
        case untilClose
        /// Requests side, after a request asking for an upgrade or a tunnel:
        /// what follows is held until the proxy knows whether it is still HTTP.
        case awaitingUpgrade
        case opaque
    }

    public let side: Side
    public let maximumHeadBytes: Int
    var mode: Mode = .head
    /// Bytes of a head not yet complete, or held while awaiting an upgrade.
    var held: ByteBuffer
    var headScan = HeadScanner()
    /// Responses side: methods of the requests whose responses are still due.
    var pendingMethods: [String] = []
    var pendingMethodsStart = 0
    var afterMessage: After = .http

    public init(side: Side, maximumHeadBytes: Int = 64 * 1024) {
        self.side = side
        self.maximumHeadBytes = maximumHeadBytes
        held = ByteBufferAllocator().buffer(capacity: 0)
    }

    /// Whether the framer has gone opaque (the proxy then stops framing this direction, and tells the other side with `becomeOpaque()`).
    public var isOpaque: Bool {
        if case .opaque = mode { return true }
        return false
    }

    /// Requests side: true after a request head with `Upgrade` or method
    /// CONNECT has been framed to its end. The bytes fed meanwhile are
    /// held; the proxy waits for the response and then calls
    /// `becomeOpaque()` (101, or 2xx to CONNECT) or `resumeAfterRefusedUpgrade()`.
    public var isAwaitingUpgrade: Bool {
        if case .awaitingUpgrade = mode { return true }
        return false
    }

    /// Goes opaque for the rest of the connection. Returns what the framer
    /// held (a partial head, bytes fed while awaiting an upgrade) as one
    /// `.opaque` event: the proxy must forward it (not discardable, so a
    /// caller that drops it gets a warning).
    public mutating func becomeOpaque() -> [HTTPFrameEvent] {
        mode = .opaque
        return releaseHeld()
    }

    /// Requests side: the server answered the upgrade or CONNECT request
    /// with something else than switching, so the connection stays HTTP;
    /// frames the bytes held meanwhile.
    public mutating func resumeAfterRefusedUpgrade() -> [HTTPFrameEvent] {
        guard case .awaitingUpgrade = mode else { return [] }
        mode = .head
        headScan = HeadScanner()
        let pending = held
        held = ByteBufferAllocator().buffer(capacity: 0)
        return feed(pending)
    }

    /// Responses side only: the method of the next request in order
    /// (pipelining: called once per request, in order, as the proxy
    /// forwards requests). A response to HEAD has no body; 1xx responses
    /// (except 101) are followed by the real response to the same request;
    /// a 101, or a 2xx to CONNECT, turns the rest of this direction opaque.
    public mutating func expectResponse(toMethod method: String) {
        pendingMethods.append(method)
    }

    /// Consumes bytes; returns the events they complete, in order. Bytes of
    /// a partial head are held until the head completes (or exceeds the
    /// maximum: everything held and after becomes opaque). Never throws.
    public mutating func feed(_ bytes: ByteBuffer) -> [HTTPFrameEvent] {
        var input = bytes
        var events: [HTTPFrameEvent] = []
        while input.readableBytes > 0 {
            switch mode {
            case .opaque:
                events.append(.opaque(input))
                input.moveReaderIndex(forwardBy: input.readableBytes)
            case .awaitingUpgrade:
                hold(&input)
            case .untilClose:
                events.append(.body(input))
                input.moveReaderIndex(forwardBy: input.readableBytes)
            case .contentLength(let remaining):
                let count = min(remaining, input.readableBytes)
                events.append(.body(input.readSlice(length: count)!))
                if count == remaining {
                    endMessage(into: &events)
                } else {
                    mode = .contentLength(remaining: remaining - count)
                }
            case .chunked(var scanner):
                let outcome = input.withUnsafeReadableBytes { scanner.scan($0) { _ in } }
                switch outcome {
                case .needMore:
                    events.append(.body(input))
                    input.moveReaderIndex(forwardBy: input.readableBytes)
                    mode = .chunked(scanner)
                case .complete(let length):
                    events.append(.body(input.readSlice(length: length)!))
                    endMessage(into: &events)
                case .malformed(let offset):
                    if offset > 0 { events.append(.body(input.readSlice(length: offset)!)) }
                    mode = .opaque
                }
            case .head:
                hold(&input)
                input = frameHead(into: &events)
            }
        }
        return events
    }

    /// The peer closed its side: completes an `untilClose` body (`.end`);
    /// bytes held (a partial head, bytes after an upgrade request) are
    /// returned as `.opaque`. A partial body has already been delivered and
    /// gets no `.end`.
    public mutating func finish() -> [HTTPFrameEvent] {
        switch mode {
        case .untilClose:
            mode = .head
            afterMessage = .http
            return [.end]
        case .head, .awaitingUpgrade:
            let events = releaseHeld()
            headScan = HeadScanner()
            return events
        case .contentLength, .chunked, .opaque:
            return []
        }
    }

    /// Moves all of `input` into `held`; without copying when nothing is held yet
    /// (pipelined heads in one read then share the read's storage).
    private mutating func hold(_ input: inout ByteBuffer) {
        if held.readableBytes == 0 {
            held = input
            input.moveReaderIndex(forwardBy: input.readableBytes)
        } else {
            held.writeBuffer(&input)
        }
    }

    private mutating func releaseHeld() -> [HTTPFrameEvent] {
        guard held.readableBytes > 0 else { return [] }
        let bytes = held
        held = ByteBufferAllocator().buffer(capacity: 0)
        return [.opaque(bytes)]
    }

    /// Looks for the end of the head in `held`. Returns the bytes that
    /// follow a complete head (to be framed next), or nothing when more
    /// bytes are needed or the direction went opaque.
    private mutating func frameHead(into events: inout [HTTPFrameEvent]) -> ByteBuffer {
        let empty = ByteBufferAllocator().buffer(capacity: 0)
        let side = self.side
        let outcome = held.withUnsafeReadableBytes { headScan.scan($0, side: side) }
        switch outcome {
        case .needMore:
            if held.readableBytes > maximumHeadBytes { events += becomeOpaque() }
            return empty
        case .notHTTP:
            events += becomeOpaque()
            return empty
        case .complete(let length):
            guard length <= maximumHeadBytes else {
                events += becomeOpaque()
                return empty
            }
            let raw = held.getSlice(at: held.readerIndex, length: length)!
            let bytes = Array(raw.readableBytesView)
            guard let head = HTTPHead(parsing: bytes, side: side),
                  let framing = framing(of: head) else {
                events += becomeOpaque()
                return empty
            }
            held.moveReaderIndex(forwardBy: length)
            let rest = held
            held = ByteBufferAllocator().buffer(capacity: 0)
            headScan = HeadScanner()
            events.append(.head(head, framing: framing.body, raw: raw))
            afterMessage = framing.after
            switch framing.body {
            case .none, .contentLength(0):
                endMessage(into: &events)
            case .contentLength(let length):
                mode = .contentLength(remaining: length)
            case .chunked:
                mode = .chunked(ChunkedBodyScanner(maximumTrailerBytes: maximumHeadBytes))
            case .untilClose:
                mode = .untilClose
            }
            return rest
        }
    }

    /// What the connection carries once the current message has ended.
    enum After: Sendable { case http, tunnel, awaitUpgrade }

    /// The current message is complete: `.end`, then HTTP again, a tunnel,
    /// or (after an upgrade or CONNECT request) holding until the proxy knows.
    private mutating func endMessage(into events: inout [HTTPFrameEvent]) {
        events.append(.end)
        switch afterMessage {
        case .http: mode = .head
        case .tunnel: mode = .opaque
        case .awaitUpgrade: mode = .awaitingUpgrade
        }
        afterMessage = .http
    }

    /// The body framing of a message (RFC 9112 section 6.3), and what the
    /// connection carries after it; nil when the framing cannot be trusted
    /// (the direction then goes opaque, leaving the decision to the peer).
    mutating func framing(of head: HTTPHead) -> (body: HTTPBodyFraming, after: After)? {
        switch side {
        case .requests:
            let method = head.method ?? ""
            let after: After = (method == "CONNECT" || head.header("Upgrade") != nil) ? .awaitUpgrade : .http
            guard let length = Self.declaredLength(head) else { return nil }
            switch length {
            case .chunked: return (.chunked, after)
            case .length(let count): return (.contentLength(count), after)
            case .notChunked: return nil  // a request body must end with chunked (RFC 9112 section 6.3 point 4)
            case .absent: return (.none, after)
            }
        case .responses:
            let status = head.status ?? 0
            if status == 101 { return (.none, .tunnel) }
            if status >= 100 && status < 200 { return (.none, .http) }  // interim: the final response follows
            let method = nextMethod()
            if method == "HEAD" || status == 204 || status == 304 { return (.none, .http) }
            if method == "CONNECT" && status >= 200 && status < 300 { return (.none, .tunnel) }
            guard let length = Self.declaredLength(head) else { return nil }
            switch length {
            case .chunked: return (.chunked, .http)
            case .length(let count): return (.contentLength(count), .http)
            case .notChunked, .absent: return (.untilClose, .http)
            }
        }
    }

    private mutating func nextMethod() -> String {
        guard pendingMethodsStart < pendingMethods.count else { return "GET" }
        let method = pendingMethods[pendingMethodsStart]
        pendingMethodsStart += 1
        if pendingMethodsStart > 64 && pendingMethodsStart * 2 > pendingMethods.count {
            pendingMethods.removeFirst(pendingMethodsStart)
            pendingMethodsStart = 0
        }
        return method
    }

    enum DeclaredLength { case chunked, notChunked, length(Int), absent }

    /// Transfer-Encoding beats Content-Length; conflicting or malformed
    /// lengths, chunked applied twice, or Transfer-Encoding in HTTP/1.0 give
    /// nil: exactly the messages request smuggling is made of.
    static func declaredLength(_ head: HTTPHead) -> DeclaredLength? {
        let codings = head.values(of: "Transfer-Encoding")
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingHTTPWhitespace().lowercased() }
            .filter { !$0.isEmpty }
        if !head.values(of: "Transfer-Encoding").isEmpty {
            guard head.version != "HTTP/1.0", !codings.isEmpty else { return nil }
            let chunkedCount = codings.filter { $0 == "chunked" }.count
            if chunkedCount > 1 || (chunkedCount == 1 && codings.last != "chunked") { return nil }
            return codings.last == "chunked" ? .chunked : .notChunked
        }
        let lengths = head.values(of: "Content-Length")
            .flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingHTTPWhitespace() }
        guard let first = lengths.first else { return .absent }
        guard let value = parseLength(first), lengths.allSatisfy({ parseLength($0) == value }) else { return nil }
        return .length(value)
    }

    static func parseLength(_ text: Substring) -> Int? {
        guard !text.isEmpty else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(byte - 0x30))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }
}

extension HTTPFramer {
    /// Finds where a head ends (the first empty line after the start line),
    /// scanning each byte once however the head is split across reads, and
    /// checks the start line as it arrives, so a TLS ClientHello or other
    /// non-HTTP bytes go opaque at their first byte instead of being held.
    struct HeadScanner: Sendable {
        enum Outcome { case needMore, notHTTP, complete(Int) }

        enum StartLineState: Sendable, Equatable {
            case method(Int), target(Int), version(Int), status(Int), reason
        }

        /// Bytes of the held buffer already scanned.
        var offset = 0
        /// Bytes of the current line so far, LF excluded.
        var lineLength = 0
        /// The previous byte was a CR: only LF may follow it.
        var afterCR = false
        var sawStartLine = false
        var startLine: StartLineState?

        mutating func scan(_ bytes: UnsafeRawBufferPointer, side: Side) -> Outcome {
            while offset < bytes.count {
                let byte = bytes[offset]
                offset += 1
                if byte == lf {
                    let empty = lineLength == 0 || (lineLength == 1 && afterCR)
                    afterCR = false
                    lineLength = 0
                    if sawStartLine {
                        if empty { return .complete(offset) }
                        continue
                    }
                    if empty { continue }  // empty lines before a start line are allowed (RFC 9112 section 2.2)
                    guard let state = startLine, Self.isComplete(state, side: side) else { return .notHTTP }
                    sawStartLine = true
                    continue
                }
                lineLength += 1
                if sawStartLine {
                    afterCR = byte == cr
                    continue
                }
                if afterCR { return .notHTTP }
                if byte == cr {
                    afterCR = true
                    continue
                }
                let state = startLine ?? (side == .requests ? .method(0) : .version(0))
                guard let next = Self.advance(state, with: byte, side: side) else { return .notHTTP }
                startLine = next
            }
            return .needMore
        }

        static let versionPattern = Array("HTTP/1.1".utf8)

        /// The start line grammar (RFC 9112 sections 3 and 4), byte by byte.
        static func advance(_ state: StartLineState, with byte: UInt8, side: Side) -> StartLineState? {
            switch state {
            case .method(let count):
                if byte == space { return count > 0 ? .target(0) : nil }
                return HTTPHead.isTokenByte(byte) ? .method(count + 1) : nil
            case .target(let count):
                if byte == space { return count > 0 ? .version(0) : nil }
                return byte > space && byte != 0x7F ? .target(count + 1) : nil
            case .version(let position):
                switch position {
                case 0..<5: return byte == versionPattern[position] ? .version(position + 1) : nil
                case 5, 7: return byte >= 0x30 && byte <= 0x39 ? .version(position + 1) : nil
                case 6: return byte == UInt8(ascii: ".") ? .version(7) : nil
                default: return side == .responses && byte == space ? .status(0) : nil
                }
            case .status(let count):
                if count < 3 { return byte >= 0x30 && byte <= 0x39 ? .status(count + 1) : nil }
                return byte == space ? .reason : nil
            case .reason:
                return byte == 0x09 || byte >= space ? .reason : nil
            }
        }

        static func isComplete(_ state: StartLineState, side: Side) -> Bool {
            switch side {
            case .requests: state == .version(8)
            case .responses: state == .status(3) || state == .reason
            }
        }
    }

    /// Follows a chunked body (RFC 9112 section 7.1) byte by byte: chunk
    /// sizes (hex, bounded so they cannot overflow), extensions, data, the
    /// CRLF after each chunk, the last chunk and the trailer section. Bare
    /// LF is accepted wherever CRLF is expected.
    struct ChunkedBodyScanner: Sendable {
        enum Outcome: Equatable { case needMore, complete(Int), malformed(Int) }

        enum State: Sendable {
            case sizeStart, size(Int), sizeExtension(Int), sizeCR(Int)
            case data(Int), dataEnd, dataCR
            case trailerLineStart, trailerLine, trailerEndCR
        }

        var state = State.sizeStart
        var trailerBytes = 0
        let maximumTrailerBytes: Int

        init(maximumTrailerBytes: Int) {
            self.maximumTrailerBytes = maximumTrailerBytes
        }

        /// Scans `bytes` from the start; `data` gets the ranges of chunk
        /// data. `.complete(n)`: the body ends after `n` bytes;
        /// `.malformed(n)`: byte `n` breaks the grammar.
        mutating func scan(_ bytes: UnsafeRawBufferPointer, data: (Range<Int>) -> Void) -> Outcome {
            var index = 0
            while index < bytes.count {
                if case .data(let remaining) = state {
                    let count = min(remaining, bytes.count - index)
                    data(index..<index + count)
                    index += count
                    state = remaining == count ? .dataEnd : .data(remaining - count)
                    continue
                }
                let byte = bytes[index]
                index += 1
                switch state {
                case .sizeStart:
                    guard let digit = Self.hexValue(byte) else { return .malformed(index - 1) }
                    state = .size(digit)
                case .size(let value):
                    if let digit = Self.hexValue(byte) {
                        guard value <= Int.max >> 4 else { return .malformed(index - 1) }
                        state = .size(value << 4 | digit)
                    } else if byte == UInt8(ascii: ";") || byte == space || byte == 0x09 {
                        state = .sizeExtension(value)
                    } else if byte == cr {
                        state = .sizeCR(value)
                    } else if byte == lf {
                        state = value == 0 ? .trailerLineStart : .data(value)
                    } else {
                        return .malformed(index - 1)
                    }
                case .sizeExtension(let value):
                    if byte == cr {
                        state = .sizeCR(value)
                    } else if byte == lf {
                        state = value == 0 ? .trailerLineStart : .data(value)
                    } else if byte < space && byte != 0x09 {
                        return .malformed(index - 1)
                    }
                case .sizeCR(let value):
                    guard byte == lf else { return .malformed(index - 1) }
                    state = value == 0 ? .trailerLineStart : .data(value)
                case .dataEnd:
                    if byte == cr { state = .dataCR }
                    else if byte == lf { state = .sizeStart }
                    else { return .malformed(index - 1) }
                case .dataCR:
                    guard byte == lf else { return .malformed(index - 1) }
                    state = .sizeStart
                case .trailerLineStart:
                    if byte == lf { return .complete(index) }
                    state = byte == cr ? .trailerEndCR : .trailerLine
                    trailerBytes += 1
                case .trailerEndCR:
                    guard byte == lf else { return .malformed(index - 1) }
                    return .complete(index)
                case .trailerLine:
                    if byte == lf { state = .trailerLineStart }
                    trailerBytes += 1
                case .data:
                    break  // handled above
                }
                if trailerBytes > maximumTrailerBytes { return .malformed(index - 1) }
            }
            return .needMore
        }

        static func hexValue(_ byte: UInt8) -> Int? {
            switch byte {
            case 0x30...0x39: Int(byte - 0x30)
            case 0x41...0x46: Int(byte - 0x41 + 10)
            case 0x61...0x66: Int(byte - 0x61 + 10)
            default: nil
            }
        }
    }
}

private let cr = UInt8(ascii: "\r")
private let lf = UInt8(ascii: "\n")
private let space = UInt8(ascii: " ")

extension Substring {
    /// Without the optional whitespace (SP, HTAB) HTTP allows around values and list items.
    func trimmingHTTPWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}

/// Dechunks a chunked body as the framer delivered it (raw). nil when
/// malformed or incomplete; trailers are dropped.
public enum HTTPChunkedBody {
    public static func decode(_ raw: ByteBuffer) -> [UInt8]? {
        var scanner = HTTPFramer.ChunkedBodyScanner(maximumTrailerBytes: Int.max)
        var data: [UInt8] = []
        let outcome = raw.withUnsafeReadableBytes { bytes in
            scanner.scan(bytes) { range in data.append(contentsOf: bytes[range]) }
        }
        guard case .complete(let length) = outcome, length == raw.readableBytes else { return nil }
        return data
    }
}
