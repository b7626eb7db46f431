import TumultModel

/// When each byte of one direction of one connection goes out, under the
/// toxics that apply to it: pure arithmetic on lengths and nanoseconds,
/// so that Toxiproxy's semantics can be unit-tested without sockets.
///
/// Toxics compose in their order, as Toxiproxy chains them: the pieces
/// one toxic lets out are what the next one sees. Times are monotonic
/// nanoseconds (NIO's uptime clock); a piece is never due before the one
/// ahead of it, so bytes stay in order.
public struct ToxicSchedule: Sendable {
    /// A run of bytes of the chunk handed in, and when it may be written.
    public struct Piece: Sendable, Hashable {
        public var offset: Int
        public var length: Int
        public var due: UInt64

        public init(offset: Int, length: Int, due: UInt64) {
            self.offset = offset
            self.length = length
            self.due = due
        }
    }

    /// What to do with one chunk, or at one moment.
    public struct Plan: Sendable, Hashable {
        public var pieces: [Piece] = []
        /// Close the destination (a FIN) at this time: limit_data reached, a timeout toxic's timer.
        public var closeAt: UInt64?
        /// Reset both sides (RST) at this time: reset_peer.
        public var resetAt: UInt64?
    }

    /// One toxic in force on this stream, with what it remembers.
    struct Active: Sendable {
        var toxic: Toxic
        /// latency: the last due time it gave; bandwidth, slicer: when the next byte may start.
        var next: UInt64 = 0
        /// limit_data: bytes let through so far.
        var transmitted: Int64 = 0
        /// reset_peer: data has arrived (its timer runs).
        var triggered = false
    }

    private(set) var active: [Active] = []
    /// Data stops for good (limit reached, reset scheduled): later chunks are dropped.
    private(set) var stopped = false
    /// The latest due time handed out, so that the FIN follows the data.
    private(set) var lastDue: UInt64 = 0
    private var random: SplitMix64

    public init(seed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        random = SplitMix64(seed: seed)
    }

    /// The toxics in force, in order.
    public var toxics: [Toxic] { active.map(\.toxic) }

    /// Whether no toxic applies: the stream relays bytes as they come.
    public var isPassThrough: Bool { active.isEmpty && !stopped }

    /// Puts `toxics` (already drawn for this connection) in force. Toxics
    /// that stay (same name and type) keep their state and take the new
    /// attributes; new ones start now — a timeout toxic's timer among them.
    public mutating func update(_ toxics: [Toxic], now: UInt64) -> Plan {
        var plan = Plan()
        var kept: [Active] = []
        for toxic in toxics {
            if var old = active.first(where: { $0.toxic.effectiveName == toxic.effectiveName && $0.toxic.type == toxic.type }) {
                old.toxic = toxic
                kept.append(old)
                continue
            }
            if toxic.type == .timeout, let timeout = toxic.values.timeout, timeout > 0 {
                plan.closeAt = Self.earliest(plan.closeAt, now + Self.milliseconds(timeout))
            }
            kept.append(Active(toxic: toxic))
        }
        active = kept
        return plan
    }

    /// The plan for a chunk of `length` bytes read at `now`.
    public mutating func plan(length: Int, now: UInt64) -> Plan {
        var plan = Plan()
        guard !stopped else { return plan }
        var pieces = [Piece(offset: 0, length: length, due: now)]
        for index in active.indices {
            guard !pieces.isEmpty else { break }
            let toxic = active[index].toxic
            let values = toxic.values
            switch toxic.type {
            case .latency:
                let latency = values.latency ?? 0, jitter = values.jitter ?? 0
                for piece in pieces.indices {
                    var delay = latency
                    if jitter > 0 { delay += Int64(random.next() % UInt64(2 * jitter)) - jitter }
                    let due = max(pieces[piece].due + Self.milliseconds(max(0, delay)), active[index].next)
                    pieces[piece].due = due
                    active[index].next = due
                }
            case .bandwidth:
                let rate = max(1, values.rate ?? 1)
                // Toxiproxy's unit: KB/s with 1 KB = 1000 bytes; pieces of at most 100 ms.
                let most = Int(min(Int64(Int.max / 2), rate * 100))
                var paced: [Piece] = []
                for piece in pieces {
                    var offset = piece.offset
                    let end = piece.offset + piece.length
                    while offset < end {
                        let length = min(most, end - offset)
                        let start = max(piece.due, active[index].next)
                        let done = start + UInt64(length) * 1_000_000 / UInt64(rate)
                        active[index].next = done
                        paced.append(Piece(offset: offset, length: length, due: done))
                        offset += length
                    }
                }
                pieces = paced
            case .slicer:
                let average = Int(max(1, values.averageSize ?? 1))
                let variation = Int(max(0, min(values.sizeVariation ?? 0, Int64(average) - 1)))
                let gap = UInt64(max(0, values.delay ?? 0)) * 1_000
                var sliced: [Piece] = []
                for piece in pieces {
                    var cuts: [Int] = []
                    slice(piece.offset, piece.offset + piece.length, average: average, variation: variation, into: &cuts)
                    var due = max(piece.due, active[index].next)
                    var start = piece.offset
                    for cut in cuts {
                        sliced.append(Piece(offset: start, length: cut - start, due: due))
                        start = cut
                        due += gap
                    }
                    active[index].next = due
                }
                pieces = sliced
            case .limitData:
                let limit = max(0, values.bytes ?? 0)
                var allowed = limit - active[index].transmitted
                var limited: [Piece] = []
                for var piece in pieces where allowed > 0 {
                    piece.length = Int(min(Int64(piece.length), allowed))
                    allowed -= Int64(piece.length)
                    limited.append(piece)
                }
                active[index].transmitted = limit - allowed
                pieces = limited
                if active[index].transmitted >= limit {
                    stopped = true
                    plan.closeAt = Self.earliest(plan.closeAt, max(pieces.last?.due ?? now, lastDue, now))
                }
            case .timeout:
                // No data passes while it is in force; its timer was set when it started.
                pieces = []
            case .resetPeer:
                if !active[index].triggered {
                    active[index].triggered = true
                    plan.resetAt = now + Self.milliseconds(max(0, values.timeout ?? 0))
                }
                stopped = true
                pieces = []
            case .slowClose:
                break
            }
        }
        for index in pieces.indices {
            pieces[index].due = max(pieces[index].due, lastDue)
            lastDue = pieces[index].due
        }
        plan.pieces = pieces
        return plan
    }

    /// When the sender's FIN may follow: after the data ahead of it, plus
    /// every slow_close delay. A timeout toxic closes at once, as Toxiproxy's does.
    public func closeDue(now: UInt64) -> UInt64 {
        if active.contains(where: { $0.toxic.type == .timeout }) { return now }
        let delay = active.filter { $0.toxic.type == .slowClose }
            .reduce(UInt64(0)) { $0 + Self.milliseconds(max(0, $1.toxic.values.delay ?? 0)) }
        return max(now, lastDue) + delay
    }

    /// Toxiproxy's slicer: halves a run around its middle (moved by up to
    /// `variation`) until each part is within `variation` of `average`.
    private mutating func slice(_ start: Int, _ end: Int, average: Int, variation: Int, into cuts: inout [Int]) {
        if (end - start) - average <= variation {
            cuts.append(end)
            return
        }
        var middle = start + (end - start) / 2
        if variation > 0 { middle += Int(random.next() % UInt64(2 * variation)) - variation }
        middle = min(max(middle, start + 1), end - 1)
        slice(start, middle, average: average, variation: variation, into: &cuts)
        slice(middle, end, average: average, variation: variation, into: &cuts)
    }

    static func milliseconds(_ value: Int64) -> UInt64 { UInt64(max(0, value)) * 1_000_000 }

    static func earliest(_ a: UInt64?, _ b: UInt64) -> UInt64 { a.map { min($0, b) } ?? b }
}

