import Foundation
import Testing
import TumultDaemon
import TumultFaults
import TumultModel
import TumultSystem

/// Chaos Mesh documents, as written, turned into Tumult's faults: pure, no
/// host touched. Each planned fault is decoded back from the JSON the
/// journal would keep and checked field by field.
@Suite struct TranslatorTests {
    static let web = Pod(name: "web-1", namespace: "shop", netns: "tmt-web-1", ips: ["10.1.0.2"], source: .netns)
    static let db1 = Pod(name: "db-1", namespace: "shop", netns: "tmt-db-1", ips: ["10.1.0.3", "fd00::3"], source: .netns)
    static let db2 = Pod(name: "db-2", namespace: "shop", netns: "tmt-db-2", ips: ["10.1.0.4"], source: .netns)
    static let v6only = Pod(name: "db-6", namespace: "shop", netns: "tmt-db-6", ips: ["fd00::6"], source: .netns)
    static let container = Pod(name: "api", pid: 4242, ips: ["172.17.0.2"], source: .docker)
    static let pidOnly = Pod(name: "worker", pid: 4343, source: .given)
    static let ghost = Pod(name: "ghost")

    let registry = TranslatorRegistry.standard()
    let options = TranslationOptions(detachHelpers: false, networkBackend: .userspace)

    // MARK: Helpers

    func document(_ yaml: String) throws -> ChaosDocument {
        let reports = try DocumentLoader().load(yaml)
        return try #require(reports.first?.document, "not a valid document: \(String(describing: reports.first?.diagnostics))")
    }

    func plan(_ yaml: String, target: Pod = web, peers: [Pod] = [], options: TranslationOptions? = nil) throws -> [PlannedFault] {
        try registry.faults(for: try document(yaml), target: target, peers: peers, options: options ?? self.options)
    }

    func decoded<Fault: Decodable>(_ type: Fault.Type, _ planned: PlannedFault) throws -> Fault {
        try JSONDecoder().decode(type, from: Data(planned.encodedFault.utf8))
    }

    func network(_ yaml: String, target: Pod = web, peers: [Pod] = [], options: TranslationOptions? = nil) throws -> [NetworkFault] {
        let planned = try plan(yaml, target: target, peers: peers, options: options)
        #expect(planned.allSatisfy { $0.family == "network" })
        return try planned.map { try decoded(NetworkFault.self, $0) }
    }

    /// The translation error (a `FaultError`) of a document.
    func failure(_ yaml: String, target: Pod = web, peers: [Pod] = [], options: TranslationOptions? = nil) throws -> FaultError {
        let document = try self.document(yaml)
        do {
            _ = try registry.faults(for: document, target: target, peers: peers, options: options ?? self.options)
        } catch let error as FaultError {
            return error
        }
        Issue.record("translation did not fail")
        return FaultError(.invalidFault, "")
    }

    static func networkChaos(_ spec: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata: {name: net, namespace: shop}
        spec:
          mode: all
          selector: {namespaces: [shop]}
        \(spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    // MARK: NetworkChaos

    @Test func delayCarriesLatencyJitterCorrelationAndReorder() throws {
        let faults = try network(Self.networkChaos("""
            action: delay
            device: eth0@if12
            delay:
              latency: 90ms
              jitter: 10ms
              correlation: "25"
              reorder: {reorder: "10", correlation: "5", gap: 3}
            """))
        let fault = try #require(faults.first)
        #expect(faults.count == 1)
        #expect(fault.action == .delay)
        #expect(fault.namespace == .named("tmt-web-1"))
        #expect(fault.device == "eth0")
        #expect(fault.direction == .to)
        #expect(fault.backend == .userspace)
        #expect(fault.peers.isEmpty && fault.hostnames.isEmpty)
        #expect(fault.netem.latency == 90_000_000)
        #expect(fault.netem.jitter == 10_000_000)
        #expect(fault.netem.delayCorrelation == 25)
        #expect(fault.netem.reorder == 10)
        #expect(fault.netem.reorderCorrelation == 5)
        #expect(fault.netem.gap == 3)
        #expect(fault.netem.loss == 0 && fault.netem.duplicate == 0 && fault.netem.corrupt == 0)
    }

    @Test(arguments: ["loss", "duplicate", "corrupt"])
    func percentActionsCarryTheirPercentageAndCorrelation(_ action: String) throws {
        let fault = try #require(try network(Self.networkChaos("""
            action: \(action)
            \(action): {\(action): "30", correlation: "40"}
            """)).first)
        #expect(fault.action.rawValue == action)
        let values: (Double, Double) = switch action {
        case "loss": (fault.netem.loss, fault.netem.lossCorrelation)
        case "duplicate": (fault.netem.duplicate, fault.netem.duplicateCorrelation)
        default: (fault.netem.corrupt, fault.netem.corruptCorrelation)
        }
        #expect(values == (30, 40))
        #expect(fault.netem.latency == 0)
    }

    @Test func netemCombinesEveryBlockPresent() throws {
        let faults = try network(Self.networkChaos("""
            action: netem
            delay: {latency: 50ms, jitter: 5ms, correlation: "10"}
            loss: {loss: "20", correlation: "1"}
            duplicate: {duplicate: "3"}
            corrupt: {corrupt: "4", correlation: "2"}
            """))
        let fault = try #require(faults.first)
        #expect(faults.count == 1)
        #expect(fault.action == .netem)
        #expect(fault.netem.latency == 50_000_000 && fault.netem.jitter == 5_000_000 && fault.netem.delayCorrelation == 10)
        #expect(fault.netem.loss == 20 && fault.netem.lossCorrelation == 1)
        #expect(fault.netem.duplicate == 3 && fault.netem.duplicateCorrelation == 0)
        #expect(fault.netem.corrupt == 4 && fault.netem.corruptCorrelation == 2)
        #expect(fault.bandwidth == nil)
    }

    @Test func netemRateBecomesATokenBucket() throws {
        let faults = try network(Self.networkChaos("""
            action: netem
            delay: {latency: 10ms}
            rate: {rate: 8mbit}
            """))
        #expect(faults.map(\.action) == [.netem, .bandwidth])
        let bucket = try #require(faults.last?.bandwidth)
        #expect(bucket.bitsPerSecond == 8_000_000)
        #expect(bucket.buffer == 10_000)   // 10 ms of 1 MB/s
        #expect(bucket.limit == 50_000)    // 50 ms of 1 MB/s
        #expect(faults.last?.netem.isEmpty == true)

        let rateOnly = try network(Self.networkChaos("""
            action: netem
            rate: {rate: 100kbit}
            """))
        #expect(rateOnly.map(\.action) == [.bandwidth])
        #expect(rateOnly.first?.bandwidth?.buffer == 10_000 && rateOnly.first?.bandwidth?.limit == 20_000)

        // With the kernel backend both would need the root qdisc.
        let kernel = try failure(Self.networkChaos("""
            action: netem
            delay: {latency: 10ms}
            rate: {rate: 8mbit}
            """), options: TranslationOptions(networkBackend: .kernel))
        #expect(kernel.code == .unsupported)
        #expect(kernel.message.contains("spec.rate"))
    }

    @Test(arguments: [("100kbps", UInt64(800_000)), ("10mbit", 10_000_000), ("1gbit", 1_000_000_000), ("2mbps", 16_000_000)])
    func bandwidthKeepsTheTokenBucket(_ rate: String, _ bits: UInt64) throws {
        let fault = try #require(try network(Self.networkChaos("""
            action: bandwidth
            bandwidth: {rate: \(rate), limit: 100, buffer: 10000, peakrate: 1000000, minburst: 1000000}
            """)).first)
        #expect(fault.action == .bandwidth)
        #expect(fault.bandwidth == NetworkFault.Bandwidth(bitsPerSecond: bits, limit: 100, buffer: 10_000,
                                                          peakrate: 1_000_000, minburst: 1_000_000))
    }

    @Test func bandwidthOnIncomingTrafficIsRefused() throws {
        let error = try failure(Self.networkChaos("""
            action: bandwidth
            direction: both
            bandwidth: {rate: 1mbit, limit: 100, buffer: 10000}
            target:
              mode: all
              selector: {namespaces: [shop]}
            """), peers: [Self.db2])
        #expect(error.code == .unsupported)
        #expect(error.message.contains("spec.direction"))
    }

    @Test func partitionBothWaysWithThePeersIPv4Addresses() throws {
        let planned = try plan(Self.networkChaos("""
            action: partition
            direction: both
            target:
              mode: all
              selector: {labelSelectors: {app: db}}
            """), peers: [Self.db1, Self.db2])
        let fault = try decoded(NetworkFault.self, try #require(planned.first))
        #expect(planned.count == 1)
        #expect(planned.first?.action == "network partition")
        #expect(fault.action == .partition)
        #expect(fault.direction == .both)
        #expect(fault.peers == ["10.1.0.3", "10.1.0.4"])
        #expect(planned.first?.summary.contains("IPv6 peers skipped") == true)
        #expect(planned.first?.summary.contains("fd00::3") == true)
    }

    @Test func peersComeFromPodsAndExternalTargets() throws {
        let fault = try #require(try network(Self.networkChaos("""
            action: delay
            delay: {latency: 10ms}
            target:
              mode: all
              selector: {labelSelectors: {app: db}}
            externalTargets: ["8.8.8.8", "192.168.0.0/16", "www.example.com", "2001:db8::1", "10.1.0.4"]
            """), peers: [Self.db1, Self.db2]).first)
        #expect(fault.peers == ["10.1.0.3", "10.1.0.4", "8.8.8.8", "192.168.0.0/16"])
        #expect(fault.hostnames == ["www.example.com"])
    }

    /// Chaos Mesh's own example: targets with ports become faults of their own.
    @Test func externalTargetsWithPortsGetAFaultPerPort() throws {
        let faults = try network(Self.networkChaos("""
            action: partition
            direction: to
            externalTargets: ["8.8.8.8", "www.google.com", "8.8.0.0/16", "1.1.1.1:80", "example.com:443", "10.0.0.0/8:22"]
            """))
        #expect(faults.count == 4)
        #expect(faults.map(\.peers) == [["8.8.8.8", "8.8.0.0/16"], ["1.1.1.1"], [], ["10.0.0.0/8"]])
        #expect(faults.map(\.hostnames) == [["www.google.com"], [], ["example.com"], []])
        #expect(faults.map(\.egressPorts) == [[], [80], [443], [22]])

        // A bucket holds the device's root: it cannot be split by port.
        let error = try failure(Self.networkChaos("""
            action: bandwidth
            bandwidth: {rate: 1mbit, limit: 100, buffer: 10000}
            externalTargets: ["8.8.8.8", "1.1.1.1:80"]
            """))
        #expect(error.code == .unsupported)
        #expect(error.message.contains("spec.externalTargets"))
    }

    @Test func withoutPeersTheFaultActsOnAllTraffic() throws {
        let fault = try #require(try network(Self.networkChaos("""
            action: loss
            loss: {loss: "10"}
            """), peers: []).first)
        #expect(!fault.isFiltered)
    }

    @Test func fromPodsWithoutIPv4FailsClearly() throws {
        let error = try failure(Self.networkChaos("""
            action: delay
            direction: from
            delay: {latency: 10ms}
            target:
              mode: all
              selector: {labelSelectors: {app: db}}
            """), peers: [Self.v6only])
        #expect(error.code == .invalidFault)
        #expect(error.message.contains("spec.target"))
        #expect(error.message.contains("shop/db-6"))
        #expect(error.message.contains("IPv4"))

        let none = try failure(Self.networkChaos("""
            action: partition
            direction: both
            target:
              mode: all
              selector: {labelSelectors: {app: db}}
            """), peers: [])
        #expect(none.message.contains("selected no pods"))

        let onlyV6 = try failure(Self.networkChaos("""
            action: partition
            externalTargets: ["2001:db8::/32"]
            """))
        #expect(onlyV6.message.contains("spec.externalTargets"))
    }

    @Test func backendAndDetachFollowTheOptions() throws {
        let auto = try network(Self.networkChaos("""
            action: delay
            delay: {latency: 10ms}
            """), options: TranslationOptions(detachHelpers: true, networkBackend: .auto))
        #expect(auto.first?.backend == .auto)
    }

    // MARK: Reach

    @Test func podsWithOnlyAProcessAreReachedThroughIt() throws {
        let net = try #require(try network(Self.networkChaos("""
            action: delay
            delay: {latency: 10ms}
            """), target: Self.container).first)
        #expect(net.namespace == .process(4242))

        let stress = try plan(Self.stress("stressors: {cpu: {workers: 1}}"), target: Self.pidOnly)
        #expect(try decoded(StressFault.self, try #require(stress.first)).target == .process(4343))

        let kill = try plan(Self.podChaos("action: pod-kill"), target: Self.pidOnly)
        #expect(try decoded(ProcessFault.self, try #require(kill.first)).target == .pid(4343))

        let dns = try plan(Self.dnsChaos("action: error"), target: Self.pidOnly)
        #expect(try decoded(DNSFault.self, try #require(dns.first)).namespace == .process(4343))
    }

    @Test func unreachablePodsFailForEveryKind() throws {
        for yaml in [Self.networkChaos("action: partition"), Self.podChaos("action: pod-failure"),
                     Self.stress("stressors: {cpu: {workers: 1}}"), Self.dnsChaos("action: random")] {
            let error = try failure(yaml, target: Self.ghost)
            #expect(error.code == .invalidFault)
            #expect(error.message == "pod default/ghost has neither a network namespace nor a process")
        }
    }

    @Test func unsupportedKindIsNamed() throws {
        let error = try failure("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: JVMChaos
            metadata: {name: web}
            spec:
              mode: all
              selector: {namespaces: [default]}
              action: latency
              class: Main
              method: hello
              latency: 1000
              port: 9277
            """)
        #expect(error.code == .unsupported)
        #expect(error.message.contains("JVMChaos"))
        #expect(registry.kinds == [.dnsChaos, .httpChaos, .ioChaos, .networkChaos, .physicalMachineChaos, .podChaos, .stressChaos,
                                   .tcpChaos, .timeChaos])
    }

    // MARK: IOChaos and TimeChaos

    @Test func ioChaosBecomesOneRuleOverTheVolumeOfThePodsProcess() throws {
        let planned = try plan("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: IOChaos
            metadata: {name: io, namespace: shop}
            spec:
              action: fault
              mode: all
              selector: {namespaces: [shop]}
              volumePath: /var/lib/db
              path: '/var/lib/db/**/*.db'
              methods: [WRITE, fsync, notAnOperation]
              errno: 5
              percent: 30
            """, target: Self.container)
        #expect(planned.map(\.family) == ["io"])
        let fault = try decoded(IOFault.self, try #require(planned.first))
        #expect(fault.pid == 4242)
        #expect(fault.volumePath == "/var/lib/db")
        #expect(fault.rules == [IORule(action: .fault, path: "/var/lib/db/**/*.db", methods: ["write", "fsync"], percent: 30, errno: 5)])

        let latency = try plan("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: IOChaos
            metadata: {name: io, namespace: shop}
            spec: {action: latency, mode: all, selector: {namespaces: [shop]}, volumePath: /data, delay: 100ms}
            """, target: Self.pidOnly)
        let first = try #require(latency.first)
        let rule = try #require(try decoded(IOFault.self, first).rules.first)
        #expect(rule.delayNanoseconds == 100_000_000 && rule.percent == 100 && rule.methods.isEmpty && rule.path == nil)
    }

    @Test func timeChaosShiftsANamespacesProcessesOrAProcessTree() throws {
        let yaml = """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: TimeChaos
            metadata: {name: clock, namespace: shop}
            spec:
              mode: all
              selector: {namespaces: [shop]}
              timeOffset: -10m100ns
              clockIds: [CLOCK_REALTIME, CLOCK_MONOTONIC]
            """
        let namedPlan = try #require(try plan(yaml, target: Self.web).first)
        let named = try decoded(TimeFault.self, namedPlan)
        #expect(named == TimeFault(target: .networkNamespace("tmt-web-1"), offsetNanoseconds: -600_000_000_100,
                                   clocks: [.realtime, .monotonic]))
        let treePlan = try #require(try plan(yaml, target: Self.container).first)
        let tree = try decoded(TimeFault.self, treePlan)
        #expect(tree.target == .pid(4242) && tree.includeDescendants)
        #expect(try failure(yaml, target: Self.ghost).message == "pod default/ghost has neither a network namespace nor a process")
    }

    // MARK: PodChaos

    static func podChaos(_ spec: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: PodChaos
        metadata: {name: pods, namespace: shop}
        spec:
          mode: all
          selector: {namespaces: [shop]}
        \(spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    @Test func podKillKillsThePodsProcesses() throws {
        let planned = try #require(try plan(Self.podChaos("action: pod-kill")).first)
        let fault = try decoded(ProcessFault.self, planned)
        #expect(planned.family == "process")
        #expect(fault.action == .kill)
        #expect(fault.target == .networkNamespace("tmt-web-1"))
        #expect(fault.signal == SIGKILL)
        #expect(fault.gracePeriod == nil)

        let graceful = try decoded(ProcessFault.self, try #require(try plan(Self.podChaos("""
            action: pod-kill
            gracePeriod: 5
            """)).first))
        #expect(graceful.gracePeriod == 5)
    }

    @Test func podFailureFreezesThePod() throws {
        let fault = try decoded(ProcessFault.self, try #require(try plan(Self.podChaos("""
            action: pod-failure
            duration: 30s
            """)).first))
        #expect(fault.action == .freeze)
        #expect(fault.target == .networkNamespace("tmt-web-1"))
    }

    @Test func containerKillKillsTheNamedProcessesOfTheNamespace() throws {
        let translator = PodChaosTranslator { namespace in
            #expect(namespace == .named("tmt-web-1"))
            return [.init(pid: 10, names: ["nginx"]), .init(pid: 11, names: ["python3", "app.py"]),
                    .init(pid: 12, names: ["nginx"]), .init(pid: 13, names: ["sh"])]
        }
        var registry = TranslatorRegistry()
        registry.register(translator)
        let document = try self.document(Self.podChaos("""
            action: container-kill
            containerNames: [nginx, app.py]
            """))
        let planned = try registry.faults(for: document, target: Self.web, peers: [], options: options)
        let faults = try planned.map { try decoded(ProcessFault.self, $0) }
        #expect(faults.map(\.target) == [.pid(10), .pid(11), .pid(12)])
        #expect(faults.allSatisfy { $0.action == .kill && $0.signal == SIGKILL })

        let missing = try self.document(Self.podChaos("""
            action: container-kill
            containerNames: [redis]
            """))
        #expect(throws: FaultError.self) {
            try registry.faults(for: missing, target: Self.web, peers: [], options: options)
        }
    }

    @Test func containerKillOfAContainerPodKillsItsMainProcess() throws {
        let fault = try decoded(ProcessFault.self, try #require(try plan(Self.podChaos("""
            action: container-kill
            containerNames: [api]
            """), target: Self.container).first))
        #expect(fault.target == .pid(4242))

        let error = try failure(Self.podChaos("""
            action: container-kill
            containerNames: [db]
            """), target: Self.container)
        #expect(error.message.contains("spec.containerNames"))
    }

    // MARK: StressChaos

    static func stress(_ spec: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: StressChaos
        metadata: {name: burn, namespace: shop}
        spec:
          mode: all
          selector: {namespaces: [shop]}
        \(spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    @Test func cpuStressorCarriesWorkersLoadAndOptions() throws {
        let planned = try plan(Self.stress("""
            stressors:
              cpu: {workers: 2, load: 50, options: ["--cpu-method matrixprod"]}
            """))
        let fault = try decoded(StressFault.self, try #require(planned.first))
        #expect(planned.count == 1 && planned.first?.family == "stress")
        #expect(fault.action == .cpu)
        #expect(fault.target == .networkNamespace("tmt-web-1"))
        #expect(fault.workers == 2 && fault.load == 50)
        #expect(fault.stressNGOptions == ["--cpu-method matrixprod"])

        let full = try decoded(StressFault.self, try #require(try plan(Self.stress("stressors: {cpu: {workers: 1}}")).first))
        #expect(full.load == 100 && full.stressNGOptions.isEmpty)
    }

    @Test(arguments: [("256MB", StressFault.Size.bytes(256_000_000)), ("1GiB", .bytes(1 << 30)), ("25%", .percent(25))])
    func memoryStressorCarriesItsSize(_ size: String, _ expected: StressFault.Size) throws {
        let fault = try decoded(StressFault.self, try #require(try plan(Self.stress("""
            stressors:
              memory: {workers: 3, size: "\(size)", oomScoreAdj: -100}
            """)).first))
        #expect(fault.action == .memory)
        #expect(fault.workers == 3)
        #expect(fault.size == expected)
        #expect(fault.oomScoreAdj == -100)
    }

    @Test func memoryWithoutSizeTakesAllTheMemory() throws {
        let fault = try decoded(StressFault.self, try #require(try plan(Self.stress("stressors: {memory: {workers: 1}}")).first))
        #expect(fault.size == .percent(100))
    }

    @Test func cpuAndMemoryMakeTwoFaults() throws {
        let faults = try plan(Self.stress("""
            stressors:
              cpu: {workers: 1, load: 20}
              memory: {workers: 1, size: 64MB}
            """)).map { try decoded(StressFault.self, $0) }
        #expect(faults.map(\.action) == [.cpu, .memory])
    }

    @Test func stressngStressorsWinOverStressors() throws {
        let faults = try plan(Self.stress("""
            stressors: {memory: {workers: 1, size: 64MB}}
            stressngStressors: "--cpu 2  --cpu-load 30\t--timeout 60"
            """)).map { try decoded(StressFault.self, $0) }
        #expect(faults.count == 1)
        #expect(faults.first?.action == .cpu)
        #expect(faults.first?.load == 0)
        #expect(faults.first?.stressNGOptions == ["--cpu", "2", "--cpu-load", "30", "--timeout", "60"])
    }

    // MARK: DNSChaos

    static func dnsChaos(_ spec: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: DNSChaos
        metadata: {name: dns, namespace: shop}
        spec:
          mode: all
          selector: {namespaces: [shop]}
        \(spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    @Test(arguments: ["error", "random"])
    func dnsCarriesActionAndPatterns(_ action: String) throws {
        let planned = try #require(try plan(Self.dnsChaos("""
            action: \(action)
            patterns: [google.com, chaos-mesh.*, github.?om]
            """)).first)
        let fault = try decoded(DNSFault.self, planned)
        #expect(planned.family == "dns")
        #expect(fault.action.rawValue == action)
        #expect(fault.namespace == .named("tmt-web-1"))
        #expect(fault.patterns.map(\.text) == ["google.com", "chaos-mesh.*", "github.?om"])
        #expect(fault.upstream == nil)

        let all = try decoded(DNSFault.self, try #require(try plan(Self.dnsChaos("action: \(action)")).first))
        #expect(all.patterns.isEmpty)
    }
}
