import Foundation
import Testing
import TumultSystem

/// Every fault family, in each of the three ways a fault runs, held for
/// 60 s side by side in one window and sampled every 5 s from outside its
/// target: the effect must be there at every sample, gone after the end,
/// and every target back to its baseline.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct SoakTests {
    static let duration = 60
    static let interval = 5

    /// Every family in every way, each with a target of its own, except two
    /// for `tumult run`: it runs Chaos Mesh documents, and no Chaos Mesh kind
    /// that Tumult runs yet stops a process (PodChaos kills or freezes) or
    /// fills a disk (IOChaos slows or fails file operations instead). Those two run in the server
    /// through chaosd's attack API, and as `tumult attack`.
    static let spots: [Spot] = {
        let families: [Family] = [.delay, .loss, .partition, .bandwidth, .stress, .stop, .freeze, .dns, .fill]
        var spots: [Spot] = []
        for way in [Way.run, .server, .attack] {
            for family in families where !(way == .run && [.stop, .fill].contains(family)) {
                spots.append(Spot(family: family, way: way))
            }
        }
        return spots
    }()

    @Test func everyFaultHoldsForItsWholeDurationInEachWayItRuns() async throws {
        let started = Date()
        let field = try await offPool { try SoakField(spots: Self.spots, stressLoad: 50) }
        let context = SoakContext(field: field, duration: Self.duration)
        defer {
            context.tearDown()
            field.tearDown()
        }
        let scenarios = Self.spots.map(context.scenario)
        let server = try context.startServer(port: try LoopbackHTTP.freePort())
        let answered = try await offPool { server.firstAnswer(within: 20) }
        try #require(answered != nil, "tumult server did not answer:\n\(server.process.tail())")

        let seconds = try await offPool { Self.soak(scenarios, context) }
        print("soak of \(scenarios.count) faults, \(Self.duration) s each, side by side (\(Int(Date().timeIntervalSince(started))) s "
              + "with set-up); ! marks a reading without the fault's effect (or, before and after, with it):\n"
              + Scenario.table(scenarios, seconds: seconds))
        for scenario in scenarios {
            let report = scenario.report
            #expect(report.isEmpty, "\(scenario.spot): \(report)")
        }
        // Nothing touched the server's faults either: no loss may be reported.
        let events = try LoopbackHTTP.request("GET", server.url + "/api/events?limit=1000", timeout: 5)
        #expect(!events.body.contains("FaultLost"), "the server reported a loss nothing caused: \(events.body)")
    }

    /// Baselines, then every fault started at once, sampled every
    /// `interval` seconds until just before the earliest can end (each
    /// sample takes at most ~2.5 s), brought to its end, and checked
    /// after. Returns the seconds sampled.
    static func soak(_ scenarios: [Scenario], _ context: SoakContext) -> [Int] {
        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.takeBaseline() } })
        let start = Date()
        // Started in the background: sampling begins on time, with whatever says it is in place.
        let launches = DispatchGroup()
        for scenario in scenarios {
            launches.enter()
            Thread {
                scenario.launch()
                launches.leave()
            }.start()
        }
        let seconds = Array(stride(from: interval, to: context.duration - 2, by: interval))
        for second in seconds {
            sleepUntil(start.addingTimeInterval(TimeInterval(second)))
            let live = scenarios.filter { $0.readyAt != nil }
            let readings = inParallel(live.map { scenario in { @Sendable in context.field.probe(scenario.spot) } })
            for (scenario, reading) in zip(live, readings) { scenario.record(second, reading) }
        }
        launches.wait()
        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.finish() } })
        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.checkAfter() } })
        return seconds
    }
}
