import Foundation
import Testing
import TumultAgent
import TumultDaemon
import TumultFaults
import TumultModel
import TumultSystem

/// PhysicalMachineChaos turned into chaosd's bodies, then into the faults
/// the families make of them (pure: planned, nothing injected), and the
/// actions no family runs refused by name.
@Suite struct PhysicalMachineChaosTranslationTests {
    let registry = TranslatorRegistry.standard()
    let machine = Machine(name: "db-1", address: "https://10.0.0.5:31768", source: .document).asTarget

    func plan(_ action: String, _ settings: String) throws -> [PlannedFault] {
        let reports = try DocumentLoader().load("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: PhysicalMachineChaos
            metadata: {name: pm}
            spec:
              action: \(action)
              mode: all
              address: ["https://10.0.0.5:31768"]
              \(action): \(settings)
            """)
        let document = try #require(reports.first?.document, "\(String(describing: reports.first?.diagnostics))")
        return try registry.faults(for: document, target: machine, peers: [], options: TranslationOptions(detachHelpers: false))
    }

    @Test func networkDelayBecomesTheHostsNetworkFault() throws {
        let planned = try plan("network-delay", "{device: lo, latency: 100ms, jitter: 10ms, correlation: \"25\"}")
        #expect(planned.count == 1 && planned[0].family == "network" && planned[0].action == "network delay")
        let fault = try JSONDecoder().decode(NetworkFault.self, from: Data(planned[0].encodedFault.utf8))
        #expect(fault.namespace == .host && fault.device == "lo")
        #expect(fault.netem.latency == 100_000_000 && fault.netem.jitter == 10_000_000 && fault.netem.delayCorrelation == 25)
    }

    @Test func stressCPUBecomesAStressFaultWithItsLoadAndWorkers() throws {
        let planned = try plan("stress-cpu", "{load: 30, workers: 2}")
        #expect(planned.count == 1 && planned[0].family == "stress" && planned[0].action == "stress cpu")
        let fault = try JSONDecoder().decode(StressFault.self, from: Data(planned[0].encodedFault.utf8))
        #expect(fault.load == 30 && fault.workers == 2 && fault.target == .host)
    }

    @Test func processWithoutAnActionStopsOnSIGSTOPAndKillsOtherwise() throws {
        let sleeper = try Spawn.start(["sleep", "30"], captureOutput: false)
        defer {
            kill(sleeper.pid, SIGKILL)
            Spawn.wait(for: sleeper.pid)
        }
        let stop = try plan("process", "{process: \"\(sleeper.pid)\", signal: 19}")
        #expect(stop.map(\.action) == ["process stop"])
        let kill = try plan("process", "{process: \"\(sleeper.pid)\", signal: 15}")
        #expect(kill.map(\.action) == ["process kill"])
        #expect(kill[0].summary.contains("15") || kill[0].summary.contains("TERM"), "\(kill[0].summary)")
    }

    /// What the document holds is checked on the host as chaosd's body is:
    /// a device this machine does not have is the request's mistake, named.
    @Test func whatTheHostLacksIsRefusedNamingTheField() throws {
        #expect {
            _ = try plan("network-delay", "{device: tmt-nodev0, latency: 10ms}")
        } throws: { error in
            (error as? AgentError)?.fields.first?.path == "device"
        }
    }

    @Test func actionsNoFamilyRunsAreRefusedByName() throws {
        #expect {
            _ = try plan("jvm-gc", "{pid: 1234}")
        } throws: { error in
            let message = String(describing: error)
            return message.contains("jvm-gc") && message.contains("network-delay")
        }
    }
}
