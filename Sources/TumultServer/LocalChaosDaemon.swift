import Dispatch
import Foundation
import TumultController
import TumultDaemon
import TumultModel
import TumultSystem

/// The controller's `ChaosDaemon` on this machine: the experiment agent and
/// its journal. Injectors block (they run commands and wait for helpers), so
/// their calls run on a dispatch queue, never on Swift's cooperative threads.
public struct LocalChaosDaemon: ChaosDaemon {
    public let agent: ExperimentAgent
    private let queue = DispatchQueue(label: "tumult.daemon", qos: .userInitiated, attributes: .concurrent)

    public init(agent: ExperimentAgent) {
        self.agent = agent
    }

    public var journal: Journal { agent.journal }

    public func inject(_ request: InjectionRequest) async throws -> [String] {
        try await blocking {
            try agent.inject(document: request.document, target: request.target, peers: request.peers,
                             experiment: request.experiment, endsAt: request.endsAt)
        }
    }

    public func recover(_ attacks: [String]) async throws {
        try await blocking { try agent.recover(attacks) }
    }

    public func stillInjected(_ attacks: [String]) async -> Set<String> {
        (try? await blocking { agent.stillInjected(attacks) }) ?? []
    }

    public func heal(_ attacks: [String]) async -> [LostFault] {
        let repairs = (try? await blocking { agent.heal(attacks) }) ?? []
        return repairs.map { LostFault(attack: $0.uid, detail: $0.lost, restored: $0.restored, error: $0.error) }
    }

    public func attacks(ofExperiment experiment: String) async -> [HostAttack] {
        let prefix = experiment + "/"
        let attacks = (try? await blocking { try journal.attacks() }) ?? []
        return attacks.compactMap { attack in
            guard attack.needsRecovery, attack.target.hasPrefix(prefix) else { return nil }
            return HostAttack(uid: attack.uid, target: String(attack.target.dropFirst(prefix.count)),
                              injected: attack.state == .injected)
        }
    }

    /// Sets the journal's halt flag (every `tumult` process on the host
    /// honours it) and, when halting, recovers the faults injected outside
    /// experiments (`tumult attack`, chaosd's API); the controller recovers
    /// its own.
    public func setHalted(_ halted: Bool) async throws -> Int {
        try await blocking {
            try journal.setHalted(halted)
            guard halted else { return 0 }
            let direct = try journal.attacks().filter { $0.needsRecovery && !Self.isExperimentTarget($0.target) }
            return Self.recoverConcurrently(direct.map(\.uid), with: agent.runner)
        }
    }

    public func recoverOrphans(keeping experiments: Set<String>) async -> Int {
        (try? await blocking {
            let orphans = try journal.attacks().filter { attack in
                guard attack.needsRecovery, Self.isExperimentTarget(attack.target),
                      let experiment = attack.target.split(separator: "/").first else { return false }
                return !attack.isHeldByAnotherProcess && !experiments.contains(String(experiment))
            }
            return Self.recoverConcurrently(orphans.map(\.uid), with: agent.runner)
        }) ?? 0
    }

    /// The liveness check of the attacks made outside experiments and
    /// held by no process (chaosd's API, detached `tumult attack`): each
    /// read back and, when lost, applied again. Experiments' attacks are
    /// the controller's to watch; a foreground attack watches its own.
    public func healDirectAttacks() async -> [(attack: Journal.Attack, repair: FaultRepair)] {
        (try? await blocking {
            let direct = try journal.attacks().filter {
                $0.state == .injected && $0.ownerPID == nil && !Self.isExperimentTarget($0.target)
            }
            // The agent's heal, as for experiments: the checks side by side.
            let byUID = Dictionary(uniqueKeysWithValues: direct.map { ($0.uid, $0) })
            return agent.heal(direct.map(\.uid)).compactMap { repair in byUID[repair.uid].map { ($0, repair) } }
        }) ?? []
    }

    /// Experiment attacks are journaled as `UID/NAMESPACE/POD`.
    static func isExperimentTarget(_ target: String) -> Bool {
        guard let first = target.split(separator: "/").first else { return false }
        return first.count == 36 && UUID(uuidString: String(first)) != nil && target.split(separator: "/").count == 3
    }

    /// Recovers attacks side by side (an emergency stop must not wait for
    /// them one after another); returns how many succeeded.
    public static func recoverConcurrently(_ uids: [String], with runner: AttackRunner) -> Int {
        Concurrently.map(uids) { (try? runner.recover($0)) != nil }.filter { $0 }.count
    }

    /// Injector calls run on the daemon's own concurrent queue.
    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await TumultServer.blocking(on: queue, body)
    }
}

/// The controller's `PodInventory` on this machine: named network
/// namespaces, containers and the inventory file, read afresh each time
/// (so an edited inventory counts at the next selection without a restart),
/// on a dispatch queue (it runs `ip`).
public struct LocalPodInventory: PodInventory {
    /// `--inventory`, if given.
    public let givenPath: String?
    /// `$TUMULT_HOME`, where `inventory.yaml` counts once it appears.
    public let home: URL?
    public let engines: [ContainerEngine]

    public init(inventoryPath: String?, home: URL? = nil, engines: [ContainerEngine] = ContainerEngine.standard) {
        self.givenPath = inventoryPath
        self.home = home
        self.engines = engines
    }

    /// The file read now: looked up at each call, so an inventory created
    /// after the server started counts too.
    public var inventoryPath: String? {
        guard let home else { return givenPath }
        return Self.defaultPath(given: givenPath, home: home)
    }

    /// `--inventory`, else `$TUMULT_INVENTORY`, else `HOME/inventory.yaml` when it exists.
    public static func defaultPath(given: String?, home: URL) -> String? {
        if let given { return given }
        if let fromEnvironment = InventoryFile.defaultPath() { return fromEnvironment }
        let beside = home.appendingPathComponent("inventory.yaml").path
        return FileManager.default.fileExists(atPath: beside) ? beside : nil
    }

    public func pods() async throws -> [Pod] {
        let path = inventoryPath, engines = engines
        return try await blocking { try LocalInventory(inventoryPath: path, engines: engines).pods() }
    }
}
