import ArgumentParser
import CTumultFuse
import Foundation
import TumultFaults

/// `tumult io-fs`: the FUSE file system of an IO attack, mounted over the
/// volume inside the target's mount namespace (the injector starts it with
/// TUMULT_MOUNT_NAMESPACE=/proc/PID/ns/mnt; the namespace is entered before
/// Swift starts, see CTumultFuse). Hidden: not for users.
struct IOFileSystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "io-fs",
        abstract: "Serve the fault-injecting file system of an IO attack (started by the IO injector).",
        shouldDisplay: false
    )

    nonisolated(unsafe) static var terminated: Int32 = 0

    @Option(help: ArgumentHelp("The directory to mount over, as the target sees it.", valueName: "path"))
    var volume: String

    @Option(help: ArgumentHelp("The rules: base64 of a JSON array of IORule.", valueName: "base64"))
    var rules: String?

    @Flag(help: "Only unmount the Tumult file systems over --volume (recovery after the server was killed), then exit.")
    var unmount = false

    func validate() throws {
        guard volume.hasPrefix("/") else { throw ValidationError("--volume: \"\(volume)\" is not an absolute path.") }
        if !unmount { _ = try decodedRules() }
    }

    func decodedRules() throws -> [IORule] {
        guard let rules else { throw ValidationError("--rules is required.") }
        guard let data = Data(base64Encoded: rules) else { throw ValidationError("--rules: not base64.") }
        do {
            return try JSONDecoder().decode([IORule].self, from: data)
        } catch {
            throw ValidationError("--rules: not a JSON array of IO rules: \(error)")
        }
    }

    func run() throws {
        signal(SIGTERM) { _ in IOFileSystemCommand.terminated = 1 }
        signal(SIGINT) { _ in IOFileSystemCommand.terminated = 1 }
        let namespaceError = tumult_early_namespace_error()
        guard namespaceError == 0 else {
            throw ValidationError("cannot enter the mount namespace \(ProcessInfo.processInfo.environment["TUMULT_MOUNT_NAMESPACE"] ?? ""): \(String(cString: strerror(namespaceError)))")
        }
        if unmount {
            let proc = tumult_early_proc_fd() >= 0 ? tumult_early_proc_fd() : open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            let count = try IOFileSystem.unmountTumult(at: volume, proc: proc)
            print("unmounted \(count)")
            return
        }
        var fuse = tumult_early_fuse_fd()
        if fuse < 0 {
            guard (ProcessInfo.processInfo.environment["TUMULT_MOUNT_NAMESPACE"] ?? "").isEmpty else {
                throw ValidationError("/dev/fuse was not opened before entering the mount namespace")
            }
            fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC)
            guard fuse >= 0 else { throw ValidationError("cannot open /dev/fuse: \(String(cString: strerror(errno)))") }
        }
        let fileSystem = try IOFileSystem(volume: volume, rules: try decodedRules(), fuseDescriptor: fuse)
        let served = Thread {
            try? fileSystem.run()
            // Unmounted by someone else: nothing left to serve.
            IOFileSystemCommand.terminated = 1
        }
        served.name = "tumult.io-fs"
        served.start()
        HelperReady.announce()
        // Never tied to the process that started it: files of the target stay
        // open on this file system until recovery has moved them back.
        while Self.terminated == 0 {
            usleep(50_000)
        }
        fileSystem.stop()
        // Exiting closes /dev/fuse, which aborts a connection still held open.
        Glibc.exit(0)
    }
}
