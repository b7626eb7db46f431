import Foundation
import Hummingbird
import NIOCore
import Synchronization
import TumultController

/// `GET /api/experiments` kept between requests: each experiment's list
/// item is encoded once, and an answer is those bytes joined, so that 500
/// experiments cost a copy per request instead of 500 encodings (and 500
/// record copies out of the controller).
///
/// It never serves a stale item:
/// - The controller counts every change to its experiments
///   (`experimentsRevision`) and hands its records over only when that count
///   moved; an item is encoded again when its record is not the one it was
///   built from.
/// - An item's status also depends on the time, and on nothing else outside
///   the record: `ExperimentRecord.status(at:)` reads the clock only through
///   `desiredPhase(at:)`, that is whether the moment is past the record's
///   `endsAt`. So the statuses computed at one moment hold from the latest
///   `endsAt` at or before it to the earliest one after it; a request
///   outside that window computes them again and re-encodes the items whose
///   status changed.
///
/// The bytes are exactly what encoding the whole `[ExperimentItem]` with
/// `JSONResponse.encoder` gives (sorted keys, ISO 8601 dates): its array is
/// its elements' encodings joined by commas.
final class ExperimentListCache: Sendable {
    /// The list's query (`?namespace=&name=&kind=&status=`): every field
    /// given must equal the item's.
    struct Filter: Sendable, Equatable {
        var namespace: String?
        var name: String?
        var kind: String?
        var status: String?

        var isEmpty: Bool { namespace == nil && name == nil && kind == nil && status == nil }

        func admits(_ item: ExperimentItem) -> Bool {
            (namespace == nil || item.namespace == namespace) && (name == nil || item.name == name)
                && (kind == nil || item.kind == kind) && (status == nil || item.status == status)
        }
    }

    /// One experiment: the record its item was built from, the item, its JSON.
    struct Entry: Sendable {
        var record: ExperimentRecord
        var item: ExperimentItem
        var bytes: [UInt8]

        init(_ record: ExperimentRecord, at moment: Date) {
            self.record = record
            item = ExperimentItem(record, at: moment)
            bytes = Self.encode(item)
        }

        static func encode(_ item: ExperimentItem) -> [UInt8] {
            // An item is strings and a date: encoding it cannot fail.
            Array((try? JSONResponse.encoder.encode(item)) ?? Data("{}".utf8))
        }
    }

    struct State: Sendable {
        /// The controller's `experimentsRevision` the entries are at; nil before the first request.
        var revision: UInt64?
        /// Oldest first, as `Controller.allExperiments()` orders them.
        var entries: [Entry] = []
        /// The moments the entries' statuses hold for: `validFrom..<validUntil`.
        var validFrom = Date.distantFuture
        var validUntil = Date.distantPast
        /// The whole unfiltered answer, joined at its first request.
        var body: ByteBuffer?

        /// Takes the controller's records: unchanged ones keep their bytes.
        mutating func update(_ records: [ExperimentRecord], revision: UInt64, at moment: Date) {
            var previous: [String: Entry] = [:]
            previous.reserveCapacity(entries.count)
            for entry in entries { previous[entry.record.uid] = entry }
            entries = records.map { record in
                if let entry = previous[record.uid], entry.record == record { return entry }
                return Entry(record, at: moment)
            }
            self.revision = revision
            refresh(at: moment)
        }

        /// Statuses at `moment`, re-encoding the items whose status changed,
        /// and the window they hold for.
        mutating func refresh(at moment: Date) {
            var from = Date.distantPast, until = Date.distantFuture
            for index in entries.indices {
                let status = entries[index].record.status(at: moment).rawValue
                if status != entries[index].item.status {
                    entries[index].item.status = status
                    entries[index].bytes = Entry.encode(entries[index].item)
                }
                guard let end = entries[index].record.endsAt else { continue }
                if end <= moment { from = max(from, end) } else { until = min(until, end) }
            }
            validFrom = from
            validUntil = until
            body = nil
        }
    }

    private let state = Mutex(State())

    /// The revision to ask the controller for changes since.
    var revision: UInt64? { state.withLock { $0.revision } }

    /// The answer for `filter` from a controller snapshot
    /// (`Controller.experimentsSnapshot(changedSince: revision)`): records
    /// at `revision`, or nil when nothing changed since `self.revision`, and
    /// the controller's now.
    func body(revision: UInt64, records: [ExperimentRecord]?, at moment: Date, filter: Filter) -> ByteBuffer {
        let (whole, entries) = state.withLock { state -> (ByteBuffer?, [Entry]) in
            // A snapshot older than the entries (a slower request) is not taken: the entries are newer.
            if let records, state.revision.map({ revision > $0 }) ?? true {
                state.update(records, revision: revision, at: moment)
            }
            if !(state.validFrom <= moment && moment < state.validUntil) {
                state.refresh(at: moment)
            }
            guard filter.isEmpty else { return (nil, state.entries) }
            if state.body == nil { state.body = Self.join(state.entries[...]) }
            return (state.body, [])
        }
        // Filtered answers are joined outside the lock, from the entries' copy-on-write array.
        return whole ?? Self.join(entries.lazy.filter { filter.admits($0.item) })
    }

    /// The answer `JSONResponse.make` would give for the items.
    func response(revision: UInt64, records: [ExperimentRecord]?, at moment: Date, filter: Filter) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: body(revision: revision, records: records, at: moment, filter: filter)))
    }

    /// `[item,item,...]`.
    static func join(_ entries: some Collection<Entry>) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: entries.reduce(2) { $0 + $1.bytes.count + 1 })
        buffer.writeInteger(UInt8(ascii: "["))
        var first = true
        for entry in entries {
            if !first { buffer.writeInteger(UInt8(ascii: ",")) }
            first = false
            buffer.writeBytes(entry.bytes)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
        return buffer
    }
}
