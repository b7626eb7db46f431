import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus

/// Keeps a flood of connections from starving the API: every connection
/// has `headerTimeout` to send a whole request head and `idleTimeout` to
/// start the next one, and no more than `limit` are served at once.
///
/// At the limit a new connection makes room by closing the connection that
/// has waited longest without a request in flight (idle, or still sending
/// its head), then, failing that, the oldest event stream (a browser's
/// EventSource reconnects by itself); only when every connection is in the
/// middle of a request is the new one closed at once. So idle and slow
/// connections, however many, cannot lock out `POST /api/halt`, and the
/// server degrades by closing connections instead of running out of
/// descriptors (which is what crashed it: libdispatch traps when it cannot
/// get one).
///
/// One guard is shared by all connections of a server, on every event
/// loop: its bookkeeping sits behind a lock; the per-connection state
/// lives in each connection's `ConnectionGuardHandler`, on its loop.
public final class ConnectionGuard: @unchecked Sendable {
    /// Why the server closed a connection: the `reason` label of
    /// `tumult_http_connections_closed_total`.
    enum Closing: String, CaseIterable, Sendable {
        /// No whole request head within `headerTimeout` (slowloris).
        case headerTimeout = "header_timeout"
        /// Kept alive with no next request for `idleTimeout`.
        case idleTimeout = "idle_timeout"
        /// A request body, or a client reading the response, stalled for `idleTimeout`.
        case stalled
        /// Closed to make room for a new connection at the limit.
        case evicted
        /// A new connection at the limit while every other was mid-request.
        case refused
        /// An event stream whose client closed its side.
        case clientGone = "client_gone"
    }

    /// Connections that may be closed to make room, in the order they go.
    enum Spare: Int, CaseIterable, Sendable {
        /// Idle between requests, or still sending a request head.
        case waiting
        /// Writing a `text/event-stream` response (`/api/stream`).
        case streaming
    }

    /// The most connections served at once.
    public let limit: Int
    public let headerTimeout: TimeAmount
    public let idleTimeout: TimeAmount
    let logger: Logger

    /// One served connection: its channel, whether it may make room, and a
    /// generation that tells its current place in a spare queue from stale ones.
    private struct Member {
        let channel: any Channel
        var spare: Spare?
        var generation: UInt64
    }

    /// Connections in the order they became spare, with stale entries
    /// (the connection left or changed since) skipped when taken and
    /// dropped when they outnumber the live ones.
    private struct SpareQueue {
        var entries: [(id: UInt64, generation: UInt64)] = []
        var head = 0
        var count: Int { entries.count - head }
    }

    private let lock = NSLock()
    private var members: [UInt64: Member] = [:]
    private var queues = Array(repeating: SpareQueue(), count: Spare.allCases.count)
    private var lastID: UInt64 = 0
    /// Closings for want of room since the last warning, and when that was.
    private var unreported: [Closing: Int] = [:]
    private var lastWarning: NIODeadline?

    private let open: Prometheus.Gauge
    private let accepted: Prometheus.Counter
    private let closings: [Closing: Prometheus.Counter]

    /// Seconds between two warnings that the limit was reached.
    static let warningInterval = TimeAmount.seconds(10)

    public init(limit: Int, headerTimeout: TimeAmount, idleTimeout: TimeAmount,
                registry: PrometheusCollectorRegistry, logger: Logger) {
        self.limit = max(1, limit)
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.logger = logger
        func described(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
        open = registry.makeGauge(descriptor: described("tumult_http_connections", "HTTP connections the server holds open now."))
        accepted = registry.makeCounter(descriptor: described("tumult_http_connections_accepted_total",
                                                              "HTTP connections the server accepted and served."))
        let closed = described("tumult_http_connections_closed_total",
                               "HTTP connections the server closed itself: timeouts, stalls, and closings at the connection limit.")
        var closings: [Closing: Prometheus.Counter] = [:]
        for reason in Closing.allCases {
            closings[reason] = registry.makeCounter(descriptor: closed, labels: [("reason", reason.rawValue)])
        }
        self.closings = closings
    }

    /// Connections the kernel may hold for the server to accept. A full
    /// queue drops new connections' SYNs, and the client tries again only
    /// a second later: under a flood that second would be `POST
    /// /api/halt`'s. Linux caps it at `net.core.somaxconn`.
    public var backlog: Int { 4096 }

    /// The HTTP/1.1 server with a guard handler on every connection, for
    /// `Application(server:)`.
    public var server: HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuardHandler(owner: self)]))
    }

    // MARK: Bookkeeping (any event loop)

    /// A new connection: its id, or nil when it must be closed at once. A
    /// connection closed to make room is closed here, outside the lock
    /// (closing on this loop runs its handlers at once, and they call back).
    func admit(_ channel: any Channel) -> UInt64? {
        let (id, evicted): (UInt64?, (any Channel)?) = lock.withLock {
            var evicted: (any Channel)?
            if members.count >= limit {
                guard let victim = takeSpare() else { return (nil, nil) }
                evicted = victim
            }
            lastID += 1
            members[lastID] = Member(channel: channel, spare: .waiting, generation: 0)
            queues[Spare.waiting.rawValue].entries.append((lastID, 0))
            open.set(Double(members.count))
            return (lastID, evicted)
        }
        if let evicted {
            closed(.evicted)
            evicted.close(promise: nil)
        }
        if id == nil { closed(.refused) } else { accepted.increment() }
        return id
    }

    /// A connection's request started (`nil`: it may not be closed for
    /// room) or ended.
    func mark(_ id: UInt64, spare: Spare?) {
        lock.withLock {
            guard var member = members[id], member.spare != spare else { return }
            member.generation += 1
            member.spare = spare
            members[id] = member
            guard let spare else { return }
            queues[spare.rawValue].entries.append((id, member.generation))
            if queues[spare.rawValue].count > 2 * members.count + 1024 { compact(spare) }
        }
    }

    /// A connection closed, whoever closed it.
    func leave(_ id: UInt64) {
        lock.withLock {
            guard members.removeValue(forKey: id) != nil else { return }
            open.set(Double(members.count))
        }
    }

    /// Counts a closing by the server, and warns (now and then) when the
    /// limit made it close connections.
    func closed(_ reason: Closing) {
        closings[reason]?.increment()
        guard reason == .evicted || reason == .refused else { return }
        let report: [Closing: Int]? = lock.withLock {
            unreported[reason, default: 0] += 1
            let now = NIODeadline.now()
            if let lastWarning, now - lastWarning < Self.warningInterval { return nil }
            lastWarning = now
            defer { unreported = [:] }
            return unreported
        }
        if let report {
            logger.warning("Connection limit reached: closing idle connections to make room",
                           metadata: ["connections.limit": "\(limit)", "connections.evicted": "\(report[.evicted] ?? 0)",
                                      "connections.refused": "\(report[.refused] ?? 0)"])
        }
    }

    /// Connections served now.
    public var count: Int { lock.withLock { members.count } }

    /// The connection to close for room: the longest waiting, then the
    /// oldest stream. Removed from the members here; called with the lock held.
    private func takeSpare() -> (any Channel)? {
        for spare in Spare.allCases {
            var queue = queues[spare.rawValue]
            defer { queues[spare.rawValue] = queue }
            while queue.head < queue.entries.count {
                let entry = queue.entries[queue.head]
                queue.head += 1
                if let member = members[entry.id], member.spare == spare, member.generation == entry.generation {
                    members.removeValue(forKey: entry.id)
                    if queue.head > 1024 && queue.head * 2 > queue.entries.count {
                        queue.entries.removeFirst(queue.head)
                        queue.head = 0
                    }
                    return member.channel
                }
            }
            queue = SpareQueue()
        }
        return nil
    }

    /// Drops the stale entries of a queue; called with the lock held.
    private func compact(_ spare: Spare) {
        let queue = queues[spare.rawValue]
        queues[spare.rawValue] = SpareQueue(entries: queue.entries[queue.head...].filter { entry in
            guard let member = members[entry.id] else { return false }
            return member.spare == spare && member.generation == entry.generation
        })
    }
}
