import Foundation
import Testing
import TumultAgent
@testable import TumultDaemon
import TumultFaults
import TumultModel
import TumultSystem

/// A private containerd running one real busybox container, joined to the
/// host by a veth pair, made for one test and removed by `tearDown()`
/// (call it in `defer`). Everything it makes is named `tmt-<random>`.
final class TestContainerd {
    let runner = ProcessCommandRunner()
    let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    let directory: URL
    /// containerd's namespace for the container, unique to this test.
    let namespace: String
    /// A 64-hex id, as Kubernetes' containers have.
    let containerID = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }.joined()
    let subnet = "10.123.\(Int.random(in: 0...255))"
    var hostAddress: String { "\(subnet).1" }
    var containerAddress: String { "\(subnet).2" }
    var hostDevice: String { "tmt-\(tag)a" }
    var containerDevice: String { "tmt-\(tag)b" }
    var socket: String { directory.appendingPathComponent("containerd.sock").path }
    private(set) var daemon: Int32?
    private(set) var pid: Int32 = 0
    /// containerd 1.6 keeps its shims' sockets under /run/containerd/s
    /// whatever its state directory: what this test made there is removed.
    private let runDirectoryExisted = FileManager.default.fileExists(atPath: "/run/containerd")

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-\(tag)")
        namespace = "tmt-\(tag)"
        do {
            try start()
        } catch {
            tearDown()
            throw error
        }
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func start() throws {
        let rootfs = path("rootfs")
        try FileManager.default.createDirectory(atPath: rootfs + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        // Inside the root, busybox's own path is /bin/busybox: its links point there.
        try sh("chroot", rootfs, "/bin/busybox", "--install", "-s", "/bin")
        let config = """
            version = 2
            root = "\(path("root"))"
            state = "\(path("state"))"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "\(socket)"
            [ttrpc]
              address = "\(socket).ttrpc"
            [debug]
              address = "\(path("debug.sock"))"
            [plugins."io.containerd.internal.v1.opt"]
              path = "\(path("opt"))"
            """
        try config.write(toFile: path("config.toml"), atomically: true, encoding: .utf8)
        let child = try Spawn.start(["containerd", "--config", path("config.toml"), "--root", path("root"),
                                     "--state", path("state"), "--address", socket], captureOutput: false)
        daemon = child.pid
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: socket) || !ctr(["version"]).succeeded {
            guard Date() < deadline else { throw SystemError.processFailed("containerd did not start within 15 s") }
            usleep(100_000)
        }
        try check(ctr(["-n", namespace, "run", "-d", "--null-io", "--fifo-dir", path("fifo"), "--runc-root", path("runc"),
                       "--label", "app=web", "--rootfs", rootfs, containerID, "/bin/sh", "-c", "sleep 600"]), "running the container")
        let tasks = try check(ctr(["-n", namespace, "tasks", "ls"]), "listing the tasks").stdout
        guard let task = ContainerdInventory.parseTasks(tasks, namespace: namespace).first(where: { $0.id == containerID }) else {
            throw SystemError.processFailed("the container's task is not running: \(tasks)")
        }
        pid = task.pid
        try sh("ip", "link", "add", hostDevice, "type", "veth", "peer", "name", containerDevice)
        try sh("ip", "link", "set", containerDevice, "netns", String(pid))
        try sh("ip", "addr", "add", "\(hostAddress)/30", "dev", hostDevice)
        try sh("ip", "link", "set", hostDevice, "up")
        try inContainer("ip", "addr", "add", "\(containerAddress)/30", "dev", containerDevice)
        try inContainer("ip", "link", "set", containerDevice, "up")
        try inContainer("ip", "link", "set", "lo", "up")
    }

    /// `ctr` on the private containerd.
    func ctr(_ arguments: [String]) -> CommandResult {
        (try? runner.run(Command(["ctr", "--address", socket, "--connect-timeout", "2s"] + arguments)))
            ?? CommandResult(status: 127, stderr: "ctr did not run")
    }

    @discardableResult
    func check(_ result: CommandResult, _ doing: String) throws -> CommandResult {
        guard result.succeeded else { throw SystemError.processFailed("\(doing): \(result.stderr)") }
        return result
    }

    @discardableResult
    func sh(_ arguments: String...) throws -> CommandResult {
        try runner.check(Command(arguments), doing: "setting up the test container")
    }

    func inContainer(_ arguments: String...) throws {
        try runner.check(NetworkNamespace.process(pid).wrap(Command(arguments)), doing: "in the container's network namespace")
    }

    func tearDown() {
        _ = try? runner.run(Command(["ip", "link", "del", hostDevice]))
        if daemon != nil {
            _ = ctr(["-n", namespace, "tasks", "kill", "-s", "SIGKILL", containerID])
            let deadline = Date().addingTimeInterval(10)
            while ctr(["-n", namespace, "tasks", "delete", containerID]).succeeded == false,
                  ctr(["-n", namespace, "tasks", "ls", "-q"]).stdout.contains(containerID), Date() < deadline {
                usleep(200_000)
            }
            _ = ctr(["-n", namespace, "containers", "rm", containerID])
            _ = ctr(["namespaces", "rm", namespace])
        }
        if let daemon {
            kill(daemon, SIGTERM)
            Spawn.wait(for: daemon)
        }
        // The shim leaves once its task is deleted; one that did not is ours to stop.
        let deadline = Date().addingTimeInterval(5)
        while let shim = shims().first {
            if Date() > deadline { kill(shim, SIGKILL) }
            usleep(100_000)
        }
        // A container's last process may still be leaving its cgroups
        // (EBUSY): tried again for a while, as TestCgroup does, so that no
        // `tmt-*` cgroup outlives the test.
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        let cgroupDeadline = Date().addingTimeInterval(5)
        for hierarchy in hierarchies {
            for group in ["/sys/fs/cgroup/\(hierarchy)/\(namespace)/\(containerID)", "/sys/fs/cgroup/\(hierarchy)/\(namespace)"] {
                while rmdir(group) != 0 && errno == EBUSY && Date() < cgroupDeadline { usleep(20_000) }
            }
        }
        rmdir("/run/containerd/runc/\(namespace)")
        if !runDirectoryExisted {
            // Only empty directories go: a real containerd's files are never touched.
            for leftover in ["/run/containerd/s", "/run/containerd/runc", "/run/containerd/fifo", "/run/containerd"] {
                rmdir(leftover)
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The shims serving this test's containerd (their command line names its socket).
    func shims() -> [Int32] {
        ProcessTable.pids().filter { pid in
            let arguments = ProcessTable.arguments(of: pid)
            return arguments.first?.hasSuffix("containerd-shim-runc-v2") == true && arguments.contains(socket)
        }
    }

    /// Mean RTT in ms of `count` pings (50 ms apart) from the host to the
    /// container; infinity when none came back.
    func rtt(count: Int = 10) throws -> Double {
        let result = try runner.run(Command(["ping", "-n", "-c", String(count), "-i", "0.05", "-W", "1", containerAddress]))
        let rtts = result.stdout.split(separator: "\n").compactMap { line -> Double? in
            line.split(separator: " ").first { $0.hasPrefix("time=") }.flatMap { Double($0.dropFirst(5)) }
        }
        return rtts.isEmpty ? .infinity : rtts.reduce(0, +) / Double(rtts.count)
    }
}

/// A real containerd container, found from its id in /proc and in
/// containerd, listed as a pod, and delayed through the host agent given
/// only its Kubernetes-style container id.
@Suite("Containerd", .serialized,
       .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/containerd")
                && FileManager.default.fileExists(atPath: "/bin/busybox"), "needs root, containerd and busybox"))
struct ContainerdTests {
    @Test func aContainerIsFoundListedAndDelayedByItsID() async throws {
        let containerd = try TestContainerd()
        defer { containerd.tearDown() }
        let id = containerd.containerID

        // (a) The task's pid, from the container id alone: in /proc, and in containerd.
        let table = ContainerProcessTable.scan()
        #expect(table.mainProcess(of: id) == containerd.pid)
        #expect(table.processes(of: id) == [containerd.pid])
        let source = ContainerdInventory(socketPath: containerd.socket)
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-\(containerd.tag)-proc")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let fallback = PodResolver(procRoot: empty.path, containerd: source)
        #expect(fallback.mainProcesses(of: [ContainerRuntimeID(runtime: "containerd", id: id)]).values.first == containerd.pid,
                "containerd's own answer when /proc knows nothing")

        // (b) The single-host inventory lists it as a pod.
        let snapshot = try LocalInventory(engines: [], containerd: source, hostName: "node-1").snapshot()
        let pod = try #require(snapshot.pods.first { $0.source == .containerd && $0.namespace == containerd.namespace },
                               "pods: \(snapshot.pods.map(\.id)), warnings: \(snapshot.warnings)")
        #expect(pod.name == id)
        #expect(pod.labels["app"] == "web")
        #expect(pod.pid == containerd.pid)
        #expect(pod.ips == [containerd.containerAddress])
        #expect(pod.containerID == "containerd://\(id)")
        #expect(pod.nodeName == "node-1")

        // (c) A delay injected through the host agent into a pod known only by its container id.
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-\(containerd.tag)-home")
        defer { try? FileManager.default.removeItem(at: home) }
        var agent = LocalHostAgent(machine: "node-1", journal: try Journal(directory: home),
                                   families: FamilyRegistry.standard(options: TranslationOptions(detachHelpers: false, networkBackend: .auto)),
                                   inventory: LocalPodInventory(inventoryPath: nil, home: home, engines: []),
                                   engineStatisticsDirectory: nil)
        agent.podResolver = PodResolver(containerd: source)
        let document = try ExperimentAgentTests.delay()
        let target = Pod(name: "web", source: .kubernetes, containerIDs: ["web": "containerd://\(id)"])
        let baseline = try containerd.rtt()
        #expect(baseline < 10, "RTT \(baseline) ms before the delay")

        let request = InjectionRequest(owner: AttackOwner(controller: "test", experiment: "exp-ctr", target: target.id),
                                       document: document, target: target, endsAt: Date().addingTimeInterval(120))
        let attacks = try await agent.inject(request)
        var recovered = false
        defer { if !recovered { _ = try? agent.agent.recover(attacks.map(\.uid)) } }
        #expect(attacks.count == 1)
        var delayed: [Double] = []
        for round in 0..<3 {
            if round > 0 { try await Task.sleep(for: .seconds(2)) }
            delayed.append(try containerd.rtt())
        }
        for rtt in delayed {
            #expect(rtt > baseline + 90 && rtt < baseline + 150, "RTTs \(delayed) ms with the delay, \(baseline) ms before")
        }

        try await agent.recover(attacks)
        recovered = true
        let after = try containerd.rtt()
        #expect(after < 10, "RTT \(after) ms after recovery")

        // A pod whose container is not on this node fails with its name and id.
        let ghost = Pod(name: "ghost", source: .kubernetes, containerIDs: ["app": "containerd://\(String(id.reversed()))"])
        let error = await #expect(throws: AgentError.self) {
            try await agent.inject(InjectionRequest(owner: AttackOwner(controller: "test", experiment: "exp-ctr", target: ghost.id),
                                                    document: document, target: ghost))
        }
        #expect(error?.message == "no process of container containerd://\(String(id.reversed())) of pod default/ghost on this node")
    }
}
