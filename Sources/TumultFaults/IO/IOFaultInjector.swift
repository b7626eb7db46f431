import Foundation
import TumultSystem

/// Applies an `IOFault` and undoes it.
///
/// It starts Tumult's file system (`tumult io-fs`) in the target's mount
/// namespace (entered before the helper's Swift code starts, so a container
/// needs neither the `tumult` binary nor /dev/fuse inside it). The helper
/// opens the volume's directory first and then mounts itself over it, so
/// the original stays reachable underneath through that descriptor: one
/// mount added, nothing moved, and unmounting it is the whole recovery.
///
/// Descriptors move with the mounts (`DescriptorMover`, ptrace, as Chaos
/// Mesh's toda does): files the target's processes opened before the fault
/// are opened again through Tumult's file system once it is mounted, so the
/// fault reaches them too; at recovery, files open on Tumult's file system
/// are opened again on the original after it is unmounted and before its
/// server stops, so they keep working. The server is always started in a
/// session of its own and never dies with the process that started it: it
/// stops only once recovery has moved the descriptors away from it.
public struct IOFaultInjector: FaultInjector {
    public typealias Fault = IOFault
    public typealias UndoStep = IOUndoStep
    public static let family = "io"

    /// The file-system type Tumult's mounts carry in the mount table.
    public static let fileSystemType = "fuse.tumult"

    /// The `tumult` executable that serves the file system; default: this program.
    public var executable: String

    public init(executable: String? = nil) {
        self.executable = executable
            ?? HelperExecutable.locate("tumult", environmentOverride: "TUMULT_EXECUTABLE", preferringRunningProgram: true)
    }

    /// The arguments of `tumult io-fs` for `fault`.
    public func helperArguments(_ fault: IOFault) throws -> [String] {
        let rules = try JSONEncoder().encode(fault.rules).base64EncodedString()
        return [executable, "io-fs", "--volume", fault.volumePath, "--rules", rules]
    }

    /// What makes the helper enter the target's mount namespace.
    static func namespaceEnvironment(pid: Int32, attack: String) -> [String: String] {
        ["TUMULT_ATTACK": attack, "TUMULT_MOUNT_NAMESPACE": "/proc/\(pid)/ns/mnt"]
    }

    // MARK: Apply

    public func apply(_ fault: IOFault, attack: String, recorder: ChangeRecorder) throws {
        guard fault.volumePath.hasPrefix("/") else {
            throw FaultError(.invalidFault, "volumePath \"\(fault.volumePath)\" is not an absolute path")
        }
        guard let target = ProcessTable.entry(fault.pid), !target.isGone else {
            throw FaultError(.invalidFault, "there is no process \(fault.pid)")
        }
        if let protection = ProcessTarget.protection(of: target) {
            throw FaultError(.invalidFault, "pid \(fault.pid) \(protection); Tumult does not attack it")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: "/proc/\(fault.pid)/root\(fault.volumePath)", isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw FaultError(.invalidFault, "volumePath \(fault.volumePath) is not a directory in pid \(fault.pid)'s file system")
        }
        let before = MountTable.read(pid: fault.pid)
        if before?.entries(at: fault.volumePath).contains(where: { $0.fsType == Self.fileSystemType }) == true {
            throw FaultError(.invalidFault, "\(fault.volumePath) of pid \(fault.pid) already has an IO fault; recover it first")
        }

        let summary = "file system over \(fault.volumePath) of pid \(fault.pid): \(fault.summary)"
        let unknown = IOUndoStep.unmount(pid: fault.pid, startTime: target.startTime, volumePath: fault.volumePath,
                                         attack: attack, helper: nil, helperStartTime: nil, mountID: nil)
        // The mount the target's files under the volume are on now.
        let underneath = before?.mount(containing: fault.volumePath)?.mountID
        let sequence = try recorder.willApply(summary, undo: Self.encodeStep(unknown))
        var done = [unknown]
        do {
            let helper = try HelperProcess.start(Command(try helperArguments(fault)),
                                                 environment: Self.namespaceEnvironment(pid: fault.pid, attack: attack),
                                                 readyPrefix: "ready", detached: true)
            let mounted = MountTable.read(pid: fault.pid)?.entries(at: fault.volumePath).last { $0.fsType == Self.fileSystemType }
            let known = IOUndoStep.unmount(pid: fault.pid, startTime: target.startTime, volumePath: fault.volumePath,
                                           attack: attack, helper: helper.pid, helperStartTime: helper.startTime,
                                           mountID: mounted?.mountID)
            done = [known]
            try recorder.didApply(sequence, undo: Self.encodeStep(known))
            // Read back: the mount is in the target's table, its server alive.
            guard Self.tumultMounts(pid: fault.pid, volumePath: fault.volumePath) == 1 else {
                throw FaultError(.readBackFailed, "\(summary) was applied but no Tumult mount is over \(fault.volumePath) in pid \(fault.pid)'s mount table")
            }
            guard Processes.isAlive(helper.pid) else {
                throw FaultError(.readBackFailed, "the file system of \(fault.volumePath) exited")
            }
            // Files opened before the fault: onto Tumult's file system. A
            // process that cannot be traced keeps them on the original.
            if let underneath {
                for pid in Self.processes(sharingMountsWith: fault.pid) {
                    _ = try? DescriptorMover.reopen(pid: pid, onMount: underneath, under: fault.volumePath)
                }
            }
        } catch {
            try? recover(done, attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not apply IO \(fault.summary) over \(fault.volumePath) of pid \(fault.pid)", cause: error)
        }
    }

    /// The processes in `pid`'s mount namespace that may hold files of the
    /// volume (Tumult's own helpers and protected processes left out).
    static func processes(sharingMountsWith pid: Int32) -> [Int32] {
        guard let namespace = ProcessTable.mountNamespaceInode(of: pid) else { return [] }
        let ourselves = ProcessTarget.ourselves
        return ProcessTable.pids().filter { candidate in
            guard ProcessTable.mountNamespaceInode(of: candidate) == namespace, let entry = ProcessTable.entry(candidate), !entry.isGone else {
                return false
            }
            return ProcessTarget.protection(of: entry, ourselves: ourselves) == nil
        }
    }

    /// How many of Tumult's mounts are over `volumePath` in `pid`'s mount namespace.
    static func tumultMounts(pid: Int32, volumePath: String) -> Int {
        guard let table = MountTable.read(pid: pid) else { return 0 }
        return table.entries(at: volumePath).filter { $0.fsType == fileSystemType }.count
    }

    // MARK: Recover

    public func recover(_ steps: [IOUndoStep], attack: String) throws {
        try undoEach(steps) { try undo($0) }
    }

    func undo(_ step: IOUndoStep) throws {
        switch step {
        case .unmount(let pid, let startTime, let volumePath, let attack, let helper, let helperStartTime, let mountID):
            var unmoved: [DescriptorMover.Left] = []
            // A target that exited took its mount namespace along (the
            // server, which also holds it, unmounts itself when stopped).
            if ProcessTable.isSame(pid, startTime: startTime) {
                let mounts = Set((MountTable.read(pid: pid)?.entries(at: volumePath) ?? [])
                    .filter { $0.fsType == Self.fileSystemType }.map(\.mountID) + (mountID.map { [$0] } ?? []))
                // Unmounted first, while the server still answers the files
                // open on it, so that their paths name the originals again.
                try unmountTumult(pid: pid, volumePath: volumePath)
                for process in Self.processes(sharingMountsWith: pid) {
                    for mount in mounts {
                        do {
                            unmoved += try DescriptorMover.reopen(pid: process, onMount: mount, under: volumePath).left
                        } catch where Processes.isAlive(process) {
                            unmoved.append(DescriptorMover.Left(pid: process, descriptor: -1, path: volumePath,
                                                                reason: String(describing: error)))
                        }
                    }
                }
            }
            Processes.stopHelpers(of: attack, recorded: helper.map { [($0, helperStartTime)] } ?? [])
            if ProcessTable.isSame(pid, startTime: startTime) {
                try unmountTumult(pid: pid, volumePath: volumePath)
            }
            if !unmoved.isEmpty {
                throw FaultError(.recoverFailed, "unmounted, but these files open on Tumult's file system could not be "
                                 + "moved back to the originals: " + unmoved.map(\.description).joined(separator: "; "))
            }
        }
    }

    /// Unmounts every Tumult mount over `volumePath` in `pid`'s mount
    /// namespace (lazily: files open on it keep their server until it stops).
    func unmountTumult(pid: Int32, volumePath: String) throws {
        var rounds = 0
        while Self.tumultMounts(pid: pid, volumePath: volumePath) > 0 {
            rounds += 1
            guard rounds <= 3 else {
                throw FaultError(.recoverFailed, "Tumult's mount over \(volumePath) in pid \(pid)'s mount namespace stays after unmounting")
            }
            let result = try Spawn.run([executable, "io-fs", "--unmount", "--volume", volumePath],
                                       environment: ["TUMULT_MOUNT_NAMESPACE": "/proc/\(pid)/ns/mnt"])
            if !result.succeeded, Self.tumultMounts(pid: pid, volumePath: volumePath) > 0 {
                throw FaultError(.recoverFailed, "could not unmount \(volumePath) in pid \(pid)'s mount namespace: "
                                 + result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
    }
}
