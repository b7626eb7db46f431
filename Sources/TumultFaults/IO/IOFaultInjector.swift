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
/// Files the target opened before the fault keep their descriptors on the
/// original file system: their reads and writes go there directly, without
/// faults. Everything opened, created, listed or looked up through the path
/// during the fault goes through Tumult's file system.
public struct IOFaultInjector: FaultInjector {
    public typealias Fault = IOFault
    public typealias UndoStep = IOUndoStep
    public static let family = "io"

    /// The file-system type Tumult's mounts carry in the mount table.
    public static let fileSystemType = "fuse.tumult"

    /// The `tumult` executable that serves the file system; default: this program.
    public var executable: String
    /// Foreground attacks tie the helper to their process; detached ones
    /// leave it in a session of its own, to be stopped by recovery.
    public var detachHelper: Bool

    public init(executable: String? = nil, detachHelper: Bool = true) {
        self.executable = executable
            ?? HelperExecutable.locate("tumult", environmentOverride: "TUMULT_EXECUTABLE", preferringRunningProgram: true)
        self.detachHelper = detachHelper
    }

    /// The arguments of `tumult io-fs` for `fault`.
    public func helperArguments(_ fault: IOFault) throws -> [String] {
        let rules = try JSONEncoder().encode(fault.rules).base64EncodedString()
        var arguments = [executable, "io-fs", "--volume", fault.volumePath, "--rules", rules]
        if !detachHelper { arguments.append("--die-with-parent") }
        return arguments
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
        if Self.tumultMounts(pid: fault.pid, volumePath: fault.volumePath) > 0 {
            throw FaultError(.invalidFault, "\(fault.volumePath) of pid \(fault.pid) already has an IO fault; recover it first")
        }

        let summary = "file system over \(fault.volumePath) of pid \(fault.pid): \(fault.summary)"
        let unknown = IOUndoStep.unmount(pid: fault.pid, startTime: target.startTime, volumePath: fault.volumePath,
                                         attack: attack, helper: nil, helperStartTime: nil)
        let sequence = try recorder.willApply(summary, undo: Self.encodeStep(unknown))
        var done = [unknown]
        do {
            let helper = try HelperProcess.start(Command(try helperArguments(fault)),
                                                 environment: Self.namespaceEnvironment(pid: fault.pid, attack: attack),
                                                 readyPrefix: "ready", detached: detachHelper)
            let known = IOUndoStep.unmount(pid: fault.pid, startTime: target.startTime, volumePath: fault.volumePath,
                                           attack: attack, helper: helper.pid, helperStartTime: helper.startTime)
            done = [known]
            try recorder.didApply(sequence, undo: Self.encodeStep(known))
            // Read back: the mount is in the target's table, its server alive.
            guard Self.tumultMounts(pid: fault.pid, volumePath: fault.volumePath) == 1 else {
                throw FaultError(.readBackFailed, "\(summary) was applied but no Tumult mount is over \(fault.volumePath) in pid \(fault.pid)'s mount table")
            }
            guard Processes.isAlive(helper.pid) else {
                throw FaultError(.readBackFailed, "the file system of \(fault.volumePath) exited")
            }
        } catch {
            try? recover(done, attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not apply IO \(fault.summary) over \(fault.volumePath) of pid \(fault.pid)", cause: error)
        }
    }

    /// How many of Tumult's mounts are over `volumePath` in `pid`'s mount namespace.
    static func tumultMounts(pid: Int32, volumePath: String) -> Int {
        guard let table = MountTable.read(pid: pid) else { return 0 }
        return table.entries(at: volumePath).filter { $0.fsType == fileSystemType }.count
    }

    // MARK: Recover

    public func recover(_ steps: [IOUndoStep], attack: String) throws {
        var failures: [String] = []
        for step in steps.reversed() {
            do { try undo(step) } catch { failures.append(String(describing: error)) }
        }
        if !failures.isEmpty {
            throw FaultError(.recoverFailed, "could not undo everything: " + failures.joined(separator: "; "))
        }
    }

    func undo(_ step: IOUndoStep) throws {
        switch step {
        case .unmount(let pid, let startTime, let volumePath, let attack, let helper, let helperStartTime):
            // A helper asked to stop unmounts itself; one killed leaves its mount.
            Processes.stopHelpers(of: attack, recorded: helper.map { [($0, helperStartTime)] } ?? [])
            // A target that exited took its mount namespace (and the mount) along,
            // unless something else holds the namespace: then the helper's
            // own unmount on SIGTERM was the way, and a SIGKILLed helper's dead
            // mount goes with the namespace's last process.
            guard ProcessTable.isSame(pid, startTime: startTime) else { return }
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
}
