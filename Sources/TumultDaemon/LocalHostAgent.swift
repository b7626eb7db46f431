import Dispatch
import Foundation
import TumultAgent
import TumultFaults
import TumultModel
import TumultSystem

/// The host agent on this machine: the journal, the families, the local
/// pods. `tumult daemon` serves it over HTTPS; `tumult server` and `tumult
/// run` call it in process. Injectors block (they run commands and wait for
/// helpers), so every call runs on a dispatch queue, never on Swift's
/// cooperative threads.
public struct LocalHostAgent: HostWatching {
    public let machine: String
    public let agent: ExperimentAgent
    public let families: FamilyRegistry
    public let inventory: LocalPodInventory
    /// Where the userspace engines write their counters (the census reads them).
    public let engineStatisticsDirectory: String?
    /// Finds the process of a target that comes with container ids only
    /// (a Kubernetes pod from the operator) before its faults are planned.
    public var podResolver = PodResolver()
    /// Above this many named network namespaces, the census reads only
    /// those holding a fault (each costs three short commands).
    public var censusScanLimit = 200
    /// Workflow Tasks running here.
    public let tasks = TaskRunner()
    /// Whether this host runs Workflow Tasks (commands as this process's
    /// user): `tumult run` does, `tumult server --allow-tasks` does, a
    /// daemon does not.
    public var allowsTasks = false
    private let queue = DispatchQueue(label: "tumult.agent", qos: .userInitiated, attributes: .concurrent)
    /// The journal's stamp when the watch last found nothing held.
    private let idle = IdleJournal()

    /// `machine` defaults to this host's name. `owner`: the process that
    /// holds the attacks in the foreground (`tumult run`), if any.
    public init(machine: String? = nil, journal: Journal, families: FamilyRegistry, inventory: LocalPodInventory,
                owner: Int32? = nil, engineStatisticsDirectory: String? = EngineStatistics.defaultDirectory()) {
        self.machine = machine ?? ProcessInfo.processInfo.hostName
        self.agent = ExperimentAgent(journal: journal, families: families, owner: owner)
        self.families = families
        self.inventory = inventory
        self.engineStatisticsDirectory = engineStatisticsDirectory
    }

    public var journal: Journal { agent.journal }

    // MARK: HostAgent

    public func status() async throws -> AgentStatus {
        try await run {
            let attacks = try journal.attacks()
            return AgentStatus(machine: machine, kinds: families.translators.kinds.map(\.rawValue),
                               families: families.chaosdFamilies, machineActions: families.machineActions.keys.sorted(),
                               halted: try journal.isHalted(), activeAttacks: attacks.filter(\.needsRecovery).count,
                               leases: try journal.leases().map(\.grant))
        }
    }

    public func pods() async throws -> [Pod] {
        let machine = machine
        return try await inventory.pods().map { pod in
            var pod = pod
            pod.nodeName = machine
            pod.nodeLabels["kubernetes.io/hostname"] = machine
            return pod
        }
    }

    public func inject(_ request: InjectionRequest) async throws -> [AttackID] {
        try await run {
            if let seconds = request.leaseSeconds, seconds > 0 {
                // Journal first: the lease that covers the attack before the attack.
                _ = try journal.renewLease(controller: request.owner.controller, seconds: seconds)
            }
            // Peers need only their IPs: they are not resolved.
            let target = try podResolver.resolve(request.target, for: request.document)
            return try agent.inject(document: request.document, target: target, peers: request.peers,
                             experiment: request.owner.experiment, endsAt: request.endsAt, claim: request.owner)
                .map { AttackID(machine: machine, uid: $0) }
        }
    }

    public func runTask(_ request: TaskRequest) async throws -> TaskOutcome {
        guard allowsTasks else {
            throw AgentError(.unsupported, "machine \(machine) does not run workflow tasks (tumult server --allow-tasks)")
        }
        return try await tasks.run(request)
    }

    public func cancelTask(_ id: String) async throws {
        tasks.cancel(id)
    }

    public func recover(_ attacks: [AttackID]) async throws {
        let uids = own(attacks)
        try await run { try agent.recover(uids) }
    }

    /// Translates the new document for the target as `inject` would, then
    /// changes each attack, in order, to the new fault of its family: the
    /// k-th attack of a family takes the family's k-th planned fault. All
    /// of it is checked (every attack injected here, as many new faults as
    /// running ones) before the first attack changes.
    public func reconfigure(_ request: ReconfigureRequest) async throws {
        let uids = own(request.attacks)
        let injection = request.injection
        try await run {
            do {
                if let seconds = injection.leaseSeconds, seconds > 0 {
                    _ = try journal.renewLease(controller: injection.owner.controller, seconds: seconds)
                }
                let target = try podResolver.resolve(injection.target, for: injection.document)
                let planned = try agent.plan(document: injection.document, target: target, peers: injection.peers)
                var pairs: [(uid: String, fault: PlannedFault)] = []
                var taken: [String: Int] = [:]
                for uid in uids {
                    guard let attack = try journal.attack(uid) else {
                        throw AgentError(.notFound, "no attack \(uid) on machine \(machine)")
                    }
                    guard attack.state == .injected else {
                        throw AgentError(.invalid, "attack \(uid) is \(attack.state.rawValue), not injected: only a running fault changes in place")
                    }
                    let ofFamily = planned.filter { $0.family == attack.family }
                    let position = taken[attack.family, default: 0]
                    guard position < ofFamily.count else {
                        throw AgentError(.invalid, "the new document makes \(ofFamily.count) \(attack.family) "
                                         + "fault\(ofFamily.count == 1 ? "" : "s") for \(injection.target.id), fewer than the running ones: "
                                         + "it cannot change in place")
                    }
                    taken[attack.family] = position + 1
                    pairs.append((uid, ofFamily[position]))
                }
                for family in Set(planned.map(\.family)) where planned.filter({ $0.family == family }).count != taken[family, default: 0] {
                    throw AgentError(.invalid, "the new document makes more \(family) faults for \(injection.target.id) "
                                     + "than the \(taken[family, default: 0]) running: it cannot change in place")
                }
                for pair in pairs { try agent.runner.reconfigure(pair.uid, to: pair.fault) }
            } catch let error as FaultError {
                switch error.code {
                case .unsupported: throw AgentError(.unsupported, error.description)
                case .invalidFault: throw AgentError(.invalid, error.description)
                default: throw AgentError(.failed, error.description)
                }
            }
        }
    }

    public func heal(_ attacks: [AttackID]) async throws -> [LostFault] {
        let uids = own(attacks)
        return try await run {
            let repairs = agent.heal(uids)
            var lost = repairs.map { LostFault(attack: AttackID(machine: machine, uid: $0.uid), detail: $0.lost,
                                               restored: $0.restored, error: $0.error) }
            // An attack something else ended (the dead-man's switch while its
            // controller was away, `tumult recover`) is no longer in place:
            // lost, and not restored here, so its controller injects afresh.
            let repaired = Set(repairs.map(\.uid))
            for uid in uids where !repaired.contains(uid) {
                let attack = try journal.attack(uid)
                guard attack.map({ !$0.needsRecovery }) ?? true else { continue }
                let why = attack?.message ?? "not in this host's journal"
                lost.append(LostFault(attack: AttackID(machine: machine, uid: uid), detail: "recovered on the host: \(why)",
                                      restored: false, error: why))
            }
            return lost
        }
    }

    public func attacks(_ query: AttackQuery) async throws -> [HostAttack] {
        try await run {
            try journal.attacks().filter { attack in
                guard attack.needsRecovery, let experiment = Self.experiment(of: attack) else { return false }
                if let wanted = query.experiment, wanted != experiment { return false }
                if let controller = query.controller, (attack.controller ?? controller) != controller { return false }
                return true
            }.map(hostAttack)
        }
    }

    public func recoverOrphans(controller: String, keeping experiments: Set<String>) async throws -> Int {
        try await run {
            let orphans = try journal.attacks().filter { attack in
                guard attack.needsRecovery, let experiment = Self.experiment(of: attack),
                      !attack.isHeldByAnotherProcess, !experiments.contains(experiment) else { return false }
                // Ours, journaled before owners were, or a foreground run's
                // (`tumult run`) whose process is gone: nobody else will end them.
                return attack.controller == nil || attack.controller == controller || attack.ownerPID != nil
            }
            return Self.recoverConcurrently(orphans.map(\.uid), with: agent.runner)
        }
    }

    /// Sets the journal's halt flag (every `tumult` process on the host
    /// honours it) and, when halting, recovers the faults injected outside
    /// experiments (`tumult attack`, chaosd's API); controllers recover their own.
    public func setHalted(_ halted: Bool) async throws -> Int {
        try await run {
            try journal.setHalted(halted)
            guard halted else { return 0 }
            let direct = try journal.attacks().filter { $0.needsRecovery && Self.experiment(of: $0) == nil }
            return Self.recoverConcurrently(direct.map(\.uid), with: agent.runner)
        }
    }

    public func census() async throws -> AgentCensus {
        let pods = (try? await inventory.pods()) ?? []
        return try await run {
            let attacks = try journal.attacks().filter(\.needsRecovery)
            var samples = families.census(CensusContext(pods: pods, attacks: attacks, journal: journal,
                                                        scanLimit: censusScanLimit,
                                                        engineStatisticsDirectory: engineStatisticsDirectory))
            samples.sort { ($0.name, $0.labels.sorted { $0.key < $1.key }.description) < ($1.name, $1.labels.sorted { $0.key < $1.key }.description) }
            return AgentCensus(machine: machine, samples: samples)
        }
    }

    public func renewLease(_ lease: Lease) async throws -> LeaseGrant {
        try await run {
            guard !lease.controller.isEmpty else { throw AgentError.field("controller", "required: the controller's id") }
            guard lease.seconds >= 0, lease.seconds <= 86_400 else {
                throw AgentError.field("seconds", "\(lease.seconds) is out of range: from 0 (release) to 86400")
            }
            let now = Date()
            guard let row = try journal.renewLease(controller: lease.controller, seconds: lease.seconds, at: now) else {
                return LeaseGrant(controller: lease.controller, seconds: 0, renewedAt: now, expiresAt: now)
            }
            return row.grant
        }
    }

    /// A chaosd attack: the body read by the family that takes `family`,
    /// every field checked, then what it names checked on the host, all
    /// before anything is journaled. A `uid` the caller gives names the
    /// attack (Chaos Mesh retries with the same one: a uid still in place
    /// answers with itself; one recovered is reused for the new attack).
    public func attack(_ request: DirectAttack) async throws -> AttackID {
        guard let type = families.chaosdType(request.family) else {
            throw AgentError(.notFound, "no attack kind \(request.family) (\(families.chaosdFamilies.joined(separator: ", ")))")
        }
        if let uid = request.uid, let problem = Self.uidProblem(uid) { throw AgentError.field("uid", problem) }
        let command = try ChaosdCommands.decode(type, from: request.body, kind: request.family)
        let planned = try command.planned()
        return try await run {
            if try journal.isHalted() {
                throw AgentError(.halted, "Tumult is halted (emergency stop): new faults are refused until `tumult unhalt`")
            }
            if let uid = request.uid, let existing = try journal.attack(uid) {
                if existing.needsRecovery { return AttackID(machine: machine, uid: uid) }
                try journal.forgetFinished(uid)
            }
            try ChaosdHost().verify(command.hostChecks)
            do {
                let uid = try planned.inject(with: agent.runner, target: command.targetDescription, endsAt: nil, uid: request.uid)
                return AttackID(machine: machine, uid: uid)
            } catch let error as FaultError where error.code == .invalidFault || error.code == .unsupported {
                // What this host cannot do as asked (no device to default to,
                // nothing matches): the request's fault, as for an experiment.
                throw AgentError(error.code == .unsupported ? .unsupported : .invalid, error.description)
            } catch {
                throw AgentError(.failed, String(describing: error))
            }
        }
    }

    /// An attack `tumult attack` built and checked: applied by the
    /// family's injector from the journal's JSON, as a restore would.
    public func attack(prepared: PreparedAttack) async throws -> AttackID {
        try await run {
            do {
                let uid = try agent.runner.inject(encoded: prepared.fault, family: prepared.family, action: prepared.action,
                                                  target: prepared.target)
                return AttackID(machine: machine, uid: uid)
            } catch let error as FaultError where error.code == .invalidFault || error.code == .unsupported {
                throw AgentError(error.code == .unsupported ? .unsupported : .invalid, error.description)
            } catch let error as AgentError {
                throw error
            } catch {
                throw AgentError(.failed, String(describing: error))
            }
        }
    }

    public func recover(_ recovery: AttackRecovery) async throws -> AttackRecovery.Outcome {
        try await run {
            if recovery.all {
                let (recovered, failures) = agent.runner.recoverAll()
                return AttackRecovery.Outcome(recovered: recovered, failures: failures)
            }
            let prefix = recovery.uid ?? ""
            let matches = try journal.attacks(matching: prefix)
            guard matches.count == 1 else {
                throw AgentError(.notFound, matches.isEmpty ? "no attack \(prefix) in the journal"
                                 : "\(prefix) matches \(matches.count) attacks; give more of the uid")
            }
            do {
                try agent.runner.recover(matches[0].uid)
            } catch {
                return AttackRecovery.Outcome(recovered: [], failures: [matches[0].uid: String(describing: error)])
            }
            return AttackRecovery.Outcome(recovered: [matches[0].uid], failures: [:])
        }
    }

    public func directAttacks() async throws -> [HostAttack] {
        try await run { try journal.attacks().filter { Self.experiment(of: $0) == nil }.map(hostAttack) }
    }

    // MARK: The host's own watch

    /// The dead-man's switch: every lease that ran out is released and
    /// everything its controller injected here is recovered, each attack's
    /// journal message saying why. Returns (controller, recovered) pairs.
    @discardableResult
    public func expireLeases(at moment: Date = Date()) async -> [(controller: String, recovered: Int)] {
        (try? await run {
            var expired: [(controller: String, recovered: Int)] = []
            for lease in try journal.leases() where lease.expiresAt <= moment {
                let owned = try journal.attacks().filter { $0.needsRecovery && $0.controller == lease.controller && !$0.isHeldByAnotherProcess }
                let recovered = Self.recoverConcurrently(owned.map(\.uid), with: agent.runner)
                let why = "recovered by the dead-man's switch: controller \(lease.controller) sent no heartbeat for "
                    + "\(Int(lease.seconds)) s (lease expired at \(ISO8601DateFormatter().string(from: lease.expiresAt)))"
                for attack in owned { try? journal.update(attack.uid, state: try journal.attack(attack.uid)?.state ?? .recovered, message: why) }
                // Released only once everything it covered is recovered: what
                // failed is tried again at the next round.
                if recovered == owned.count { _ = try journal.renewLease(controller: lease.controller, seconds: 0) }
                expired.append((lease.controller, recovered))
            }
            return expired
        }) ?? []
    }

    /// At start: attacks a crash left half-done (injecting, or recovering)
    /// and held by no live process are undone; every lease gets a full
    /// period, since nothing could be heard while the agent was down.
    /// Returns how many attacks were undone.
    @discardableResult
    public func replayJournal() async -> Int {
        (try? await run {
            try journal.extendLeases()
            let unfinished = try journal.attacks().filter {
                ($0.state == .injecting || $0.state == .recovering) && !$0.isHeldByAnotherProcess
            }
            return Self.recoverConcurrently(unfinished.map(\.uid), with: agent.runner)
        }) ?? 0
    }

    /// The liveness check of the attacks made outside experiments and held
    /// by no process (chaosd's API, detached `tumult attack`): each read
    /// back and, when lost, applied again. Experiments' attacks are their
    /// controller's to watch; a foreground attack watches its own.
    public func healDirectAttacks() async -> [(attack: HostAttack, repair: FaultRepair)] {
        (try? await run {
            let direct = try journal.attacks().filter {
                $0.state == .injected && $0.ownerPID == nil && Self.experiment(of: $0) == nil
            }
            let byUID = Dictionary(uniqueKeysWithValues: direct.map { ($0.uid, $0) })
            return agent.heal(direct.map(\.uid)).compactMap { repair in byUID[repair.uid].map { (hostAttack($0), repair) } }
        }) ?? []
    }

    /// One round of the host's own watch: leases that ran out, then the
    /// liveness of attacks made outside experiments (not while halted).
    public func watchOnce() async -> [HostWatchReport] {
        // An idle host: nothing was held when the watch last looked, and no
        // process has written the journal since (its files are as they were).
        // The round is skipped: an idle agent then touches neither SQLite
        // nor the fault families, and their pages stay out of its memory.
        let stamp = JournalStamp(path: journal.path)
        switch idle.look(stamp) {
        case .settled:
            // Quiet for a whole round after work (or after starting): the
            // code and heap it used are given back; they come back on the
            // next attack's first touch. Not at the end of the round that
            // did the work: in a loop of attacks, each would fault its code
            // back in.
            Memory.releasePages()
            return []
        case .still:
            return []
        case .changed:
            break
        }
        let reports = await watchRound()
        let held = (try? await run { try !journal.leases().isEmpty || journal.attacks().contains(where: \.needsRecovery) }) ?? true
        idle.record(held ? nil : stamp)
        return reports
    }

    private func watchRound() async -> [HostWatchReport] {
        var reports: [HostWatchReport] = []
        for (controller, recovered) in await expireLeases() {
            reports.append(HostWatchReport(reason: "LeaseExpired", message: "controller \(controller) sent no heartbeat within its lease: "
                                           + "recovered \(recovered) fault\(recovered == 1 ? "" : "s") it injected", warning: true))
        }
        if (try? journal.isHalted()) == true { return reports }
        for (attack, repair) in await healDirectAttacks() {
            reports.append(HostWatchReport(reason: "FaultLost", message: "\(attack.action) on \(attack.target) lost: \(repair.lost)",
                                           warning: true, attack: attack, restored: repair.restored))
            if repair.restored {
                reports.append(HostWatchReport(reason: "FaultRestored", message: "\(attack.action) on \(attack.target) restored",
                                               warning: false, attack: attack))
            } else {
                reports.append(HostWatchReport(reason: "FaultNotRestored",
                                               message: "\(attack.action) on \(attack.target) could not be restored: \(repair.error ?? "")",
                                               warning: true, attack: attack))
            }
        }
        return reports
    }

    // MARK: Helpers

    /// The uids of `attacks` that are this machine's (no machine: ours).
    private func own(_ attacks: [AttackID]) -> [String] {
        attacks.filter { $0.machine.isEmpty || $0.machine == machine }.map(\.uid)
    }

    private func hostAttack(_ attack: Journal.Attack) -> HostAttack {
        var owner = attack.owner
        if owner == nil, let experiment = Self.experiment(of: attack) {
            // Journaled before owners were: `UID/NAMESPACE/POD`.
            owner = AttackOwner(controller: "", experiment: experiment,
                                target: String(attack.target.dropFirst(experiment.count + 1)))
        }
        return HostAttack(id: AttackID(machine: machine, uid: attack.uid), owner: owner, family: attack.family,
                          action: attack.action, target: attack.target, injected: attack.state == .injected,
                          state: Self.chaosdStatus(of: attack.state), message: attack.message,
                          createdAt: attack.createdAt, updatedAt: attack.updatedAt)
    }

    /// The experiment an attack belongs to: its owner column, else (journals
    /// written before owners) the first part of a `UID/NAMESPACE/POD` target.
    static func experiment(of attack: Journal.Attack) -> String? {
        if let experiment = attack.experiment { return experiment }
        let parts = attack.target.split(separator: "/")
        guard parts.count == 3, parts[0].count == 36, UUID(uuidString: String(parts[0])) != nil else { return nil }
        return String(parts[0])
    }

    /// chaosd's words for a journal state.
    public static func chaosdStatus(of state: Journal.State) -> String {
        switch state {
        case .injecting: "created"
        case .injected: "success"
        case .recovering: "recovering"
        case .recovered: "destroyed"
        case .failed: "error"
        }
    }

    /// A caller's uid is a journal key and a path segment: short, plain.
    static func uidProblem(_ uid: String) -> String? {
        let allowed = uid.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
        return !uid.isEmpty && uid.count <= 64 && allowed ? nil : "\"\(uid.prefix(80))\" is not an attack id (1 to 64 letters, digits, - and _)"
    }

    /// Recovers attacks side by side (an emergency stop must not wait for
    /// them one after another); returns how many succeeded.
    public static func recoverConcurrently(_ uids: [String], with runner: AttackRunner) -> Int {
        Concurrently.map(uids) { (try? runner.recover($0)) != nil }.filter { $0 }.count
    }

    /// Runs blocking work on the agent's own concurrent queue.
    private func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

extension Journal.LeaseRow {
    var grant: LeaseGrant {
        LeaseGrant(controller: controller, seconds: seconds, renewedAt: renewedAt, expiresAt: expiresAt)
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
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try LocalInventory(inventoryPath: path, engines: engines).pods() })
            }
        }
    }
}

extension LocalHostAgent {
    /// The agent of a host whose state lives in `home` (the journal, the
    /// inventory beside it): what `tumult server` and `tumult daemon` run.
    /// `networkBackend`: `auto`, `kernel` or `userspace`.
    public static func serving(home: URL, inventoryPath: String? = nil, networkBackend: String = "auto",
                               machine: String? = nil, detachHelpers: Bool = true) throws -> LocalHostAgent {
        let journal = try Journal(directory: home)
        let backend = NetworkFault.Backend(rawValue: networkBackend) ?? .auto
        let families = FamilyRegistry.standard(options: TranslationOptions(detachHelpers: detachHelpers, networkBackend: backend))
        return LocalHostAgent(machine: machine, journal: journal, families: families,
                              inventory: LocalPodInventory(inventoryPath: inventoryPath, home: home))
    }
}

/// The journal's files as `stat` sees them (size and modification time of
/// the database and its write-ahead log): any write, by any process, changes it.
struct JournalStamp: Equatable {
    var fields: [Int]

    init(path: String) {
        fields = []
        for file in [path, path + "-wal"] {
            var info = stat()
            if stat(file, &info) == 0 {
                fields += [Int(info.st_size), info.st_mtim.tv_sec, info.st_mtim.tv_nsec]
            } else {
                fields += [-1, -1, -1]
            }
        }
    }
}

/// The stamp of a journal that held nothing when last read (nil while
/// something is held), and whether a round ran since the watch last skipped one.
final class IdleJournal: @unchecked Sendable {
    enum Look: Equatable {
        /// Written since, or something is held: the round runs.
        case changed
        /// As it was, and already quiet at the last look: skipped.
        case still
        /// As it was, for the first time since a round ran: skipped, and
        /// the agent has been idle for a whole round after working.
        case settled
    }

    private let lock = NSLock()
    private var stamp: JournalStamp?
    private var worked = false

    func look(_ now: JournalStamp) -> Look {
        lock.withLock {
            guard stamp == now else { return .changed }
            defer { worked = false }
            return worked ? .settled : .still
        }
    }

    /// After a round: `now` when it left nothing held, else nil.
    func record(_ now: JournalStamp?) {
        lock.withLock {
            stamp = now
            worked = true
        }
    }
}
