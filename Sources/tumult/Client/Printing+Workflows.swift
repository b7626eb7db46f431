import Foundation
import TumultModel

/// What `get`, `describe` and `apply` print of workflows and status checks.
extension Printing {
    // MARK: Lists

    /// NAMESPACE? NAME ENTRY STATUS NODES AGE (+ UID ENDED when wide):
    /// STATUS is the phase (Running, Accomplished, Failed ...), NODES how
    /// many of the workflow's nodes still run.
    static func workflows(_ items: [Received<WorkflowItem>], columns: ListingColumns, now: Date) -> Listing {
        var headers = ["NAME", "ENTRY", "STATUS", "NODES", "AGE"]
        if columns.wide { headers += ["UID", "ENDED"] }
        let entries = items.map { received in
            let item = received.item
            var cells = [item.name, orNone(item.entry), orNone(item.phase ?? item.status), nodeCount(item),
                         age(since: item.createdAt, now: now)]
            if columns.wide { cells += [item.uid, item.endTime.map { age(since: $0, now: now) } ?? "<none>"] }
            return Listing.Entry(key: item.uid, cells: cells, json: received.json)
        }
        return namespaced(Listing(headers: headers, entries: entries, clockColumns: columns.wide ? [4, 6] : [4]),
                          namespaces: items.map(\.item.namespace), columns: columns)
    }

    /// `1/3 running`: the nodes still running, of all the workflow's nodes.
    static func nodeCount(_ item: WorkflowItem) -> String {
        guard let nodes = item.nodes else { return "<unknown>" }
        return "\(item.runningNodes ?? 0)/\(nodes) running"
    }

    /// NAMESPACE? NAME MODE STATUS COUNT AGE (+ VERDICT URL UID when wide).
    static func statusChecks(_ items: [Received<StatusCheckItem>], columns: ListingColumns, now: Date) -> Listing {
        var headers = ["NAME", "MODE", "STATUS", "COUNT", "AGE"]
        if columns.wide { headers += ["VERDICT", "URL", "UID"] }
        let entries = items.map { received in
            let item = received.item
            var cells = [item.name, orNone(item.mode), item.status, String(item.count ?? 0), age(since: item.createdAt, now: now)]
            if columns.wide { cells += [orNone(item.verdict), orNone(item.url), item.uid] }
            return Listing.Entry(key: item.uid, cells: cells, json: received.json)
        }
        return namespaced(Listing(headers: headers, entries: entries, clockColumns: [4]),
                          namespaces: items.map(\.item.namespace), columns: columns)
    }

    /// The text, or `<none>` when there is none.
    static func orNone(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "<none>" }
        return text
    }

    // MARK: Describe

    /// How many of a workflow's or status check's latest events `describe` asks for.
    static let workflowEventsShown = 20
    /// How many of a status check's latest probes `describe` shows.
    static let statusCheckRecordsShown = 10

    /// `tumult describe workflow/NAME`: the workflow's fields, its nodes as
    /// a tree, then its events (given newest first, as the server sends them).
    static func describe(_ detail: WorkflowDetail, events: [Event], now: Date) -> String {
        let item = detail.item
        let object = detail.kubeObject
        var fields: [(String, String)] = [
            ("Name", item.name),
            ("Namespace", item.namespace),
            ("UID", item.uid),
            ("Entry", orNone(item.entry)),
            ("Status", item.status),
        ]
        if let phase = item.phase, !phase.isEmpty { fields.append(("Phase", phase)) }
        fields.append(("Created", timestampWithAge(item.createdAt ?? object?.metadata?.creationTimestamp, now: now)))
        fields.append(("End Time", timestampWithAge(item.endTime ?? object?.status?.endTime, now: now)))
        if detail.archived == true { fields.append(("Archived", "true")) }
        if let schedule = item.scheduleUID, !schedule.isEmpty { fields.append(("Schedule UID", schedule)) }
        if let labels = object?.metadata?.labels, !labels.isEmpty { fields.append(("Labels", self.labels(labels))) }
        if let annotations = object?.metadata?.annotations, !annotations.isEmpty {
            fields.append(("Annotations", self.labels(annotations)))
        }
        if let abort = object?.status?.abort {
            let words = [abort.reason.map { oneLine($0) }, abort.time.map { "at \($0)" }].compactMap { $0 }
            fields.append(("Aborted", words.isEmpty ? "true" : words.joined(separator: " ")))
        }
        if let failure = object?.status?.failure, !failure.isEmpty { fields.append(("Failure", oneLine(failure))) }
        var out = fieldLines(fields)
        out += "Nodes:\n"
        out += section(detail.nodes.isEmpty ? nil : workflowTree(detail.nodes, now: now))
        out += "Events:\n"
        out += eventsSection(events, now: now)
        return out
    }

    /// A workflow's nodes as a table whose NAME column is the tree: each
    /// node two spaces deeper than its parent. DETAILS says what there is of
    /// the deadline or the end, the task's result, the branches' results and
    /// the node's message.
    static func workflowTree(_ nodes: [WorkflowDetail.Node], now: Date) -> TextTable {
        TextTable(headers: ["NAME", "TYPE", "PHASE", "STARTED", "DETAILS"], rows: treeOrder(nodes).map { entry in
            let node = entry.node
            return [String(repeating: "  ", count: entry.depth) + node.name, orNone(node.templateType), orNone(node.phase),
                    age(since: node.startedAt, now: now), nodeDetails(node, now: now)]
        })
    }

    /// The nodes in tree order, each with its depth: the entry node (and any
    /// node whose parent is not listed) with every node below it; a node's
    /// children in the order it lists them (a Serial's or Parallel's
    /// children, a Task's branches), then the others it started, by start.
    static func treeOrder(_ nodes: [WorkflowDetail.Node]) -> [(node: WorkflowDetail.Node, depth: Int)] {
        var positions: [String: Int] = [:]
        for (position, node) in nodes.enumerated() where positions[node.name] == nil {
            positions[node.name] = position
        }
        var started: [String: [Int]] = [:]
        for (position, node) in nodes.enumerated() {
            if let parent = node.parent, positions[parent] != nil { started[parent, default: []].append(position) }
        }
        let starts = nodes.map { node in node.startedAt.flatMap { Self.date(from: $0) } ?? .distantPast }
        var ordered: [(node: WorkflowDetail.Node, depth: Int)] = []
        var placed = Set<Int>()
        func place(_ position: Int, depth: Int) {
            guard placed.insert(position).inserted else { return }
            let node = nodes[position]
            ordered.append((node: node, depth: depth))
            let listed = node.listedChildren.compactMap { positions[$0] }
            let others = (started[node.name] ?? []).filter { !listed.contains($0) }.sorted { first, second in
                starts[first] != starts[second] ? starts[first] < starts[second] : first < second
            }
            for child in listed + others { place(child, depth: depth + 1) }
        }
        for (position, node) in nodes.enumerated() where node.parent.map({ positions[$0] == nil }) ?? true {
            place(position, depth: 0)
        }
        // Nodes only reachable through a loop of parents: at the top, rather than lost.
        for position in nodes.indices { place(position, depth: 0) }
        return ordered
    }

    /// `finished 2m ago; exit code 0, stdout "ok"`: what there is to say of
    /// one node besides its name, type and phase.
    static func nodeDetails(_ node: WorkflowDetail.Node, now: Date) -> String {
        var parts: [String] = []
        if let finished = node.finishedAt {
            parts.append("finished \(age(since: finished, now: now)) ago")
        } else if let deadline = node.deadline {
            parts.append(deadlineText(deadline, now: now))
        }
        if let result = node.taskResult {
            var text = "exit code \(result.exitCode.map(String.init) ?? "<unknown>")"
            let stdout = oneLine(result.stdout ?? "")
            if !stdout.isEmpty { text += ", stdout \"\(shortened(stdout, to: 60))\"" }
            parts.append(text)
        }
        if let branches = node.conditionalBranches, !branches.isEmpty {
            parts.append("branches " + branches.map { branch in
                var text = "\(branch.target)=\(branch.evaluationResult ?? "Unknown")"
                if let message = branch.message, !message.isEmpty { text += " (\(oneLine(message)))" }
                return text
            }.joined(separator: ", "))
        }
        if let message = node.message, !message.isEmpty { parts.append("message: \(oneLine(message))") }
        return parts.joined(separator: "; ")
    }

    /// `deadline in 30s`, or `deadline passed 5s ago`.
    static func deadlineText(_ deadline: String, now: Date) -> String {
        guard let moment = date(from: deadline) else { return "deadline \(deadline)" }
        let remaining = moment.timeIntervalSince(now)
        return remaining >= 0 ? "deadline in \(humanDuration(remaining))" : "deadline passed \(humanDuration(-remaining)) ago"
    }

    /// The first `length` characters of `text`, with `...` when cut.
    static func shortened(_ text: String, to length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length - 3)) + "..."
    }

    /// `2024-05-01T11:57:00Z (3m ago)`, or `<none>`.
    static func timestampWithAge(_ timestamp: String?, now: Date) -> String {
        guard let timestamp, !timestamp.isEmpty else { return "<none>" }
        return "\(timestamp) (\(age(since: timestamp, now: now)) ago)"
    }

    /// `tumult describe statuscheck/NAME`: its fields, its latest probes,
    /// its conditions, then its events (given newest first).
    static func describe(_ detail: StatusCheckDetail, events: [Event], now: Date) -> String {
        let item = detail.item
        let metadata = detail.kubeObject?.metadata
        let status = detail.kubeObject?.status
        var fields: [(String, String)] = [
            ("Name", item.name),
            ("Namespace", item.namespace),
            ("UID", item.uid),
            ("Mode", orNone(item.mode)),
            ("URL", orNone(item.url)),
            ("Status", item.status),
            ("Verdict", orNone(item.verdict)),
            ("Count", String(item.count ?? status?.count ?? 0)),
        ]
        if let workflow = item.workflowUID, !workflow.isEmpty { fields.append(("Workflow UID", workflow)) }
        fields.append(("Created", timestampWithAge(item.createdAt ?? metadata?.creationTimestamp, now: now)))
        if let start = status?.startTime { fields.append(("Start Time", timestampWithAge(start, now: now))) }
        fields.append(("Completion Time", timestampWithAge(status?.completionTime, now: now)))
        if let labels = metadata?.labels, !labels.isEmpty { fields.append(("Labels", self.labels(labels))) }
        if let annotations = metadata?.annotations, !annotations.isEmpty {
            fields.append(("Annotations", self.labels(annotations)))
        }
        var out = fieldLines(fields)

        // Records are kept oldest first: the last ones are the latest.
        let records = status?.records ?? []
        let shown = records.suffix(statusCheckRecordsShown)
        out += records.count > shown.count ? "Records (latest \(shown.count) of \(records.count)):\n" : "Records:\n"
        out += section(shown.isEmpty ? nil : TextTable(
            headers: ["AGE", "OUTCOME", "STATUS CODE", "MESSAGE"],
            rows: shown.map { record in
                [age(since: record.startTime, now: now), record.outcome ?? "", record.statusCode.map(String.init) ?? "",
                 oneLine(record.message ?? "")]
            }))

        let conditions = status?.conditions ?? []
        out += "Conditions:\n"
        out += section(conditions.isEmpty ? nil : TextTable(
            headers: ["TYPE", "STATUS", "REASON", "LAST TRANSITION"],
            rows: conditions.map { condition in
                [condition.type, condition.status, condition.reason ?? "",
                 condition.lastTransitionTime.map { age(since: $0, now: now) } ?? ""]
            }))

        out += "Events:\n"
        out += eventsSection(events, now: now)
        return out
    }

    // MARK: Results

    /// `workflow.chaos-mesh.org/steady created`: kubectl's words for a
    /// Workflow or a StatusCheck, whose answers carry no `kind`; other kinds
    /// as `applied(_:fallbackKind:)` says them.
    static func applied(_ detail: ExperimentDetail, documentKind: ChaosKind?, fallbackKind: String,
                        fallbackName: String) -> String {
        guard let documentKind, documentKind == .workflow || documentKind == .statusCheck else {
            return applied(detail, fallbackKind: fallbackKind)
        }
        let name = detail.item.name.isEmpty ? fallbackName : detail.item.name
        return "\(documentKind.rawValue.lowercased()).\(documentKind.group)/\(name) \(detail.result ?? "applied")"
    }
}
