import Foundation
@testable import TumultController
import TumultModel

/// Stands in for the controller around `WorkflowEngine` in tests: carries
/// out the engine's actions the way a host would (experiments inject at
/// once, one-shot ones finish, tasks run for a second and answer like their
/// command, status checks answer as told) and reports them back as
/// `observed`. Time is a manual clock: `run` jumps from one wake-up or host
/// event to the next.
struct WorkflowHost {
    var observed: [String: LeafObservation] = [:]
    /// Every start and stop, in order, with the seconds since `origin`.
    private(set) var log: [(seconds: Double, action: WorkflowAction)] = []
    var origin: Date
    /// How long a task runs.
    var taskSeconds: Double = 1
    /// How a status check ends and after how long; nil: it runs until stopped.
    var statusCheck: (StatusCheckSpec) -> (seconds: Double, outcome: LeafObservation.StatusCheckProgress)? = { spec in
        spec.mode == .continuous ? nil : (1, .succeeded)
    }
    /// What a task's run gives; by default what its command would print.
    var task: (WorkflowTask) -> (exitCode: Int, stdout: String) = WorkflowHost.simulate
    private var pending: [(at: Date, node: String, observation: LeafObservation)] = []
    private var nextUID = 0

    init(origin: Date) {
        self.origin = origin
    }

    /// `echo words` prints them, `sh -c "exit N"` exits with N, the rest succeeds silently.
    static func simulate(_ task: WorkflowTask) -> (exitCode: Int, stdout: String) {
        guard case .array(let parts)? = task.container?.objectValue?["command"] else { return (0, "") }
        let words = parts.compactMap(\.stringValue)
        if words.first == "echo" { return (0, words.dropFirst().joined(separator: " ") + "\n") }
        if words.count == 3, words[0] == "sh", words[1] == "-c", words[2].hasPrefix("exit ") {
            return (Int(words[2].dropFirst(5)) ?? 1, "")
        }
        return (0, "")
    }

    mutating func perform(_ actions: [WorkflowAction], at now: Date) {
        for action in actions {
            if case .wake = action { continue }
            log.append((now.timeIntervalSince(origin), action))
            switch action {
            case .createChaos(let node, let document):
                nextUID += 1
                observed[node] = .chaos(uid: "uid-\(nextUID)", document.spec.isOneShot ? .finished : .injected)
            case .createSchedule(let node, _):
                nextUID += 1
                observed[node] = .schedule(uid: "uid-\(nextUID)")
            case .runTask(let node, _, let task):
                observed[node] = .task(.running)
                let result = self.task(task)
                pending.append((now.addingTimeInterval(taskSeconds), node,
                                .task(.exited(exitCode: result.exitCode, stdout: result.stdout))))
            case .startStatusCheck(let node, let document):
                observed[node] = .statusCheck(.running)
                if let spec = document.spec as? StatusCheckSpec, let answer = statusCheck(spec) {
                    pending.append((now.addingTimeInterval(answer.seconds), node, .statusCheck(answer.outcome)))
                }
            case .deleteChaos(let node, _), .deleteSchedule(let node, _), .stopTask(let node),
                 .stopStatusCheck(let node):
                observed[node] = nil
                pending.removeAll { $0.node == node }
            case .wake:
                break
            }
        }
    }

    /// Applies the host events due by `now`; true if there were any.
    mutating func deliver(upTo now: Date) -> Bool {
        let due = pending.filter { $0.at <= now }
        pending.removeAll { $0.at <= now }
        for event in due { observed[event.node] = event.observation }
        return !due.isEmpty
    }

    var nextEvent: Date? { pending.map(\.at).min() }

    /// The log as `+template@seconds` (started) and `-template@seconds` (stopped).
    var timeline: [String] {
        log.map { entry in
            let template = Self.template(of: entry.action.node ?? "")
            return "\(entry.action.isStop ? "-" : "+")\(template)@\(Self.format(entry.seconds))"
        }
    }

    static func template(of node: String) -> String {
        node.lastIndex(of: "-").map { String(node[..<$0]) } ?? node
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

/// Runs a workflow with a host until it settles (or `until`), returning when it stopped.
@discardableResult
func drive(_ state: inout WorkflowState, _ spec: WorkflowSpec, host: inout WorkflowHost, from start: Date,
           until end: Date? = nil, generator: inout SplitMix64) -> Date {
    var now = start
    for _ in 0..<1000 {
        _ = host.deliver(upTo: now)
        let actions = WorkflowEngine.advance(&state, spec: spec, at: now, observed: host.observed, using: &generator)
        host.perform(actions, at: now)
        if actions.contains(where: { $0.node != nil }) || host.nextEvent.map({ $0 <= now }) == true { continue }
        if WorkflowEngine.isSettled(state, observed: host.observed) { return now }
        let wake = actions.compactMap { action -> Date? in
            if case .wake(let at) = action { return at }
            return nil
        }.first
        guard let next = [wake, host.nextEvent].compactMap({ $0 }).min() else { return now }
        if let end, next > end { return end }
        now = next
    }
    return now
}

/// The Workflow spec of a YAML document, checked as `tumult apply` checks it.
func workflowSpec(_ yaml: String) throws -> WorkflowSpec {
    let reports = try DocumentLoader().load(yaml)
    guard let document = reports.first?.document, let spec = document.spec as? WorkflowSpec else {
        throw WorkflowTestError("not a valid Workflow: \(reports.first?.diagnostics.items ?? [])")
    }
    return spec
}

/// A Workflow document around `templates` (YAML list items written from column 0).
func workflowYAML(entry: String = "entry", _ templates: String) -> String {
    let indented = templates.split(separator: "\n", omittingEmptySubsequences: false)
        .map { "    " + $0 }.joined(separator: "\n")
    return """
    apiVersion: chaos-mesh.org/v1alpha1
    kind: Workflow
    metadata:
      name: test-workflow
      namespace: chaos
    spec:
      entry: \(entry)
      templates:
    \(indented)
    """
}

struct WorkflowTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
