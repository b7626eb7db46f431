import Foundation
import Testing
import TumultAgent
@testable import TumultDaemon
import TumultFaults
import TumultModel
@testable import TumultSystem

/// Container ids read from `/proc/PID/cgroup` texts of every runtime and
/// cgroup driver, a fake `/proc` scanned, and pods resolved from it.
@Suite struct ContainerProcessesTests {
    static let id = "0f3c7d2a9b8e41c6a5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2"
    static let uid = "5c9f1e2a-7b3d-4e8f-9a0b-1c2d3e4f5a6b"
    static var underscored: String { uid.replacingOccurrences(of: "-", with: "_") }

    /// A v1 file: every hierarchy names the same cgroup `path`, the unified one too.
    static func v1(_ path: String) -> String {
        ["12:pids:", "11:memory:", "10:cpu,cpuacct:", "9:freezer:", "8:devices:", "1:name=systemd:", "0::"]
            .map { $0 + path }.joined(separator: "\n") + "\n"
    }

    static func v2(_ path: String) -> String { "0::\(path)\n" }

    @Test(arguments: [
        "/kubepods/besteffort/pod\(uid)/\(id)",
        "/kubepods/burstable/pod\(uid)/\(id)",
        "/kubepods/pod\(uid)/\(id)",
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(underscored).slice/cri-containerd-\(id).scope",
        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(underscored).slice/docker-\(id).scope",
        "/kubepods.slice/kubepods-pod\(underscored).slice/crio-\(id).scope",
        "/system.slice/docker-\(id).scope",
        "/docker/\(id)",
        "/system.slice/containerd.service/kubepods-burstable-pod\(underscored).slice:cri-containerd:\(id)",
        "/default/\(id)",
        // A DaemonSet pod in its own cgroup namespace sees the node's paths relative to its own.
        "/../../kubepods-besteffort-pod\(underscored).slice/cri-containerd-\(id).scope",
    ])
    func everyDriverAndVersionNamesTheContainer(path: String) {
        #expect(ContainerProcessTable.containerID(cgroupFile: Self.v1(path)) == Self.id, "v1: \(path)")
        #expect(ContainerProcessTable.containerID(cgroupFile: Self.v2(path)) == Self.id, "v2: \(path)")
    }

    @Test func aRuntimePathWinsOverThePlainNamespacedForm() {
        // A v1 host whose memory hierarchy files every process under a
        // two-level cgroup of its own, the container's in the others.
        let text = "4:memory:/process_api/9009a26ed28d407f4332e8934dbb7b9d\n1:name=systemd:/kubepods/besteffort/pod\(Self.uid)/\(Self.id)\n0::/\n"
        #expect(ContainerProcessTable.containerID(cgroupFile: text) == Self.id)
        let ctr = "9:name=systemd:/tmt-x/web\n4:memory:/process_api/9009a26e\n1:cpu:/tmt-x/web\n0::/tmt-x/web\n"
        #expect(ContainerProcessTable.containerID(cgroupFile: ctr) == "web", "the path most hierarchies agree on")
    }

    @Test(arguments: [
        "0::/\n",
        "0::/init.scope\n",
        "0::/system.slice/containerd.service\n",
        "0::/user.slice/user-0.slice/session-1.scope\n",
        "1:name=systemd:/kubepods/besteffort/pod\(uid)\n0::/kubepods/besteffort/pod\(uid)\n",
        "0::/kubepods.slice/kubepods-pod\(underscored).slice/crio-conmon-\(id).scope\n",
        "0::/system.slice/docker.service\n",
        "0::/kubepods/pod\(uid)\n",
        "",
    ])
    func processesOutsideContainersHaveNone(text: String) {
        #expect(ContainerProcessTable.containerID(cgroupFile: text) == nil, "\(text)")
    }

    @Test func runtimeIDsSplitIntoRuntimeAndID() {
        #expect(ContainerRuntimeID(parsing: "containerd://\(Self.id)") == ContainerRuntimeID(runtime: "containerd", id: Self.id))
        #expect(ContainerRuntimeID(parsing: "docker://abc")?.runtime == "docker")
        #expect(ContainerRuntimeID(parsing: "cri-o://abc") == ContainerRuntimeID(runtime: "cri-o", id: "abc"))
        #expect(ContainerRuntimeID(parsing: "abc") == ContainerRuntimeID(runtime: nil, id: "abc"))
        #expect(ContainerRuntimeID(parsing: "containerd://") == nil)
        #expect(ContainerRuntimeID(parsing: "") == nil)
        #expect(ContainerRuntimeID(parsing: "containerd://a/b") == nil)
        #expect(ContainerRuntimeID(parsing: "containerd://abc")?.description == "containerd://abc")
    }

    /// A `/proc` with a shim (outside), the container's init and its child,
    /// an `exec` session with a lower pid (pids wrapped) started later, and
    /// a host process.
    static func fakeProc() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-proc-\(UUID().uuidString)")
        func process(_ pid: Int32, parent: Int32, start: UInt64, cgroup: String) throws {
            let directory = root.appendingPathComponent(String(pid))
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try cgroup.write(to: directory.appendingPathComponent("cgroup"), atomically: true, encoding: .utf8)
            let stat = "\(pid) (a (tricky) name) S \(parent) \(pid) \(pid) 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 \(start) 1000 10 "
                + "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
            try stat.write(to: directory.appendingPathComponent("stat"), atomically: true, encoding: .utf8)
        }
        let container = v1("/kubepods/besteffort/pod\(uid)/\(id)")
        try process(300, parent: 1, start: 900, cgroup: v1("/system.slice/containerd.service"))
        try process(310, parent: 300, start: 1000, cgroup: container)
        try process(320, parent: 310, start: 1001, cgroup: container)
        try process(12, parent: 300, start: 5000, cgroup: container)
        try process(1, parent: 0, start: 1, cgroup: v1("/"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("self"), withIntermediateDirectories: true)
        return root
    }

    @Test func theMainProcessIsTheFirstStartedWhoseParentIsOutside() throws {
        let proc = try Self.fakeProc()
        defer { try? FileManager.default.removeItem(at: proc) }
        let table = ContainerProcessTable.scan(procRoot: proc.path)
        #expect(table.processes(of: Self.id) == [12, 310, 320])
        #expect(table.mainProcess(of: Self.id) == 310)
        #expect(table.mainProcess(of: "missing") == nil)
        #expect(table.processes.count == 1)
    }

    @Test func aPodWithContainerIDsGetsItsContainersPid() throws {
        let proc = try Self.fakeProc()
        defer { try? FileManager.default.removeItem(at: proc) }
        let resolver = PodResolver(procRoot: proc.path, containerd: nil)
        let pod = Pod(name: "web", source: .kubernetes, containerIDs: ["web": "containerd://\(Self.id)", "sidecar": "containerd://gone"])
        #expect(PodResolver.needsResolution(pod))
        #expect(try resolver.resolve(pod).pid == 310)
        #expect(try resolver.resolve(pod, containerNames: ["web"]).pid == 310)
        #expect(try resolver.containerPIDs(pod, names: ["web"]) == [310])
        #expect(throws: FaultError.self) { try resolver.containerPIDs(pod, names: ["sidecar"]) }
        #expect(throws: FaultError.self) { try resolver.containerPIDs(pod, names: ["nope"]) }
        let error = #expect(throws: AgentError.self) { try resolver.resolve(pod, containerNames: ["sidecar"]) }
        #expect(error?.message == "no process of container containerd://gone of pod default/web on this node")
        #expect(throws: AgentError.self) { try resolver.resolve(pod, containerNames: ["other"]) }

        let single = Pod(name: "api", namespace: "shop", source: .docker, containerID: Self.id)
        #expect(try resolver.resolve(single).pid == 310)
        let reachable = Pod(name: "db", pid: 42, source: .kubernetes, containerIDs: ["db": "containerd://gone"])
        #expect(!PodResolver.needsResolution(reachable))
        #expect(try resolver.resolve(reachable) == reachable, "a pod with a pid is left alone")
    }

    @Test func ctrOutputIsRead() throws {
        let tasks = """
            TASK                                                                PID      STATUS
            web                                                                 7712     RUNNING
            stopped                                                             0        STOPPED
            paused                                                              7800     PAUSED
            """
        #expect(ContainerdInventory.parseTasks(tasks, namespace: "ns") == [ContainerdInventory.Task(namespace: "ns", id: "web", pid: 7712)])
        #expect(try ContainerdInventory.parseLabels(#"{"ID": "web", "Labels": {"app": "web"}, "Image": ""}"#) == ["app": "web"])
        #expect(try ContainerdInventory.parseLabels(#"{"ID": "web", "Labels": null}"#) == [:])
        #expect(throws: (any Error).self) { try ContainerdInventory.parseLabels("ctr: container not found") }
    }
}
