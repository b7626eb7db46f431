import Foundation
import TumultModel

/// Columns aligned the way kubectl aligns them (Go's tabwriter with a
/// padding of three): every column as wide as its widest cell plus three
/// spaces, the last one not padded.
struct TextTable: Sendable, Equatable {
    var headers: [String]
    var rows: [[String]]

    static let padding = 3

    func render() -> String {
        let widths = Self.widths(of: [headers] + rows)
        return ([headers] + rows).map { Self.line($0, widths: widths) + "\n" }.joined()
    }

    /// The width of each column: its widest cell.
    static func widths(of lines: [[String]]) -> [Int] {
        lines.reduce([]) { widths($0, fitting: $1) }
    }

    /// `widths` grown where `row` needs more room.
    static func widths(_ widths: [Int], fitting row: [String]) -> [Int] {
        var grown = widths
        for (column, cell) in row.enumerated() {
            if column == grown.count { grown.append(0) }
            grown[column] = max(grown[column], cell.count)
        }
        return grown
    }

    static func line(_ cells: [String], widths: [Int]) -> String {
        var text = ""
        for (column, cell) in cells.enumerated() {
            text += cell
            if column < cells.count - 1 {
                let width = column < widths.count ? widths[column] : cell.count
                text += String(repeating: " ", count: max(0, width - cell.count) + padding)
            }
        }
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
}

/// What `tumult get` shows of one resource: a row per object, each with the
/// JSON it came from.
struct Listing: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        /// What identifies the object across polls (`uid`, event id, pod id).
        var key: String
        var cells: [String]
        var json: Value
    }

    var headers: [String]
    var entries: [Entry]
    /// Columns that change with the clock alone (AGE): `-w` does not print a
    /// row again because of them.
    var clockColumns: Set<Int> = []

    var table: TextTable { TextTable(headers: headers, rows: entries.map(\.cells)) }
}

/// `-w`: remembers what was printed and tells which entries changed since,
/// as kubectl's watch prints only objects that changed.
struct WatchState: Sendable {
    private var shown: [String: [String]] = [:]
    private var shownJSON: [String: Value] = [:]

    /// Entries new since the last call, or changed in a column that does not
    /// move with the clock alone. The first call returns them all.
    mutating func changes(in listing: Listing) -> [Listing.Entry] {
        var changed: [Listing.Entry] = []
        for entry in listing.entries {
            let stable = entry.cells.enumerated().filter { !listing.clockColumns.contains($0.offset) }.map(\.element)
            if shown[entry.key] != stable || shownJSON[entry.key] != entry.json {
                changed.append(entry)
                shown[entry.key] = stable
                shownJSON[entry.key] = entry.json
            }
        }
        return changed
    }
}

/// How `tumult get` lays a list out.
struct ListingColumns: Sendable, Equatable {
    /// `-A`: a NAMESPACE column first.
    var allNamespaces = false
    /// `-o wide`: extra columns at the end.
    var wide = false
}

/// Pure functions from the API's values to the text the CLI prints.
enum Printing {
    // MARK: Lists

    /// NAMESPACE? NAME KIND STATUS AGE (+ UID ACTION when wide).
    static func experiments(_ items: [Received<ExperimentItem>], columns: ListingColumns, now: Date) -> Listing {
        var headers = ["NAME", "KIND", "STATUS", "AGE"]
        if columns.wide { headers += ["UID", "ACTION"] }
        let entries = items.map { received in
            let item = received.item
            var cells = [item.name, item.kind, item.status, age(since: item.createdAt, now: now)]
            if columns.wide { cells += [item.uid, item.action ?? "<none>"] }
            return Listing.Entry(key: item.uid, cells: cells, json: received.json)
        }
        return namespaced(Listing(headers: headers, entries: entries, clockColumns: [3]),
                          namespaces: items.map(\.item.namespace), columns: columns)
    }

    /// NAMESPACE? NAME TYPE SCHEDULE STATUS AGE (+ UID when wide): a
    /// schedule's kind is always Schedule, so the kind it runs shows instead.
    static func schedules(_ items: [Received<ExperimentItem>], columns: ListingColumns, now: Date) -> Listing {
        var headers = ["NAME", "TYPE", "SCHEDULE", "STATUS", "AGE"]
        if columns.wide { headers += ["UID"] }
        let entries = items.map { received in
            let item = received.item
            var cells = [item.name, item.type ?? "<none>", item.schedule ?? "<none>", item.status,
                         age(since: item.createdAt, now: now)]
            if columns.wide { cells += [item.uid] }
            return Listing.Entry(key: item.uid, cells: cells, json: received.json)
        }
        return namespaced(Listing(headers: headers, entries: entries, clockColumns: [4]),
                          namespaces: items.map(\.item.namespace), columns: columns)
    }

    /// NAMESPACE? NAME KIND STARTED FINISHED (+ UID ACTION when wide); the
    /// times are ages, as kubectl prints them.
    static func archives(_ items: [Received<ArchiveItem>], columns: ListingColumns, now: Date) -> Listing {
        var headers = ["NAME", "KIND", "STARTED", "FINISHED"]
        if columns.wide { headers += ["UID", "ACTION"] }
        let entries = items.map { received in
            let item = received.item
            var cells = [item.name, item.kind, age(since: item.startTime, now: now), age(since: item.finishTime, now: now)]
            if columns.wide { cells += [item.uid, item.action ?? "<none>"] }
            return Listing.Entry(key: item.uid, cells: cells, json: received.json)
        }
        return namespaced(Listing(headers: headers, entries: entries, clockColumns: [2, 3]),
                          namespaces: items.map(\.item.namespace), columns: columns)
    }

    /// NAMESPACE? AGE TYPE REASON OBJECT MESSAGE (+ OBJECT UID when wide),
    /// oldest first so that a watch appends newer ones below. The server
    /// answers newest first.
    static func events(_ items: [Received<Event>], columns: ListingColumns, now: Date) -> Listing {
        var headers = ["AGE", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        if columns.wide { headers += ["OBJECT UID"] }
        let chronological = Array(items.reversed())
        let entries = chronological.map { received in
            let event = received.item
            var cells = [age(since: event.createdAt, now: now), event.type ?? "<none>", event.reason ?? "<none>",
                         object(kind: event.kind, name: event.name), oneLine(event.message ?? "")]
            if columns.wide { cells += [event.objectID ?? "<none>"] }
            return Listing.Entry(key: event.id, cells: cells, json: received.json)
        }
        return namespaced(Listing(headers: headers, entries: entries, clockColumns: [0]),
                          namespaces: chronological.map { $0.item.namespace ?? "" }, columns: columns)
    }

    /// NAMESPACE NAME NODE NETNS IPS LABELS (+ PID SOURCE PHASE when wide):
    /// the inventory spans namespaces, so the column is always there; NODE
    /// is the machine of the fleet the pod is on.
    static func pods(_ items: [Received<Pod>], columns: ListingColumns) -> Listing {
        var headers = ["NAMESPACE", "NAME", "NODE", "NETNS", "IPS", "LABELS"]
        if columns.wide { headers += ["PID", "SOURCE", "PHASE"] }
        let entries = items.map { received in
            let pod = received.item
            var cells = [pod.namespace, pod.name, pod.nodeName, pod.netns ?? "<none>",
                         pod.ips.isEmpty ? "<none>" : pod.ips.joined(separator: ","), labels(pod.labels)]
            if columns.wide {
                cells += [pod.pid.map(String.init) ?? "<none>", pod.source.rawValue, pod.phase]
            }
            return Listing.Entry(key: "\(pod.nodeName)/\(pod.id)", cells: cells, json: received.json)
        }
        return Listing(headers: headers, entries: entries)
    }

    /// NAME ADDRESS SOURCE STATUS FAULTS LABELS (+ NAMESPACE LAST-SEEN ERROR when wide):
    /// every machine of the fleet, this host first.
    static func machines(_ items: [Received<MachineItem>], columns: ListingColumns) -> Listing {
        var headers = ["NAME", "ADDRESS", "SOURCE", "STATUS", "FAULTS", "LABELS"]
        if columns.wide { headers += ["NAMESPACE", "LAST-SEEN", "ERROR"] }
        let entries = items.map { received in
            let machine = received.item
            let status = !machine.reachable ? "Unreachable" : machine.halted == true ? "Halted" : "Ready"
            var cells = [machine.name, machine.address.isEmpty ? "<this host>" : machine.address, machine.source, status,
                         machine.activeAttacks.map(String.init) ?? "<unknown>", labels(machine.labels)]
            if columns.wide {
                cells += [machine.namespace, machine.lastSeen ?? "<never>", machine.error ?? "<none>"]
            }
            return Listing.Entry(key: machine.name, cells: cells, json: received.json)
        }
        return Listing(headers: headers, entries: entries)
    }

    /// Puts a NAMESPACE column first when listing every namespace.
    static func namespaced(_ listing: Listing, namespaces: [String], columns: ListingColumns) -> Listing {
        guard columns.allNamespaces else { return listing }
        var copy = listing
        copy.headers.insert("NAMESPACE", at: 0)
        for index in copy.entries.indices { copy.entries[index].cells.insert(namespaces[index], at: 0) }
        copy.clockColumns = Set(listing.clockColumns.map { $0 + 1 })
        return copy
    }

    /// `app=web,tier=front`, sorted; `<none>` when empty.
    static func labels(_ labels: [String: String]) -> String {
        labels.isEmpty ? "<none>" : labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// `networkchaos/web-delay`, kubectl's way to name an object.
    static func object(kind: String?, name: String?) -> String {
        let kindText = (kind ?? "").lowercased()
        let nameText = name ?? ""
        if kindText.isEmpty { return nameText.isEmpty ? "<none>" : nameText }
        return "\(kindText)/\(nameText)"
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    // MARK: Times

    /// kubectl's AGE of a timestamp: `<unknown>` when there is none.
    static func age(since timestamp: String?, now: Date) -> String {
        guard let timestamp, let date = date(from: timestamp) else { return "<unknown>" }
        return humanDuration(now.timeIntervalSince(date))
    }

    /// kubectl's `duration.HumanDuration`: `45s`, `3m20s`, `15m`, `2h30m`,
    /// `20h`, `4d5h`, `30d`, `2y10d`. Clocks a second apart still read `0s`.
    static func humanDuration(_ interval: TimeInterval) -> String {
        let seconds = Int(interval.rounded(.towardZero))
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 60 * 2 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            let remainder = seconds % 60
            return remainder == 0 ? "\(minutes)m" : "\(minutes)m\(remainder)s"
        }
        if minutes < 60 * 3 { return "\(minutes)m" }
        let hours = minutes / 60
        if hours < 8 {
            let remainder = minutes % 60
            return remainder == 0 ? "\(hours)h" : "\(hours)h\(remainder)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let remainder = hours % 24
            return remainder == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(remainder)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let days = (hours / 24) % 365
            return days == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(days)d"
        }
        return "\(hours / 24 / 365)y"
    }

    /// An RFC 3339 timestamp, with or without fractional seconds.
    static func date(from text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }

    // MARK: Documents

    /// Pretty JSON of a tree, in its key order.
    static func json(_ value: Value) -> String {
        // One document is printed as itself (a list stays a list).
        DocumentText.json([value])
    }

    /// YAML of a tree.
    static func yaml(_ value: Value) throws -> String {
        try DocumentText.yaml([value])
    }

    /// Every line of `text` indented by `spaces`.
    static func indented(_ text: String, by spaces: Int) -> String {
        let pad = String(repeating: " ", count: spaces)
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : pad + $0 }
            .joined(separator: "\n")
    }

    // MARK: Describe

    /// How many of each record's latest events `describe` shows.
    static let recordEventsShown = 5

    /// `tumult describe`: the object's fields, conditions, per-target
    /// records and their latest events, the spec as YAML, then the object's
    /// events (given newest first, as the server sends them).
    static func describe(_ detail: ExperimentDetail, events: [Event], now: Date) -> String {
        let item = detail.item
        let object = detail.kubeObject
        var fields: [(String, String)] = [
            ("Name", item.name),
            ("Namespace", item.namespace),
            ("Kind", item.kind),
            ("UID", item.uid),
        ]
        if let type = item.type { fields.append(("Type", type)) }
        if let schedule = item.schedule { fields.append(("Schedule", schedule)) }
        if let action = item.action, !action.isEmpty { fields.append(("Action", action)) }
        if let created = item.createdAt ?? object?.metadata?.creationTimestamp {
            fields.append(("Created", "\(created) (\(age(since: created, now: now)) ago)"))
        }
        fields.append(("Status", item.status))
        if let phase = object?.status?.experiment?.desiredPhase { fields.append(("Desired Phase", phase)) }
        if let labels = object?.metadata?.labels, !labels.isEmpty { fields.append(("Labels", self.labels(labels))) }
        if let annotations = object?.metadata?.annotations, !annotations.isEmpty {
            fields.append(("Annotations", self.labels(annotations)))
        }
        if let runs = detail.experimentUIDs { fields.append(("Runs", runs.isEmpty ? "<none>" : runs.joined(separator: ", "))) }
        var out = fieldLines(fields)

        let conditions = object?.status?.conditions ?? []
        out += "Conditions:\n"
        out += section(conditions.isEmpty ? nil : TextTable(
            headers: ["TYPE", "STATUS", "REASON", "MESSAGE"],
            rows: conditions.map { [$0.type, $0.status, $0.reason ?? "", oneLine($0.message ?? "")] }))

        let records = object?.status?.experiment?.containerRecords ?? []
        out += "Records:\n"
        out += section(records.isEmpty ? nil : TextTable(
            headers: ["ID", "HOST", "PHASE", "INJECTED", "RECOVERED"],
            rows: records.map { [$0.id, $0.nodeName ?? "<none>", $0.phase ?? "<none>", String($0.injectedCount ?? 0),
                                 String($0.recoveredCount ?? 0)] }))
        let recordEvents = records.flatMap { record in
            (record.events ?? []).suffix(recordEventsShown).map { event in
                [record.id, age(since: event.timestamp, now: now), event.type ?? "", event.operation ?? "",
                 oneLine(event.message ?? "")]
            }
        }
        if !recordEvents.isEmpty {
            out += "Record Events (latest \(recordEventsShown) of each):\n"
            out += section(TextTable(headers: ["RECORD", "AGE", "TYPE", "OPERATION", "MESSAGE"], rows: recordEvents))
        }

        out += "Spec:\n"
        if let spec = object?.spec, spec != .null, let text = try? yaml(spec) {
            out += indented(text.hasSuffix("\n") ? String(text.dropLast()) : text, by: 2) + "\n"
        } else {
            out += "  <none>\n"
        }

        out += "Events:\n"
        out += eventsSection(events, now: now)
        return out
    }

    /// A table indented under its heading, or `<none>`.
    static func section(_ table: TextTable?) -> String {
        guard let table else { return "  <none>\n" }
        return indented(table.render(), by: 2)
    }

    /// `Label:  value` lines: values two spaces after the longest label, as kubectl describe aligns them.
    static func fieldLines(_ fields: [(String, String)]) -> String {
        let labelWidth = (fields.map(\.0.count).max() ?? 0) + 1 + 2
        return fields.map { label, value in
            (label + ":").padding(toLength: labelWidth, withPad: " ", startingAt: 0) + value + "\n"
        }.joined()
    }

    /// An object's events under `Events:`, oldest first; `events` come
    /// newest first, as the server sends them.
    static func eventsSection(_ events: [Event], now: Date) -> String {
        section(events.isEmpty ? nil : TextTable(
            headers: ["AGE", "TYPE", "REASON", "MESSAGE"],
            rows: events.reversed().map { [age(since: $0.createdAt, now: now), $0.type ?? "", $0.reason ?? "",
                                           oneLine($0.message ?? "")] }))
    }

    // MARK: Results

    /// `networkchaos/web-delay created`, as kubectl reports an apply.
    static func applied(_ detail: ExperimentDetail, fallbackKind: String) -> String {
        let kind = detail.item.kind.isEmpty ? fallbackKind : detail.item.kind
        return "\(kind.lowercased())/\(detail.item.name) \(detail.result ?? "applied")"
    }

    /// The lines of a server's refusal of one document, each prefixed with
    /// where the document came from: one line per field path, else the message.
    static func problems(_ error: ClientError, prefix: String) -> [String] {
        if error.errors.isEmpty { return ["\(prefix): \(error.message)"] }
        return error.errors.map { "\(prefix): \($0.path): \($0.message)" }
    }

    /// What `tumult halt` prints.
    static func halted(_ answer: HaltAnswer) -> String {
        let recovered = answer.recovered ?? 0
        let faults = recovered == 1 ? "fault" : "faults"
        let elapsed = answer.elapsedMilliseconds.map { " in \(milliseconds($0)) ms" } ?? ""
        return "halted: \(recovered) \(faults) recovered\(elapsed); new injections are refused until tumult unhalt"
    }

    /// `12`, `0.4`: whole milliseconds once they are worth counting.
    static func milliseconds(_ value: Double) -> String {
        value >= 10 || value == value.rounded() ? String(Int(value.rounded())) : String(format: "%.1f", value)
    }
}
