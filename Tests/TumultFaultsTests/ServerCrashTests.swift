import Foundation
import Testing
import TumultSystem

/// kill -9 of `tumult server` while a fault of every family it runs is in
/// place: a new server on the same port and home answers at once, every
/// fault holds through the crash, the experiments end on time, and every
/// target is back to its baseline afterwards.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct ServerCrashTests {
    static let duration = 40
    static let killedAt = 10
    /// Seconds sampled after the start: one before the kill, the rest after the restart.
    static let before = [5]
    static let after = [12, 15, 20, 25, 30, 35]

    /// Experiments for every kind the server runs, and chaosd's direct
    /// attacks for the two families no kind runs (they have no duration:
    /// deleted through the new server once the duration is over).
    static let spots: [Spot] = [Family.delay, .partition, .bandwidth, .stress, .freeze, .dns, .stop, .fill]
        .map { Spot(family: $0, way: .server) }

    /// What happened around the crash.
    final class Crash: @unchecked Sendable {
        var restartedIn: TimeInterval?
        var problems: [String] = []
    }

    @Test func faultsOutliveAKilledServerAndTheNextOneOnTheSamePortEndsThemOnTime() async throws {
        let started = Date()
        let field = try await offPool { try SoakField(spots: Self.spots, stressLoad: 50) }
        let context = SoakContext(field: field, duration: Self.duration)
        defer {
            context.tearDown()
            field.tearDown()
        }
        let scenarios = Self.spots.map(context.scenario)
        let port = try LoopbackHTTP.freePort()
        let first = try context.startServer(port: port)
        let answered = try await offPool { first.firstAnswer(within: 20) }
        try #require(answered != nil, "the first tumult server did not answer:\n\(first.process.tail())")

        let crash = try await offPool { Self.crash(scenarios, context, first: first, port: port) }
        print("server killed with SIGKILL \(Self.killedAt) s into \(scenarios.count) faults of \(Self.duration) s; the new server "
              + "on port \(port) answered \(crash.restartedIn.map { String(format: "%.2f s", $0) } ?? "never") after its start "
              + "(\(Int(Date().timeIntervalSince(started))) s with set-up); ! marks a reading without the fault's effect:\n"
              + Scenario.table(scenarios, seconds: Self.before + Self.after))
        let crashed = crash.problems.joined(separator: "\n")
        #expect(crashed.isEmpty, "\(crashed)")
        for scenario in scenarios {
            let report = scenario.report
            #expect(report.isEmpty, "\(scenario.spot): \(report)")
        }
    }

    static func crash(_ scenarios: [Scenario], _ context: SoakContext, first: FixedPortServer, port: Int) -> Crash {
        let crash = Crash()
        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.takeBaseline() } })
        let start = Date()
        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.launch() } })
        func sample(_ second: Int) {
            sleepUntil(start.addingTimeInterval(TimeInterval(second)))
            let live = scenarios.filter { $0.readyAt != nil }
            let readings = inParallel(live.map { scenario in { @Sendable in context.field.probe(scenario.spot) } })
            for (scenario, reading) in zip(live, readings) { scenario.record(second, reading) }
        }
        for second in before { sample(second) }

        sleepUntil(start.addingTimeInterval(TimeInterval(killedAt)))
        first.killHard()
        // Nothing may listen on the dead server's port: a helper that inherited its socket would.
        let held = SocketTable.listening(port: port, seenBy: getpid())
        if !held.isEmpty {
            crash.problems.append("after kill -9 of the server, port \(port) is still held:\n\(SocketTable.whoListens(port: port))")
        }
        // At once, on the same port and home: the crash-recovery path a supervisor takes.
        do {
            let second = try context.startServer(port: port)
            crash.restartedIn = second.firstAnswer(within: 1)
            if crash.restartedIn == nil {
                // Who holds the port now, before anything changes.
                let listeners = SocketTable.whoListens(port: port)
                let later = second.firstAnswer(within: 10)
                crash.problems.append("the new server on port \(port) did not answer GET /api/experiments/state within 1 s of its start "
                                      + "(\(later.map { String(format: "it did after %.2f s", $0) } ?? "nor within 10 s")); "
                                      + "port \(port) 1 s after its start:\n\(listeners)\nthe new server printed:\n\(second.process.tail())")
            }
        } catch {
            crash.problems.append("could not start a new server: \(error)")
        }
        for second in after { sample(second) }

        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.finish() } })
        // On time: an experiment is finished (every target recovered) within a few seconds of creation + duration, not before.
        for scenario in scenarios where !scenario.isChaosdAttack {
            guard let launched = scenario.launchedAt, let finished = scenario.finishedAt else { continue }
            let took = finished.timeIntervalSince(launched)
            if took < TimeInterval(duration) - 1 || took > TimeInterval(duration) + 5 {
                scenario.note(String(format: "finished %.1f s after it was created, not within 5 s after its %d s", took, duration))
            }
        }
        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.checkAfter() } })
        // Nothing left to recover in the journal the two servers shared.
        if let listed = try? context.serverCLI.run(["attack", "list"]) {
            let rows = listed.stdout.split(separator: "\n").dropFirst()
            if !rows.isEmpty { crash.problems.append("the journal still lists attacks to recover:\n\(rows.joined(separator: "\n"))") }
        }
        return crash
    }
}
