import Foundation
import TumultAgent
import TumultModel

extension Controller {
    /// What `reconfigure` did to each target of a running experiment.
    public struct Reconfiguration: Sendable, Hashable {
        /// Targets (`namespace/name`) whose faults changed in place.
        public var reconfigured: [String] = []
        /// Targets whose faults could not change in place, recovered and
        /// injected with the new document instead, each with why.
        public var reinjected: [String: String] = [:]
        /// Whether the document was only stored: nothing was injected (a
        /// paused, finished or not yet started run takes it at its next injection).
        public var storedOnly: Bool { reconfigured.isEmpty && reinjected.isEmpty }

        public init(reconfigured: [String] = [], reinjected: [String: String] = [:]) {
            self.reconfigured = reconfigured
            self.reinjected = reinjected
        }
    }

    /// Gives experiment `uid` a new spec while it runs, in place: the new
    /// document is stored, then every target injected now has its faults
    /// changed on its host (`HostAgent.reconfigure`) without being
    /// recovered, so its connections keep going (TCP toxics changed
    /// between the test cases of a suite). A target whose host or family
    /// cannot change in place is recovered and injected with the new
    /// document. A paused, finished or not yet injected run only stores it.
    ///
    /// `document` must be valid and name the same kind, namespace and name,
    /// and select the same way (selector, mode, value, peers): the targets
    /// were chosen once for the run and stay. Its metadata is not taken;
    /// pausing is `setPaused`. Throws when a target ends with neither the
    /// old nor the new fault in place; the new document is stored anyway.
    @discardableResult
    public func reconfigure(_ uid: String, to document: ChaosDocument) async throws -> Reconfiguration {
        guard var record = experiments[uid], !record.isDeleted else {
            throw ControllerError(.notFound, "no experiment with uid \(uid)")
        }
        let document = document.normalized()
        if let problem = Self.reconfigurationProblem(from: record.document, to: document) {
            throw ControllerError(.conflict, problem)
        }
        if record.document.spec.isEqual(to: document.spec) { return Reconfiguration() }
        record.document.spec = document.spec
        store(record)
        emit(record, reason: "Updated", message: "spec changed while running")
        try commit()

        // Targets under way (an injection with the old document, a watch)
        // are waited for: then every injected one is changed below.
        while busyCount[uid] != nil {
            await withCheckedContinuation { continuation in idleWaiters[uid, default: []].append(continuation) }
        }
        guard let current = experiments[uid], !current.isDeleted, !halted,
              current.desiredPhase(at: now) == .run, !current.document.spec.isOneShot else {
            flush()
            return Reconfiguration()
        }
        let changes = current.records.indices.filter { current.records[$0].phase == .injected }.map { index in
            Work(experiment: uid, index: index, operation: .reconfigure, attacks: current.records[index].attacks)
        }
        for item in changes { markBusy(uid, item.index) }
        let outcomes = await carryOut(changes)

        var result = Reconfiguration()
        var refused: [Outcome] = []
        for outcome in outcomes {
            let target = current.records[outcome.work.index].id
            if outcome.error == nil { result.reconfigured.append(target) } else { refused.append(outcome) }
        }
        result.reconfigured.sort()
        guard !refused.isEmpty else {
            flush()
            return result
        }

        // What could not change in place changes the ordinary way.
        let recoveries = refused.map { Work(experiment: uid, index: $0.work.index, operation: .recover, attacks: $0.work.attacks) }
        for item in recoveries { markBusy(uid, item.index) }
        let recovered = await carryOut(recoveries)
        var failures: [String] = []
        for outcome in recovered where outcome.error != nil {
            failures.append("\(current.records[outcome.work.index].id): could not recover it to inject the new document: \(outcome.error ?? "")")
        }
        var injections: [Work] = []
        if let latest = experiments[uid], !latest.isDeleted, !halted, latest.desiredPhase(at: now) == .run {
            for outcome in recovered where outcome.error == nil && latest.records[outcome.work.index].phase == .notInjected {
                injections.append(Work(experiment: uid, index: outcome.work.index, operation: .inject, attacks: []))
            }
        }
        for item in injections { markBusy(uid, item.index) }
        let injected = await carryOut(injections)
        let why = Dictionary(refused.map { ($0.work.index, $0.error ?? "") }, uniquingKeysWith: { first, _ in first })
        for outcome in injected {
            let target = current.records[outcome.work.index].id
            if let error = outcome.error {
                failures.append("\(target): recovered, but injecting the new document failed (tried again shortly): \(error)")
            } else {
                result.reinjected[target] = why[outcome.work.index] ?? ""
            }
        }
        flush()
        guard failures.isEmpty else {
            throw ControllerError(.internalError, "the new spec is stored, but not in place on every target: "
                                  + failures.sorted().joined(separator: "; "))
        }
        return result
    }

    /// Why `new` cannot replace `old` while its run goes on, if it cannot:
    /// another object, or another selection of targets.
    static func reconfigurationProblem(from old: ChaosDocument, to new: ChaosDocument) -> String? {
        guard old.kind == new.kind, old.namespace == new.namespace, old.name == new.name else {
            return "the new document is \(new.kind.rawValue) \(new.namespace)/\(new.name), not \(old.kind.rawValue) "
                + "\(old.namespace)/\(old.name): only the same experiment's spec can change while it runs"
        }
        if let before = old.spec as? any PodTargetedSpec, let after = new.spec as? any PodTargetedSpec {
            guard before.selector == after.selector, before.mode == after.mode, before.value == after.value else {
                return "spec.selector, spec.mode and spec.value choose the targets once for the run and cannot change while it runs"
            }
        }
        if let before = old.spec as? any PeerTargetedSpec, let after = new.spec as? any PeerTargetedSpec {
            let (first, second) = (before.peerSelector, after.peerSelector)
            guard first?.selector == second?.selector, first?.mode == second?.mode, first?.value == second?.value else {
                return "spec.target chooses its pods once for the run and cannot change while it runs"
            }
        }
        if let before = old.spec as? any MachineTargetedSpec, let after = new.spec as? any MachineTargetedSpec {
            guard before.machineSelector == after.machineSelector, before.machineAddresses == after.machineAddresses,
                  before.mode == after.mode, before.value == after.value else {
                return "the machines are chosen once for the run and cannot change while it runs"
            }
        }
        return nil
    }
}
