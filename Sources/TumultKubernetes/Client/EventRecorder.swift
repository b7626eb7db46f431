import Foundation
import Logging
import Synchronization
import TumultModel

/// `Normal` or `Warning`, as `kubectl get events` shows them.
public enum EventType: String, Sendable, Hashable, Codable {
    case normal = "Normal"
    case warning = "Warning"
}

/// Writes `events.k8s.io/v1` Events about objects, as client-go's event
/// recorder does: the first occurrence creates an Event, a repeat of the
/// same one (same object, reason and note) within `seriesWindow` patches
/// that Event's `series` (count, lastObservedTime) instead of adding another.
/// Events are best-effort: failures are logged, never thrown.
public final class EventRecorder: Sendable {
    public let reportingController: String
    public let reportingInstance: String
    /// How long an event stays open to being counted as a repeat.
    public static let seriesWindow: Duration = .seconds(600)
    /// The API refuses notes longer than this (bytes).
    static let noteLimit = 1024

    private let client: KubernetesClient
    private let logger: Logger
    private let recent = Mutex<[SeriesKey: Entry]>([:])

    private struct SeriesKey: Hashable {
        var object: String
        var reason: String
        var note: String
    }

    private struct Entry {
        var namespace: String
        var name: String
        var count: Int
        var opened: ContinuousClock.Instant
    }

    public init(client: KubernetesClient, reportingController: String, reportingInstance: String, logger: Logger) {
        self.client = client
        self.reportingController = reportingController
        self.reportingInstance = reportingInstance
        self.logger = logger
    }

    /// Records that `action` happened to `regarding` for `reason`. Returns once
    /// the Event is written (or writing it failed and was logged).
    public func record(regarding: ObjectReference, type: EventType, reason: String, action: String, note: String) async {
        let note = Self.truncate(note)
        let now = ContinuousClock.now
        let objectKey =
            regarding.uid ?? "\(regarding.kind ?? "")/\(regarding.namespace ?? "")/\(regarding.name ?? "")"
        let key = SeriesKey(object: objectKey, reason: reason, note: note)
        let namespace = regarding.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let entry = recent.withLock { recent -> Entry in
            recent = recent.filter { $0.value.opened.duration(to: now) < Self.seriesWindow }
            if var entry = recent[key] {
                entry.count += 1
                recent[key] = entry
                return entry
            }
            let entry = Entry(namespace: namespace, name: Self.eventName(for: regarding), count: 1, opened: now)
            recent[key] = entry
            return entry
        }
        let timestamp = MicroTime.format(Date())
        var event = EventObject(
            metadata: ObjectMeta(name: entry.name, namespace: entry.namespace), eventTime: timestamp,
            reportingController: reportingController, reportingInstance: reportingInstance, action: action,
            reason: reason, regarding: regarding, note: note, type: type.rawValue)
        let series = EventObject.Series(count: entry.count, lastObservedTime: timestamp)
        var metadata: Logger.Metadata = [
            "event.reason": "\(reason)", "event.name": "\(entry.name)", "event.count": "\(entry.count)",
        ]
        metadata["object.name"] = regarding.name.map { "\($0)" }
        do {
            if entry.count == 1 {
                _ = try await client.create(ResourceType.events, namespace: entry.namespace, event)
            } else {
                do {
                    try await patchSeries(entry, series)
                } catch let error as KubernetesError where error.isNotFound {
                    // The first write has not landed yet, or the Event expired: write it whole.
                    event.series = series
                    do {
                        _ = try await client.create(ResourceType.events, namespace: entry.namespace, event)
                    } catch let error as KubernetesError where error.isAlreadyExists {
                        try await patchSeries(entry, series)
                    }
                }
            }
        } catch {
            metadata["kubernetes.error"] = "\(error)"
            logger.warning("Cannot record event", metadata: metadata)
        }
    }

    private func patchSeries(_ entry: Entry, _ series: EventObject.Series) async throws {
        let patch = Value.object(Value.Object([
            ("series", .object(Value.Object([
                ("count", .integer(series.count)), ("lastObservedTime", .string(series.lastObservedTime)),
            ])))
        ]))
        let _: EventObject = try await client.patch(
            ResourceType.events, namespace: entry.namespace, name: entry.name, .merge(patch))
    }

    /// `<object>.<16 hex digits>`, as client-go names events.
    static func eventName(for regarding: ObjectReference) -> String {
        let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let suffix = String(repeating: "0", count: 16 - hex.count) + hex
        let base = regarding.name.flatMap { $0.isEmpty ? nil : $0 } ?? "event"
        return "\(base.prefix(253 - 17)).\(suffix)"
    }

    static func truncate(_ note: String) -> String {
        guard note.utf8.count > noteLimit else { return note }
        var result = ""
        for character in note {
            if result.utf8.count + character.utf8.count > noteLimit - 3 { break }
            result.append(character)
        }
        return result + "..."
    }
}
