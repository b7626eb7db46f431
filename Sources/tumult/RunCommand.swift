import ArgumentParser
import Foundation
import TumultController
import TumultDaemon
import TumultFaults
import TumultModel
import TumultServer

/// `tumult run -f FILE`: one experiment run without a server, for CI.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Validate, select, inject, hold for the duration, recover — and exit 0 only when all of it worked.",
        discussion: """
            Runs the experiments in the files (every one needs spec.duration, or give --duration) against the \
            pods of this machine, prints progress, and exits 0 only when every target was injected and \
            recovered. A steady-state check (--check-url, or a StatusCheck document among the files) is \
            probed before, during and after: when it fails during the run, every fault is recovered at once \
            and the exit status is 3. Ctrl-C recovers and exits 130.
            Every 2 s each fault is read back on the host (engine alive, rules and qdiscs present, workers \
            running, processes still stopped, cgroups still frozen ...); a fault found lost is applied again \
            and the run prints FaultLost / FaultRestored. \
            Exit status: 0 success; 1 an injection or recovery failed, a fault was lost and could not be \
            restored, or no target was selected; \
            2 invalid input; 3 the steady-state check failed.
            """
    )

    @OptionGroup var input: InputOptions

    @Option(help: ArgumentHelp("Labels and namespaces of the pods (default $TUMULT_INVENTORY, else $TUMULT_HOME/inventory.yaml).", valueName: "file"))
    var inventory: String?

    @Option(help: ArgumentHelp("How long each experiment holds, instead of its document's spec.duration (e.g. 30s).", valueName: "duration"))
    var duration: String?

    @Option(name: .customLong("check-url"),
            help: ArgumentHelp("Probe this URL before, during and after; a status outside 200-399 is a failure.", valueName: "url"))
    var checkURL: String?

    @Option(name: .customLong("check-interval"), help: ArgumentHelp("Seconds between probes of --check-url.", valueName: "seconds"))
    var checkInterval: Double = 1

    @Option(name: .customLong("journal"), help: ArgumentHelp("Write a JSON record of every step with timestamps to this file.", valueName: "file"))
    var journalPath: String?

    @Option(name: .customLong("network-backend"),
            help: "kernel: sch_netem; userspace: Tumult's NFQUEUE engine; auto: the kernel when it has netem.")
    var networkBackend: NetworkFault.Backend = .auto

    func validate() throws {
        if let duration {
            guard let parsed = try? GoDuration(parsing: duration), parsed.nanoseconds > 0 else {
                throw ValidationError("--duration: \"\(duration)\" is not a positive duration (e.g. 30s).")
            }
        }
        if let checkURL, URL(string: checkURL)?.scheme == nil {
            throw ValidationError("--check-url: \"\(checkURL)\" is not a URL.")
        }
        if checkInterval <= 0 { throw ValidationError("--check-interval must be positive.") }
    }

    func run() async throws {
        let (documents, check) = try loadDocuments()
        let record = RunJournal(path: journalPath)
        defer { record.write() }

        let journal = try Journal(directory: Journal.defaultDirectory())
        if try journal.isHalted() {
            throw RunFailure(status: 1, "Tumult is halted (emergency stop): nothing is injected until `tumult unhalt`")
        }
        let families = FamilyRegistry.standard(options: TranslationOptions(detachHelpers: false, networkBackend: networkBackend))
        let inventoryPath = LocalPodInventory.defaultPath(given: inventory, home: Journal.defaultDirectory())
        if let inventoryPath {
            do { _ = try InventoryFile.load(path: inventoryPath) } catch let error as InventoryFileError {
                throw RunFailure(status: 2, error.lines.joined(separator: "\n"))
            }
        }
        // This host's agent in process, its helpers tied to this process,
        // its attacks held by it in the foreground.
        var agent = LocalHostAgent(journal: journal, families: families,
                                   inventory: LocalPodInventory(inventoryPath: inventory, home: Journal.defaultDirectory()),
                                   owner: getpid())
        // The user runs the file on their own machine: its Tasks run too.
        agent.allowsTasks = true
        var settings = Controller.Configuration(supportedKinds: Set(families.translators.kinds))
        settings.retryDelay = 1
        settings.controllerID = "tumult-run-\(getpid())"
        // StatusChecks, alone or in Workflows, probe from this process.
        let prober = HTTPStatusProber()
        settings.statusProber = prober
        let controller: Controller
        do {
            controller = try Controller(agent: agent, store: InMemoryExperimentStore(), configuration: settings)
        } catch {
            try? await prober.shutdown()
            throw error
        }

        if let check {
            record.note("check", "probing \(check.url) before injecting")
            if let problem = await check.probe() {
                record.note("check", "steady state not met before the run: \(problem)")
                try? await prober.shutdown()
                throw RunFailure(status: 3, "steady state not met before the run (\(check.url)): \(problem); nothing was injected")
            }
        }

        var uids: [String] = []
        for document in documents {
            do {
                uids.append(try await controller.apply(document).uid)
            } catch {
                await controller.shutdown(recover: true)
                try? await prober.shutdown()
                throw RunFailure(status: 2, "\(document.kind.rawValue) \(document.name): \(error)")
            }
        }
        let interruption = Interruption()
        await controller.start()

        var lastEvent: Int64 = 0
        var failures = 0
        var checkFailure: String?
        var nextProbe = Date()
        while true {
            for event in ((try? await controller.events(EventFilter(limit: 1000))) ?? []).reversed() where event.id > lastEvent {
                lastEvent = max(lastEvent, event.id)
                record.event(event)
            }
            if await uids.asyncMap({ await controller.isSettled($0) }).allSatisfy({ $0 }) { break }
            if interruption.signalled {
                record.note("interrupted", "signal received: recovering")
                break
            }
            if let check, Date() >= nextProbe {
                nextProbe = Date().addingTimeInterval(check.interval)
                if let problem = await check.probe() {
                    failures += 1
                    record.note("check", "probe failed (\(failures)/\(check.failureThreshold)): \(problem)")
                    if failures >= check.failureThreshold {
                        checkFailure = problem
                        break
                    }
                } else {
                    failures = 0
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        await controller.shutdown(recover: true)
        try? await prober.shutdown()
        for event in ((try? await controller.events(EventFilter(limit: 1000))) ?? []).reversed() where event.id > lastEvent {
            lastEvent = max(lastEvent, event.id)
            record.event(event)
        }
        if let check {
            let after = await check.probe()
            record.note("check", after.map { "after the run: \($0)" } ?? "after the run: steady state holds")
        }

        let moment = await controller.currentDate()
        let records = await uids.asyncMap { await controller.experiment($0) }.compactMap { $0 }
        var problems: [String] = []
        for experiment in records {
            let label = "\(experiment.kind.rawValue) \(experiment.namespace)/\(experiment.name)"
            if let failure = experiment.failure { problems.append("\(label): \(failure)") }
            for target in experiment.records {
                if target.injectedCount == 0 {
                    problems.append("\(label): \(target.id) was never injected (\(target.events.last?.message ?? "no attempt"))")
                }
                let lost = target.faultsLost ?? 0, restored = target.faultsRestored ?? 0
                if lost > restored {
                    problems.append("\(label): \(target.id): \(lost - restored) of its faults \(lost - restored == 1 ? "was" : "were") lost "
                                    + "during the run and could not be restored at once")
                }
                if target.phase == .injected && !experiment.document.spec.isOneShot {
                    problems.append("\(label): \(target.id) is still injected (run `tumult recover --all`)")
                }
            }
            record.summary(experiment, at: moment)
        }
        if interruption.signalled { throw RunFailure(status: 130, "interrupted; every fault recovered") }
        // Workflows and status checks: an abort or a failed check is the
        // steady state failing (exit 3), as the run's own check.
        var finished: [String] = []
        var aborts: [String] = []
        for uid in uids {
            if let workflow = await controller.workflow(uid) {
                let nodes = workflow.state.nodes.map { "\($0.templateName) \($0.phase.rawValue)" }.joined(separator: ", ")
                switch workflow.phase {
                case .accomplished: finished.append("workflow \(workflow.name) accomplished (\(nodes))")
                case .aborted: aborts.append("workflow \(workflow.name) aborted: \(workflow.state.abort?.reason ?? "") (\(nodes))")
                default:
                    problems.append("workflow \(workflow.name) \(workflow.phase.rawValue.lowercased())"
                                    + (workflow.state.failure.map { ": \($0)" } ?? "") + " (\(nodes))")
                }
            } else if let check = await controller.statusCheck(uid) {
                if check.state.verdict == .failed {
                    aborts.append("status check \(check.name) failed after \(check.state.count) probes")
                } else {
                    finished.append("status check \(check.name) \(check.state.outcome.rawValue) after \(check.state.count) probes")
                }
            }
        }
        for line in finished { print(line) }
        if !aborts.isEmpty {
            throw RunFailure(status: 3, aborts.joined(separator: "\n") + "; every fault was recovered")
        }
        if let checkFailure {
            throw RunFailure(status: 3, "steady state failed during the run (\(check!.url)): \(checkFailure); every fault was recovered at once")
        }
        guard problems.isEmpty else { throw RunFailure(status: 1, problems.joined(separator: "\n")) }
        let targets = records.reduce(0) { $0 + $1.records.count }
        if records.isEmpty && !finished.isEmpty {
            print("ok: \(finished.count) done, every fault recovered")
            return
        }
        print("ok: \(records.count) experiment\(records.count == 1 ? "" : "s"), \(targets) target\(targets == 1 ? "" : "s") injected and recovered")
    }

    /// The experiments to run and the steady-state check, or exit 2 with
    /// every problem of every document.
    func loadDocuments() throws -> ([ChaosDocument], StatusProbe?) {
        var documents: [ChaosDocument] = []
        var probe: StatusProbe?
        var problems: [String] = []
        let loader = DocumentLoader(strict: input.strict)
        let override = duration.flatMap { try? GoDuration(parsing: $0) }
        for item in input.readInputs() {
            switch item.text {
            case .failure(let error):
                problems.append("\(item.name): \(error)")
            case .success(let text):
                let reports: [DocumentLoader.Report]
                do { reports = try loader.load(text) } catch {
                    problems.append("\(item.name): \(error)")
                    continue
                }
                for report in reports {
                    for diagnostic in report.diagnostics.errors {
                        problems.append("\(item.name): \(report.label): \(diagnostic)")
                    }
                    guard let document = report.document else { continue }
                    if let check = document.spec as? StatusCheckSpec {
                        guard let made = StatusProbe(check) else {
                            problems.append("\(item.name): \(report.label): spec.http: only HTTP status checks are supported")
                            continue
                        }
                        probe = made
                    } else if document.kind.isFault {
                        if document.spec.duration == nil && !document.spec.isOneShot && override == nil {
                            problems.append("\(item.name): \(report.label): spec.duration: required by tumult run (or give --duration)")
                        }
                        documents.append(Self.withDuration(document, override))
                    } else if document.kind == .workflow {
                        // Its nodes have deadlines, not durations: run as written.
                        documents.append(document)
                    } else {
                        problems.append("\(item.name): \(report.label): kind: \(document.kind.rawValue) is not run by tumult run (use tumult server)")
                    }
                }
            }
        }
        if let checkURL, let url = URL(string: checkURL) {
            probe = StatusProbe(url: url)
            probe?.interval = checkInterval
        }
        if documents.isEmpty && problems.isEmpty { problems.append("no chaos experiment in the input") }
        guard problems.isEmpty else { throw RunFailure(status: 2, problems.joined(separator: "\n")) }
        return (documents, probe)
    }

    /// The document with `--duration` instead of its own: a CI job or a
    /// first try shortens (or lengthens) a run without editing the file.
    static func withDuration(_ document: ChaosDocument, _ duration: GoDuration?) -> ChaosDocument {
        guard let duration, !document.spec.isOneShot,
              case .object(var object)? = try? document.encoded(), case .object(var spec)? = object["spec"] else { return document }
        spec["duration"] = .string(duration.text)
        object["spec"] = .object(spec)
        return DocumentLoader().check(.object(object)).document ?? document
    }
}

/// An exit with a status and what to tell the user.
struct RunFailure: Error, CustomStringConvertible {
    var status: Int32
    var description: String

    init(status: Int32, _ message: String) {
        self.status = status
        self.description = message
    }
}

/// SIGINT and SIGTERM ask the run to recover and stop.
final class Interruption: @unchecked Sendable {
    private let sources: [DispatchSourceSignal]
    private let lock = NSLock()
    private var received = false

    init() {
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            sources.append(DispatchSource.makeSignalSource(signal: signalNumber, queue: .global()))
        }
        self.sources = sources
        for source in sources {
            source.setEventHandler { [weak self] in self?.set() }
            source.resume()
        }
    }

    private func set() { lock.withLock { received = true } }
    var signalled: Bool { lock.withLock { received } }
}

/// Progress on the terminal and, with `--journal`, every step as JSON.
final class RunJournal: @unchecked Sendable {
    struct Step: Encodable {
        var time: Date
        var step: String
        var object: String?
        var message: String
    }

    struct Summary: Encodable {
        var experiment: String
        var status: String
        var targets: [TargetSummary]
    }

    struct TargetSummary: Encodable {
        var id: String
        var phase: String
        var injected: Int
        var recovered: Int
        /// Faults found lost during the run, and how many were restored.
        var lost: Int
        var restored: Int
    }

    let path: String?
    private var steps: [Step] = []
    private var summaries: [Summary] = []
    private let started = Date()

    init(path: String?) {
        self.path = path
    }

    func event(_ event: EventRecord) {
        let object = "\(event.kind)/\(event.name)"
        emit(Step(time: event.createdAt, step: event.reason, object: object, message: event.message))
    }

    func note(_ step: String, _ message: String) {
        emit(Step(time: Date(), step: step, object: nil, message: message))
    }

    private func emit(_ step: Step) {
        steps.append(step)
        let offset = String(format: "%6.2fs", step.time.timeIntervalSince(started))
        print("\(offset)  \(step.step.count >= 10 ? step.step : step.step.padding(toLength: 10, withPad: " ", startingAt: 0)) \(step.object.map { "\($0): " } ?? "")\(step.message)")
        fflush(nil)
    }

    func summary(_ record: ExperimentRecord, at moment: Date) {
        summaries.append(Summary(
            experiment: "\(record.kind.rawValue)/\(record.namespace)/\(record.name)", status: record.status(at: moment).rawValue,
            targets: record.records.map {
                TargetSummary(id: $0.id, phase: $0.phase.rawValue, injected: $0.injectedCount, recovered: $0.recoveredCount,
                              lost: $0.faultsLost ?? 0, restored: $0.faultsRestored ?? 0)
            }))
    }

    func write() {
        guard let path else { return }
        struct File: Encodable { var started: Date; var finished: Date; var steps: [Step]; var experiments: [Summary] }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)))
        }
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let data = try? encoder.encode(File(started: started, finished: Date(), steps: steps, experiments: summaries)) {
            _ = FileManager.default.createFile(atPath: path, contents: data)
        }
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var results: [T] = []
        for element in self { results.append(await transform(element)) }
        return results
    }
}
