import Foundation
import Testing
import TumultSystem

/// Root integration tests: real namespaces, real traffic, the real `tumult`
/// binary, and after every attack the namespaces exactly as before.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct NetworkFaultTests {
    let cli = TumultCLI()

    @discardableResult
    func attack(_ arguments: [String]) throws -> CommandResult { try cli.run(arguments) }

    /// Injects, hands the uid to `body`, recovers, and checks both namespaces
    /// are exactly as before.
    func withAttack(_ network: TestNetwork, _ arguments: [String], _ body: () throws -> Void) throws {
        let before = try network.snapshots()
        let injected = try attack(["attack", "network"] + arguments)
        try #require(injected.status == 0, "inject failed: \(injected.stderr)")
        let uid = injected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer {
            let recovered = try? attack(["recover", uid])
            #expect(recovered?.status == 0, "recover failed: \(recovered?.stderr ?? "")")
            #expect((try? network.snapshots()) == before, "the namespaces differ after recovery")
            #expect(Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid).isEmpty, "an engine is left running")
        }
        try body()
    }

    @Test func delayAddsLatencyAndJitterSpreadsIt() throws {
        let network = try TestNetwork()
        defer { network.tearDown(); cli.removeHome() }
        let baseline = try network.ping(from: network.a, to: network.addressB, count: 10)
        #expect(baseline.mean < 1)
        try withAttack(network, ["delay", "--netns", network.a, "--latency", "100ms"]) { () throws in
            let delayed = try network.ping(from: network.a, to: network.addressB, count: 30, interval: 0.05)
            #expect(delayed.received == 30)
            #expect((95...110).contains(delayed.mean), "mean RTT \(delayed.mean) ms")
            #expect(delayed.standardDeviation < 5)
        }
        try withAttack(network, ["delay", "--netns", network.a, "--latency", "100ms", "--jitter", "20ms"]) { () throws in
            let jittered = try network.ping(from: network.a, to: network.addressB, count: 60, interval: 0.05)
            #expect((90...115).contains(jittered.mean), "mean RTT \(jittered.mean) ms")
            #expect(jittered.standardDeviation > 5, "spread \(jittered.standardDeviation) ms")
            #expect((jittered.rtts.max() ?? 0) - (jittered.rtts.min() ?? 0) > 15)
        }
        // Incoming traffic only, then both ways (twice the latency per round trip).
        try withAttack(network, ["delay", "--netns", network.a, "--latency", "50ms", "--direction", "from"]) { () throws in
            let delayed = try network.ping(from: network.b, to: network.addressA, count: 10, interval: 0.05)
            #expect((48...60).contains(delayed.mean), "mean RTT \(delayed.mean) ms")
        }
        try withAttack(network, ["delay", "--netns", network.a, "--latency", "50ms", "--direction", "both"]) { () throws in
            let delayed = try network.ping(from: network.b, to: network.addressA, count: 10, interval: 0.05)
            #expect((98...112).contains(delayed.mean), "mean RTT \(delayed.mean) ms")
        }
        let after = try network.ping(from: network.a, to: network.addressB, count: 10)
        #expect(after.mean < 1, "RTT after recovery \(after.mean) ms")
    }

    @Test func lossDropsItsShareAndCorrelationMakesBursts() throws {
        let network = try TestNetwork()
        defer { network.tearDown(); cli.removeHome() }
        var uncorrelated: TestNetwork.PingResult?
        try withAttack(network, ["loss", "--netns", network.a, "--percent", "30"]) { () throws in
            let result = try network.ping(from: network.a, to: network.addressB, count: 1500, interval: 0.002)
            #expect(result.sent == 1500)
            #expect((0.26...0.34).contains(result.lossRate), "loss \(result.lossRate)")
            uncorrelated = result
        }
        // netem's correlation makes each draw lean on the last one: losses come
        // in bursts (a loss is far likelier right after a loss), and, as in
        // the kernel, the overall rate falls well below the nominal one.
        try withAttack(network, ["loss", "--netns", network.a, "--percent", "30", "--correlation", "75"]) { () throws in
            let correlated = try network.ping(from: network.a, to: network.addressB, count: 3000, interval: 0.001)
            let plainLift = Self.lossAfterLoss(uncorrelated!, count: 1500) / uncorrelated!.lossRate
            let burstyLift = Self.lossAfterLoss(correlated, count: 3000) / correlated.lossRate
            #expect(plainLift < 1.5, "uncorrelated: P(loss | loss) / P(loss) = \(plainLift)")
            #expect(burstyLift > 3, "correlated: P(loss | loss) / P(loss) = \(burstyLift)")
            #expect(Self.meanBurst(correlated, count: 3000) > 1, "no loss bursts at all")
        }
    }

    /// The share of packets lost right after a lost packet.
    static func lossAfterLoss(_ ping: TestNetwork.PingResult, count: Int) -> Double {
        var afterLoss = 0, lostAfterLoss = 0
        for sequence in 2...count where !ping.answered.contains(sequence - 1) {
            afterLoss += 1
            if !ping.answered.contains(sequence) { lostAfterLoss += 1 }
        }
        return afterLoss == 0 ? 0 : Double(lostAfterLoss) / Double(afterLoss)
    }

    /// The mean length of runs of consecutive lost packets.
    static func meanBurst(_ ping: TestNetwork.PingResult, count: Int) -> Double {
        var runs: [Int] = []
        var current = 0
        for sequence in 1...count {
            if ping.answered.contains(sequence) {
                if current > 0 { runs.append(current) }
                current = 0
            } else {
                current += 1
            }
        }
        if current > 0 { runs.append(current) }
        return runs.isEmpty ? 0 : Double(runs.reduce(0, +)) / Double(runs.count)
    }

    @Test func duplicateAndCorruptShowTheirDamage() throws {
        let network = try TestNetwork()
        defer { network.tearDown(); cli.removeHome() }
        try withAttack(network, ["duplicate", "--netns", network.a, "--percent", "50"]) { () throws in
            let result = try network.ping(from: network.a, to: network.addressB, count: 100)
            #expect(result.duplicates > 20, "\(result.duplicates) duplicates")
        }
        let errorsBefore = try network.ipHeaderErrors(network.b)
        try withAttack(network, ["corrupt", "--netns", network.a, "--percent", "50"]) { () throws in
            let result = try network.ping(from: network.a, to: network.addressB, count: 100)
            #expect((0.3...0.7).contains(result.lossRate), "loss \(result.lossRate)")
        }
        let damaged = try network.ipHeaderErrors(network.b) - errorsBefore
        #expect(damaged > 25, "\(damaged) packets failed B's header check")
    }

    @Test func partitionCutsTheChosenDirectionOnly() throws {
        let network = try TestNetwork()
        defer { network.tearDown(); cli.removeHome() }
        try network.listen(in: network.a, port: 7001)
        try network.listen(in: network.b, port: 7002)
        #expect(try network.connects(from: network.a, to: network.addressB, port: 7002))
        #expect(try network.connects(from: network.b, to: network.addressA, port: 7001))

        try withAttack(network, ["partition", "--netns", network.a, "--direction", "both"]) { () throws in
            #expect(try network.ping(from: network.a, to: network.addressB, count: 3).received == 0)
            #expect(try network.ping(from: network.b, to: network.addressA, count: 3).received == 0)
            #expect(try !network.connects(from: network.a, to: network.addressB, port: 7002))
        }
        try withAttack(network, ["partition", "--netns", network.a, "--direction", "to"]) { () throws in
            #expect(try !network.connects(from: network.a, to: network.addressB, port: 7002))
            #expect(try network.connects(from: network.b, to: network.addressA, port: 7001))
        }
        try withAttack(network, ["partition", "--netns", network.a, "--direction", "from"]) { () throws in
            #expect(try network.connects(from: network.a, to: network.addressB, port: 7002))
            #expect(try !network.connects(from: network.b, to: network.addressA, port: 7001))
        }
        // Only the named peer is cut.
        try withAttack(network, ["partition", "--netns", network.a, "--direction", "both", "--ip", "\(network.otherAddressB)/32"]) { () throws in
            #expect(try network.ping(from: network.a, to: network.addressB, count: 3).received == 3)
            #expect(try network.ping(from: network.a, to: network.otherAddressB, count: 3).received == 0)
        }
        #expect(try network.connects(from: network.a, to: network.addressB, port: 7002))
    }

    @Test func netemCombinesFaults() throws {
        let network = try TestNetwork()
        defer { network.tearDown(); cli.removeHome() }
        try withAttack(network, ["netem", "--netns", network.a, "--latency", "30ms", "--loss", "20"]) { () throws in
            let result = try network.ping(from: network.a, to: network.addressB, count: 600, interval: 0.002)
            #expect((0.15...0.25).contains(result.lossRate), "loss \(result.lossRate)")
            #expect((29...40).contains(result.mean), "mean RTT \(result.mean) ms")
        }
    }

    @Test func aProcessNamesItsNetworkNamespace() throws {
        let network = try TestNetwork()
        defer { network.tearDown(); cli.removeHome() }
        let sleeper = try network.startProcess(in: network.a, ["sleep", "60"])
        try withAttack(network, ["delay", "--pid", String(sleeper), "--latency", "40ms"]) { () throws in
            let delayed = try network.ping(from: network.a, to: network.addressB, count: 10, interval: 0.05)
            #expect((38...50).contains(delayed.mean), "mean RTT \(delayed.mean) ms")
        }
    }

    /// A queue of 100 kB (80 ms at 10 Mbit/s), as a shaper is set up for
    /// TCP: a shallower one drops bursts and TCP then runs below the rate.
    @Test func bandwidthShapesToTheRate() throws {
        let network = try TestNetwork()
        defer { network.tearDown(); cli.removeHome() }
        try withAttack(network, ["bandwidth", "--netns", network.a, "--rate", "10mbit", "--limit", "100000", "--buffer", "10000"]) { () throws in
            let rate = try network.throughput(seconds: 4)
            #expect((9...11).contains(rate), "\(rate) Mbit/s")
        }
    }

    @Test func killedForegroundAttackIsRecoveredFromTheJournal() throws {
        let network = try TestNetwork()
        defer { network.tearDown(); cli.removeHome() }
        let before = try network.snapshots()
        let child = try cli.start(["attack", "network", "delay", "--netns", network.a, "--latency", "50ms",
                                   "--duration", "60s"])
        defer { close(child.stdout); close(child.stderr) }
        // Wait until the attack is in place, then kill -9 in the middle.
        let uid = TumultCLI.readUID(child)
        #expect(!uid.isEmpty)
        var delayed = false
        for _ in 0..<50 where !delayed {
            usleep(100_000)
            delayed = (try network.ping(from: network.a, to: network.addressB, count: 1, wait: 1).mean) > 40
        }
        #expect(delayed)
        kill(child.pid, SIGKILL)
        Spawn.wait(for: child.pid)

        let recovered = try attack(["recover", "--all"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stdout.contains(uid))
        #expect(try network.snapshots() == before)
        #expect(Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid).isEmpty)
        #expect(try network.ping(from: network.a, to: network.addressB, count: 5).mean < 1)
        let listed = try attack(["attack", "list"])
        #expect(!listed.stdout.contains(uid), "still listed as active: \(listed.stdout)")
    }

    @Test func kernelBackendWithoutNetemFailsClearlyAndLeavesNothing() throws {
        let runner = ProcessCommandRunner()
        guard !KernelSupport.hasQdisc("netem", runner: runner) else { return }
        let network = try TestNetwork()
        defer { network.tearDown(); cli.removeHome() }
        let before = try network.snapshots()
        let result = try attack(["attack", "network", "delay", "--netns", network.a, "--latency", "10ms",
                                 "--network-backend", "kernel"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("sch_netem"), "\(result.stderr)")
        #expect(try network.snapshots() == before)
    }
}
