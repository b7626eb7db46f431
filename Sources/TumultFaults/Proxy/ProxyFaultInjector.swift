import Foundation
import TumultSystem

/// Applies a `ProxyFault` to one network namespace and undoes it.
///
/// It writes the proxy's configuration, starts Tumult's proxy (`tumult
/// proxy`) inside the namespace on a free port, then redirects the
/// namespace's TCP connections on the fault's port to it with `nat`
/// chains (PREROUTING for connections made to the namespace, OUTPUT for
/// those it makes). Recovery removes the redirect first, so new
/// connections go straight to their server, then lets the proxy finish
/// the connections it holds (without toxics or rules) before it stops.
public struct ProxyFaultInjector: ReconfigurableInjector {
    public typealias Fault = ProxyFault
    public typealias UndoStep = ProxyUndoStep
    public static let family = "proxy"

    public var runner: any CommandRunner
    /// The `tumult` executable that runs the proxy; default: this program.
    public var proxyExecutable: String
    /// Foreground attacks tie the proxy to their process; detached ones
    /// leave it in a session of its own, to be stopped by recovery.
    public var detachProxy: Bool
    /// How long recovery lets open connections finish through the proxy.
    public var drainSeconds: Double

    /// The first port tried for the proxy; the attack's id picks an offset.
    public static let basePort = 16_353

    public init(runner: any CommandRunner = ProcessCommandRunner(), proxyExecutable: String? = nil,
                detachProxy: Bool = true, drainSeconds: Double = 3) {
        self.runner = runner
        self.proxyExecutable = proxyExecutable ?? DNSFaultInjector.defaultResponderExecutable()
        self.detachProxy = detachProxy
        self.drainSeconds = drainSeconds
    }

    /// The arguments of `tumult proxy`.
    public func proxyArguments(attack: String, port: Int) -> [String] {
        var arguments = [proxyExecutable, "proxy", "--listen", String(port),
                         "--config", ProxyConfiguration.path(attack: attack),
                         "--state", ProxyConfiguration.statePath(attack: attack),
                         "--drain-seconds", String(drainSeconds)]
        if !detachProxy { arguments.append("--die-with-parent") }
        return arguments
    }

    // MARK: Apply

    public func apply(_ fault: ProxyFault, attack: String, recorder: ChangeRecorder) throws {
        if let problem = fault.problems().first { throw FaultError(.invalidFault, problem) }
        guard fault.namespace.exists else { throw FaultError(.invalidFault, "\(fault.namespace) does not exist") }
        let inside = NamespacedRunner(fault.namespace, base: runner)
        try refuseSecondProxy(on: fault, inside)
        let proxyPort = try NamespacePorts.free(from: Self.basePort, for: attack, inside, helper: "proxy")

        var done: [ProxyUndoStep] = []
        do {
            let files = ProxyUndoStep.removeFiles(attack: attack)
            let written = try recorder.willApply("proxy configuration \(ProxyConfiguration.path(attack: attack))",
                                                undo: Self.encodeStep(files))
            done.append(files)
            try ProxyConfiguration(generation: 1, toxics: fault.toxics, httpRules: fault.httpRules)
                .write(to: ProxyConfiguration.path(attack: attack))
            try recorder.didApply(written, undo: nil)

            // The nat tables iptables will make (nftables), to be dropped only
            // after the proxy finished its connections: recorded first, undone last but one.
            if IptablesChain.usesNFTables(runner: runner) {
                for family in [IptablesChain.Family.ipv4, .ipv6]
                where try !IptablesChain.tableExists("nat", family: family, runner: inside) {
                    let drop = ProxyUndoStep.dropTable(namespace: fault.namespace, table: "nat", family: family)
                    let sequence = try recorder.willApply("\(family.tool) nat table in \(fault.namespace) (made by the redirect)",
                                                          undo: Self.encodeStep(drop))
                    done.append(drop)
                    try recorder.didApply(sequence, undo: nil)
                }
            }

            // The proxy before the redirect: once connections are sent to it, it must answer.
            let unknown = ProxyUndoStep.stopProxy(namespace: fault.namespace, attack: attack, pid: nil, startTime: nil,
                                                  port: proxyPort, drainSeconds: drainSeconds)
            let started = try recorder.willApply("proxy on port \(proxyPort) in \(fault.namespace) (\(fault.summary))",
                                                 undo: Self.encodeStep(unknown))
            done.append(unknown)
            let proxy = try HelperProcess.start(
                fault.namespace.wrap(Command(proxyArguments(attack: attack, port: proxyPort))),
                environment: ["TUMULT_ATTACK": attack], readyPrefix: "ready", detached: detachProxy)
            let known = ProxyUndoStep.stopProxy(namespace: fault.namespace, attack: attack, pid: proxy.pid,
                                                startTime: proxy.startTime, port: proxyPort, drainSeconds: drainSeconds)
            done[done.count - 1] = known
            try recorder.didApply(started, undo: Self.encodeStep(known))

            // IPv6 too when the proxy could listen there: a connection over
            // IPv6 must not escape the fault.
            let families: [IptablesChain.Family] = proxy.readyLine.contains("ipv6") ? [.ipv4, .ipv6] : [.ipv4]
            for family in families {
                for hook in ProxyRedirect.hooks(for: fault.connections) {
                    let chain = ProxyRedirect.chainName(attack: attack, hook: hook)
                    let redirect = "redirect TCP port \(fault.port) to the proxy on \(proxyPort) with chain nat \(chain) (\(family.tool) \(hook))"
                    let undo = ProxyUndoStep.removeChain(namespace: fault.namespace, table: "nat", hook: hook, chain: chain,
                                                         family: family)
                    let sequence = try recorder.willApply(redirect, undo: Self.encodeStep(undo))
                    done.append(undo)
                    for command in ProxyRedirect.install(chain: chain, hook: hook, port: fault.port, proxyPort: proxyPort,
                                                         family: family) {
                        try inside.check(command, doing: "applying \(redirect)")
                    }
                    try recorder.didApply(sequence, undo: nil)
                }
            }
            // Recorded last, so undone first: the connections finish before the redirect goes.
            let drain = ProxyUndoStep.drainProxy(attack: attack, pid: proxy.pid, startTime: proxy.startTime, drainSeconds: drainSeconds)
            let drained = try recorder.willApply("let the proxy's connections finish at recovery", undo: Self.encodeStep(drain))
            done.append(drain)
            try recorder.didApply(drained, undo: nil)
            let problems = check(done, attack: attack)
            guard problems.isEmpty else {
                throw FaultError(.readBackFailed, "the proxy fault was applied but is not there: " + problems.joined(separator: "; "))
            }
        } catch {
            try? recover(done, attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not apply \(fault.summary) in \(fault.namespace)", cause: error)
        }
    }

    /// One proxy per port and namespace: a second redirect of the same
    /// port would never see a connection (the first rule takes them all).
    func refuseSecondProxy(on fault: ProxyFault, _ inside: NamespacedRunner) throws {
        // All tables: `iptables-save -t nat` would create an empty nat table (nft backend).
        guard let saved = try? inside.run(Command(["iptables-save"])), saved.succeeded else { return }
        for line in saved.stdout.split(separator: "\n") where line.hasPrefix("-A TMT-") && (line.contains("-PIN ") || line.contains("-POUT ")) {
            if line.contains("--dport \(fault.port) ") {
                let chain = line.split(separator: " ")[1]
                throw FaultError(.invalidFault, "port \(fault.port) in \(fault.namespace) already goes through another Tumult proxy (chain \(chain)); recover that fault first")
            }
        }
    }

    // MARK: Reconfigure

    public func reconfigure(_ steps: [ProxyUndoStep], to fault: ProxyFault, attack: String) throws {
        if let problem = fault.problems().first { throw FaultError(.invalidFault, problem) }
        guard case .stopProxy(let namespace, _, let pid?, let startTime, _, _)? = steps.first(where: {
            if case .stopProxy = $0 { return true } else { return false }
        }) else {
            throw FaultError(.invalidFault, "attack \(attack) has no running proxy to change")
        }
        guard namespace == fault.namespace else {
            throw FaultError(.invalidFault, "a running proxy fault cannot move to \(fault.namespace); recover it and inject again")
        }
        let hooks = steps.compactMap { step -> String? in
            if case .removeChain(_, _, let hook, _, _) = step { return hook } else { return nil }
        }
        guard Set(hooks) == Set(ProxyRedirect.hooks(for: fault.connections)) else {
            throw FaultError(.invalidFault, "a running proxy fault cannot change which connections it takes; recover it and inject again")
        }
        guard HostReadBack.helperAlive(pid, startTime: startTime) else {
            throw FaultError(.applyFailed, "the proxy of attack \(attack) (pid \(pid)) is not running")
        }
        let path = ProxyConfiguration.path(attack: attack)
        let generation = ((try? ProxyConfiguration.read(from: path))?.generation ?? 0) + 1
        try ProxyConfiguration(generation: generation, toxics: fault.toxics, httpRules: fault.httpRules).write(to: path)
        kill(pid, SIGHUP)
        // Read back: the proxy reports the generation it runs.
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            if let state = ProxyState.read(attack: attack), state.generation >= generation { return }
            usleep(10_000)
        }
        throw FaultError(.readBackFailed, "the proxy of attack \(attack) did not take the new toxics within 3 s")
    }

    // MARK: Recover

    public func recover(_ steps: [ProxyUndoStep], attack: String) throws {
        try undoEach(steps) { try undo($0) }
    }

    func undo(_ step: ProxyUndoStep) throws {
        switch step {
        case .removeFiles(let attack):
            for path in [ProxyConfiguration.path(attack: attack), ProxyConfiguration.statePath(attack: attack)] {
                if unlink(path) != 0 && errno != ENOENT {
                    throw FaultError(.recoverFailed, "could not remove \(path): \(String(cString: strerror(errno)))")
                }
            }
        case .stopProxy(_, let attack, let pid, let startTime, _, let drainSeconds):
            // A host process: stopped even when its namespace is gone. SIGTERM
            // lets it finish open connections for up to drainSeconds.
            _ = Processes.stopHelpers(of: attack, recorded: pid.map { [($0, startTime)] } ?? [], grace: drainSeconds + 2)
        case .removeChain(let namespace, let table, let hook, let chain, let family):
            guard namespace.exists else { return }
            try IptablesChain.remove(table: table, hook: hook, chain: chain, dropEmptyTable: false, family: family,
                                     runner: NamespacedRunner(namespace, base: runner))
        case .drainProxy(let attack, let pid, let startTime, let drainSeconds):
            // A proxy that is gone has nothing to finish.
            guard HostReadBack.helperAlive(pid, startTime: startTime) else { return }
            kill(pid, SIGUSR1)
            let deadline = Date().addingTimeInterval(drainSeconds)
            while Date() < deadline && HostReadBack.helperAlive(pid, startTime: startTime) {
                if let state = ProxyState.read(attack: attack), state.draining, state.open == 0 { return }
                usleep(20_000)
            }
        case .dropTable(let namespace, let table, let family):
            guard namespace.exists else { return }
            try IptablesChain.dropTableIfEmpty(table, family: family, runner: NamespacedRunner(namespace, base: runner))
        }
    }
}
