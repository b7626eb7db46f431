import Foundation
import TumultAgent
import TumultModel

/// What `tumult server`'s API and dashboard show and change: the
/// experiments and schedules, their events, the emergency stop. On one
/// host the `Controller` holds them and injects through the agents; in a
/// cluster the operator does, and the server reads and writes the chaos
/// objects of the API server instead (`ClusterExperiments`). The server
/// never needs to know which.
public protocol ExperimentService: Sendable {
    /// The hosts (or the cluster's pods) selectors choose from: the
    /// dashboard's pod, namespace and label lists.
    var fleet: AgentFleet { get }
    /// Deleted experiments kept for the record (`/api/archives`).
    var store: any ExperimentStore { get }

    /// Begins serving: the controller restores and starts its loop; a
    /// cluster's caches list and start watching.
    func start() async
    /// Serves until cancelled: a service's body (`ControllerService`).
    func run() async
    /// Stops; `recover`: the controller recovers every fault it injected.
    func shutdown(recover: Bool) async

    /// Applies every document or none (`kubectl apply`'s words for each).
    func apply(all documents: [ChaosDocument]) async throws -> [(uid: String, result: Controller.ApplyResult)]
    /// Deletes every one of `uids` or, when one is unknown, none.
    func delete(all uids: [String]) async throws
    func delete(_ uid: String) async throws
    /// Sets or clears Chaos Mesh's pause annotation.
    func setPaused(_ uid: String, _ paused: Bool) async throws
    /// Gives a running experiment a new spec in place, its targets'
    /// connections kept where their hosts can (`Controller.reconfigure`).
    func reconfigure(_ uid: String, to document: ChaosDocument) async throws -> Controller.Reconfiguration

    func experiment(_ uid: String) async -> ExperimentRecord?
    func schedule(_ uid: String) async -> ScheduleRecord?
    /// Oldest first, the uid ordering those created at the same moment.
    func allExperiments() async -> [ExperimentRecord]
    /// `allExperiments()` only when they changed since `revision`, with the
    /// revision they are at and the clock's now.
    func experimentsSnapshot(changedSince revision: UInt64?) async -> (revision: UInt64, now: Date, records: [ExperimentRecord]?)
    func allSchedules() async -> [ScheduleRecord]
    /// Workflows not yet archived, oldest first.
    func allWorkflows() async -> [WorkflowRecord]
    func workflow(_ uid: String) async -> WorkflowRecord?
    /// StatusChecks not yet archived, oldest first.
    func allStatusChecks() async -> [StatusCheckRecord]
    func statusCheck(_ uid: String) async -> StatusCheckRecord?
    /// Newest first.
    func events(_ filter: EventFilter) async throws -> [EventRecord]
    func currentDate() async -> Date
    /// Records an event about something the host did outside experiments.
    func recordHostEvent(kind: String, uid: String, name: String, reason: String, message: String, warning: Bool) async

    /// The emergency stop.
    var halted: Bool { get async }
    /// Recovers everything and refuses new experiments; the faults recovered.
    func halt() async throws -> Int
    func unhalt() async throws

    /// A stream of changes for live views; ends at shutdown.
    func updates() async -> AsyncStream<Controller.Update>
}

extension ExperimentService {
    /// Starts, then waits for cancellation (services whose work runs in
    /// tasks of their own once started: a cluster's caches).
    public func run() async {
        await start()
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    /// A service that cannot change a running experiment in place says so.
    public func reconfigure(_ uid: String, to document: ChaosDocument) async throws -> Controller.Reconfiguration {
        throw ControllerError(.unsupported, "changing a running experiment in place is not supported here: apply the new document")
    }
}

extension Controller: ExperimentService {}

extension Controller.Update {
    /// For services other than the controller that feed live views (the
    /// synthesized memberwise initializer is internal).
    public init(_ uid: String, kind: String, status: String) {
        self.uid = uid
        self.kind = kind
        self.status = status
    }
}
