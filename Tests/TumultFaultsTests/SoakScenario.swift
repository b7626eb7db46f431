import Foundation
import TumultSystem

/// What the scenarios of one test share: the field, how long faults last,
/// the server of the moment, and everything to clean up afterwards (every
/// home gets `tumult recover --all`, whatever happened).
final class SoakContext: @unchecked Sendable {
    let field: SoakField
    /// Seconds each fault lasts.
    let duration: Int
    /// The home of the test's servers (a restarted server keeps it).
    let serverCLI = TumultCLI()
    private let lock = NSLock()
    private var url = ""
    private var clis: [TumultCLI] = []
    private var files: [String] = []
    private var servers: [FixedPortServer] = []
    private var scenarios: [Scenario] = []

    init(field: SoakField, duration: Int) {
        self.field = field
        self.duration = duration
        clis.append(serverCLI)
    }

    var serverURL: String {
        get { lock.withLock { url } }
        set { lock.withLock { url = newValue } }
    }

    /// A `tumult server` on `port` with the test's server home; it becomes the server of the moment.
    func startServer(port: Int) throws -> FixedPortServer {
        let server = try FixedPortServer(serverCLI, port: port, inventory: field.inventory)
        lock.withLock { servers.append(server) }
        serverURL = server.url
        return server
    }

    func scenario(_ spot: Spot) -> Scenario {
        let scenario = Scenario(spot, context: self)
        lock.withLock { scenarios.append(scenario) }
        return scenario
    }

    /// A CLI with a home of its own, cleaned up with the context.
    func newCLI() -> TumultCLI {
        let cli = TumultCLI()
        lock.withLock { clis.append(cli) }
        return cli
    }

    func temporary(_ text: String, _ name: String) throws -> String {
        let path = try writeTemporary(text, name)
        lock.withLock { files.append(path) }
        return path
    }

    /// Stops what the scenarios left running (SIGTERM: foreground attacks
    /// and runs recover), then the servers (they recover what they
    /// injected), then recovers whatever any journal still holds.
    func tearDown() {
        let (scenarios, servers, clis, files) = lock.withLock { (self.scenarios, self.servers, self.clis, self.files) }
        _ = inParallel(scenarios.map { scenario in { @Sendable in scenario.abort() } })
        for server in servers where server.isRunning { server.stop() }
        for cli in clis {
            if FileManager.default.fileExists(atPath: cli.home) { _ = try? cli.run(["recover", "--all"]) }
            cli.removeHome()
        }
        for file in files { try? FileManager.default.removeItem(atPath: file) }
    }
}

/// One spot's fault from start to end: launched its way, sampled from
/// outside, brought to its end, checked against its baseline. Problems are
/// collected as text, named after the spot, and recorded by the test.
final class Scenario: @unchecked Sendable {
    let spot: Spot
    let context: SoakContext
    var field: SoakField { context.field }
    private let lock = NSLock()
    private var storage = Storage()

    private struct Storage {
        var process: RunningTumult?
        var reaped = false
        var cli: TumultCLI?
        var uid: String?
        var launchedAt: Date?
        var readyAt: Date?
        var finishedAt: Date?
        var baseline = ""
        var readings: [(second: Int, reading: Reading)] = []
        var before: Reading?
        var after: Reading?
        var problems: [String] = []
    }

    init(_ spot: Spot, context: SoakContext) {
        self.spot = spot
        self.context = context
    }

    var process: RunningTumult? { lock.withLock { storage.process } }
    var uid: String? { lock.withLock { storage.uid } }
    var launchedAt: Date? { lock.withLock { storage.launchedAt } }
    var readyAt: Date? { lock.withLock { storage.readyAt } }
    var finishedAt: Date? { lock.withLock { storage.finishedAt } }
    var readings: [(second: Int, reading: Reading)] { lock.withLock { storage.readings } }
    var before: Reading? { lock.withLock { storage.before } }
    var after: Reading? { lock.withLock { storage.after } }
    var problems: [String] { lock.withLock { storage.problems } }
    /// Whether it is a chaosd attack of the server (no experiment kind runs the family).
    var isChaosdAttack: Bool { spot.way == .server && field.document(spot, name: "x", duration: nil) == nil }

    func note(_ problem: String) { lock.withLock { storage.problems.append(problem) } }
    func record(_ second: Int, _ reading: Reading) { lock.withLock { storage.readings.append((second, reading)) } }
    private func update(_ change: (inout Storage) -> Void) { lock.withLock { change(&storage) } }

    // MARK: Before

    /// The target's state and a probe before the fault: the probe must find no trace of it.
    func takeBaseline() {
        if spot.family == .stress { _ = field.probe(spot) }
        let reading = field.probe(spot)
        let state = field.state(spot)
        update {
            $0.baseline = state
            $0.before = reading
        }
        if !reading.clean { note("before the fault the probe already reads \(reading.value): the set-up is wrong") }
    }

    // MARK: Start

    /// Starts the fault its way and returns once it says the fault is in place.
    func launch() {
        update { $0.launchedAt = Date() }
        do {
            switch spot.way {
            case .run: try launchRun()
            case .server: try isChaosdAttack ? launchChaosd() : launchExperiment()
            case .attack: try launchForeground()
            case .detached: try launchDetached()
            }
        } catch {
            note("could not start: \(error)")
        }
    }

    /// The fault is in place: from now on every sample must see it. A CPU
    /// share is measured over the window since the previous reading, so the
    /// window restarts here rather than at the baseline taken before launch
    /// (a fault that took 3 s of a loaded machine to start would otherwise
    /// count its own start-up as "no effect").
    private func ready() {
        if spot.family == .stress { _ = field.probe(spot) }
        update { $0.readyAt = Date() }
    }

    private func launchRun() throws {
        guard let document = field.document(spot, name: "soak-\(spot.key)", duration: context.duration) else {
            return note("tumult run has no Chaos Mesh kind for \(spot.family)")
        }
        let cli = context.newCLI()
        let file = try context.temporary(document, "\(spot.key).yaml")
        let process = try RunningTumult(cli, ["run", "-f", file, "--inventory", field.inventory])
        update {
            $0.cli = cli
            $0.process = process
        }
        if process.waitForBlocking("Applied", timeout: 30) { return ready() }
        note("tumult run did not report the injection within 30 s:\n\(process.tail())")
    }

    private func launchExperiment() throws {
        let document = field.document(spot, name: "soak-\(spot.key)", duration: context.duration)!
        let response = try LoopbackHTTP.request("POST", context.serverURL + "/api/experiments", body: document,
                                                contentType: "application/yaml")
        guard (200..<300).contains(response.status), let uid = (response.json as? [String: Any])?["uid"] as? String else {
            return note("POST /api/experiments answered \(response.status): \(response.body)")
        }
        update { $0.uid = uid }
        // Running: every target injected.
        let deadline = Date().addingTimeInterval(30)
        var status = "unknown"
        while Date() < deadline {
            status = experimentStatus() ?? "unknown"
            if status == "running" { return ready() }
            if status == "failed" { break }
            usleep(200_000)
        }
        note("experiment \(uid) is \(status), not running: \(experimentDetail())")
    }

    private func launchChaosd() throws {
        let (kind, body) = field.chaosdAttack(spot)!
        let response = try LoopbackHTTP.request("POST", context.serverURL + "/api/attack/\(kind)", body: body)
        guard (200..<300).contains(response.status), let uid = (response.json as? [String: Any])?["uid"] as? String else {
            return note("POST /api/attack/\(kind) answered \(response.status): \(response.body)")
        }
        update { $0.uid = uid }
        ready()
    }

    private func launchForeground() throws {
        let cli = context.newCLI()
        let process = try RunningTumult(cli, field.attackArguments(spot) + ["--duration", "\(context.duration)s"])
        update {
            $0.cli = cli
            $0.process = process
        }
        // The progress line comes once the fault is in place; the uid before it.
        if process.waitForBlocking(" of \(context.duration)s", timeout: 30) {
            let uid = process.text.split(separator: "\n").first.map { String($0).trimmingCharacters(in: .whitespaces) }
            update { $0.uid = uid }
            return ready()
        }
        note("tumult attack did not report the fault in place within 30 s:\n\(process.tail())")
    }

    private func launchDetached() throws {
        let cli = context.newCLI()
        update { $0.cli = cli }
        let result = try cli.run(field.attackArguments(spot))
        guard result.succeeded else { return note("tumult attack failed (\(result.status)): \(result.stderr)") }
        update { $0.uid = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        ready()
    }

    // MARK: The server's view

    func experimentStatus() -> String? {
        guard let uid,
              let response = try? LoopbackHTTP.request("GET", context.serverURL + "/api/experiments/\(uid)", timeout: 3),
              response.status == 200 else { return nil }
        return (response.json as? [String: Any])?["status"] as? String
    }

    func experimentDetail() -> String {
        guard let uid, let response = try? LoopbackHTTP.request("GET", context.serverURL + "/api/experiments/\(uid)", timeout: 3) else {
            return "(no answer from \(context.serverURL))"
        }
        return String(response.body.prefix(3000))
    }

    // MARK: End

    /// Brings the fault to its end its way: waits for the process or the
    /// experiment to finish (a few seconds of slack), or removes a chaosd
    /// attack (they have no duration) once the duration is over.
    func finish() {
        guard let launchedAt else { return }
        let end = launchedAt.addingTimeInterval(TimeInterval(context.duration))
        switch spot.way {
        case .run, .attack:
            guard let process, !lock.withLock({ storage.reaped }) else { return }
            let (status, stopped) = process.finish(by: end.addingTimeInterval(25))
            update {
                $0.reaped = true
                $0.finishedAt = Date()
            }
            if stopped { note("still running 25 s after its \(context.duration) s; stopped it:\n\(process.tail())") }
            else if status != 0 { note("exited with status \(status):\n\(process.tail())") }
            // Nothing touched the faults: a loss reported here is a liveness
            // check that misreads a fault which holds (or a real loss).
            if process.text.contains("FaultLost") || process.text.contains("fault lost") {
                note("the liveness check reported the fault lost although nothing touched it:\n\(process.tail())")
            }
        case .server where isChaosdAttack:
            guard let uid else { return }
            sleepUntil(end)
            do {
                let response = try LoopbackHTTP.request("DELETE", context.serverURL + "/api/attack/\(uid)")
                update { $0.finishedAt = Date() }
                if response.status != 200 { note("DELETE /api/attack/\(uid) answered \(response.status): \(response.body)") }
            } catch {
                note("DELETE /api/attack/\(uid): \(error)")
            }
        case .server:
            guard uid != nil else { return }
            let deadline = end.addingTimeInterval(20)
            var status = "unknown"
            while Date() < deadline {
                status = experimentStatus() ?? "unknown"
                if status == "finished" {
                    update { $0.finishedAt = Date() }
                    return
                }
                usleep(250_000)
            }
            note("experiment is \(status), not finished, 20 s after its \(context.duration) s: \(experimentDetail())")
        case .detached:
            guard let uid, let cli = lock.withLock({ storage.cli }) else { return }
            let result = (try? cli.run(["recover", uid])) ?? CommandResult(status: -1)
            update { $0.finishedAt = Date() }
            if !result.succeeded { note("tumult recover \(uid) failed: \(result.stderr)") }
        }
    }

    /// Once it is over: the probe finds no trace of the fault (a few
    /// seconds allowed), and the target is as it was before.
    func checkAfter() {
        let deadline = Date().addingTimeInterval(8)
        if spot.family == .stress {
            _ = field.probe(spot)
            Thread.sleep(forTimeInterval: 1.5)
        }
        var reading = field.probe(spot)
        var state = field.state(spot)
        let baseline = lock.withLock { storage.baseline }
        while (!reading.clean || state != baseline) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            reading = field.probe(spot)
            state = field.state(spot)
        }
        update { $0.after = reading }
        if !reading.clean { note("after the end the probe still reads \(reading.value)") }
        if state != baseline { note("after the end the target differs from its baseline:\n\(Self.difference(baseline, state))") }
    }

    /// Lines only before (-) and only after (+).
    static func difference(_ before: String, _ after: String) -> String {
        let old = before.split(separator: "\n").map(String.init), new = after.split(separator: "\n").map(String.init)
        let removed = old.filter { !new.contains($0) }.map { "- " + $0 }
        let added = new.filter { !old.contains($0) }.map { "+ " + $0 }
        return (removed + added).joined(separator: "\n")
    }

    /// Every sample in which the effect was missing.
    var sampleProblems: [String] {
        readings.filter { !$0.reading.faulted }.map { "at \($0.second) s the effect was gone: \($0.reading.value)" }
    }

    /// Everything wrong with this spot, for one failure message.
    var report: String {
        (problems + sampleProblems).joined(separator: "\n")
    }

    // MARK: Clean-up

    /// Stops its process if it still runs (SIGTERM: it recovers), recovers
    /// a detached attack, and deletes a chaosd attack.
    func abort() {
        if let process, !lock.withLock({ storage.reaped }) {
            _ = process.finish(by: Date())
            update { $0.reaped = true }
        }
        if spot.way == .detached, finishedAt == nil, let uid, let cli = lock.withLock({ storage.cli }) {
            _ = try? cli.run(["recover", uid])
        }
        // chaosd's attacks stay until deleted, whatever happens to the server.
        if isChaosdAttack, finishedAt == nil, let uid {
            _ = try? LoopbackHTTP.request("DELETE", context.serverURL + "/api/attack/\(uid)")
            update { $0.finishedAt = Date() }
        }
    }

    // MARK: Reporting

    /// family × way × sample: each cell the measurement, `!` where the effect was missing.
    static func table(_ scenarios: [Scenario], seconds: [Int]) -> String {
        let width = 10
        func cell(_ text: String) -> String { text.count >= width ? String(text.prefix(width - 1)) + " " : text.padding(toLength: width, withPad: " ", startingAt: 0) }
        var lines = ["fault / way".padding(toLength: 22, withPad: " ", startingAt: 0) + cell("before")
                     + seconds.map { cell("\($0)s") }.joined() + cell("after")]
        for scenario in scenarios {
            let readings = scenario.readings
            var line = scenario.spot.description.padding(toLength: 22, withPad: " ", startingAt: 0)
            line += cell(scenario.before.map { $0.value + ($0.clean ? "" : "!") } ?? "-")
            for second in seconds {
                if let reading = readings.first(where: { $0.second == second })?.reading {
                    line += cell(reading.value + (reading.faulted ? "" : "!"))
                } else {
                    line += cell("-")
                }
            }
            line += cell(scenario.after.map { $0.value + ($0.clean ? "" : "!") } ?? "-")
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
