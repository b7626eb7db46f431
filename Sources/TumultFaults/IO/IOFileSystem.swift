import CTumultFuse
import Foundation
import Glibc
import Synchronization
import TumultModel
import TumultSystem

/// The file system of an IO fault: FUSE mounted over a volume, passing
/// every operation through to the directory it covers, with the rules'
/// latency, errors, wrong attributes and corrupted data on the way.
///
/// The original stays reachable because the volume is opened (TUMULT_O_PATH)
/// before FUSE is mounted over it: every operation is an *at() call
/// relative to descriptors derived from that one, so no second mount is
/// needed and nothing has to be moved. Recovery is one lazy unmount.
public final class IOFileSystem: @unchecked Sendable {
    /// The mount point, as this process (in the target's mount namespace) sees it.
    public let volume: String
    let policy: IOFaultPolicy
    /// How long the kernel may cache attributes (0 when a rule acts on stat).
    let timeout: Double
    /// How long the kernel may cache names (0 when a rule acts on lookup).
    let entryTimeout: Double
    /// The root of the volume: the directory underneath the mount.
    let root: Node
    /// The host's /proc: `self/fd/N` below it reopens an TUMULT_O_PATH descriptor
    /// for real I/O (there is no reopen system call).
    let proc: Int32
    private let ownsProc: Bool
    /// Every node the kernel holds a reference to, by device and inode number.
    let nodes = Mutex<[Node.Key: Node]>([:])
    private let faultsOff = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    /// The FUSE connection's number (the minor of the mount's device), for
    /// aborting it when lazy unmounting leaves it busy.
    private var connection: Int?
    /// Our mount's id in the mount table, so that only it is ever unmounted.
    private var mountID: Int?
    private var session: OpaquePointer?

    /// One file, directory or other inode the kernel has looked up: an
    /// TUMULT_O_PATH descriptor of it on the original volume, and the full path it
    /// was last looked up by (what the rules' globs see).
    final class Node: @unchecked Sendable {
        struct Key: Hashable {
            var device: UInt64
            var number: UInt64
        }

        let fd: Int32
        let key: Key
        /// Guarded by `IOFileSystem.nodes`.
        var lookups: UInt64
        /// Guarded by `IOFileSystem.nodes`.
        var path: String

        init(fd: Int32, key: Key, lookups: UInt64, path: String) {
            self.fd = fd
            self.key = key
            self.lookups = lookups
            self.path = path
        }

        /// The descriptor's name below the host /proc, for reopening it.
        var procName: String { "self/fd/\(fd)" }
    }

    /// Opens `volume`, then mounts FUSE (served from `fuseDescriptor`, an
    /// open /dev/fuse) over it. The caller then calls `run()`.
    public init(volume: String, rules: [IORule], fuseDescriptor: Int32) throws {
        let canonical = volume.count > 1 && volume.hasSuffix("/") ? String(volume.dropLast()) : volume
        self.volume = canonical
        policy = IOFaultPolicy(volume: canonical, rules: rules)
        timeout = policy.attributeTimeout
        entryTimeout = policy.entryTimeout

        let rootFD = Glibc.open(canonical, TUMULT_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw Self.failure("cannot open the volume \(canonical)") }
        var attributes = stat()
        guard fstat(rootFD, &attributes) == 0 else {
            let error = Self.failure("cannot stat the volume \(canonical)")
            close(rootFD)
            throw error
        }
        root = Node(fd: rootFD, key: Node.Key(device: UInt64(attributes.st_dev), number: UInt64(attributes.st_ino)),
                    lookups: 2, path: canonical)
        let early = tumult_early_proc_fd()
        if early >= 0 {
            proc = early
            ownsProc = false
        } else {
            proc = Glibc.open("/proc", TUMULT_O_PATH | O_DIRECTORY | O_CLOEXEC)
            ownsProc = true
        }
        // From here on every stored property is set: a failure leaves the
        // cleanup to deinit.
        guard proc >= 0 else { throw Self.failure("cannot open /proc (needed to reopen files of the volume)") }

        var operations = Self.operations()
        guard let session = tumult_session_new(&operations, Unmanaged.passUnretained(self).toOpaque()) else {
            throw FaultError(.applyFailed, "cannot create a FUSE session for \(canonical)")
        }
        self.session = session

        let options = "fd=\(fuseDescriptor),rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions"
        guard mount("tumult", canonical, "fuse.tumult", UInt(MS_NOSUID | MS_NODEV), options) == 0 else {
            throw Self.failure("cannot mount FUSE over \(canonical)")
        }
        // libfuse takes an already mounted descriptor as /dev/fd/N.
        guard fuse_session_mount(session, "/dev/fd/\(fuseDescriptor)") == 0 else {
            umount2(canonical, Int32(MNT_DETACH))
            throw FaultError(.applyFailed, "libfuse refused the mounted descriptor of \(canonical)")
        }
        let mine = mountTable()?.entries(at: canonical).last
        mountID = mine?.mountID
        connection = mine.flatMap { $0.device.split(separator: ":").last.flatMap { Int($0) } }
    }

    /// This process's mount table, read through the host /proc (the
    /// target's /proc may not show this process at all).
    func mountTable() -> MountTable? { Self.mountTable(proc: proc) }

    /// This process's mount table, read through a descriptor of the host's
    /// /proc (the target's own /proc may not know this process).
    static func mountTable(proc: Int32) -> MountTable? {
        let fd = openat(proc, "self/mountinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            data += chunk[0..<count]
        }
        return MountTable(mountinfo: String(decoding: data, as: UTF8.self))
    }

    /// Unmounts (lazily) every Tumult file system stacked on top of
    /// `volume` in this process's mount namespace, never what is under
    /// them; what recovery runs when the file system's own process was
    /// killed and left a dead mount. Returns how many it unmounted.
    public static func unmountTumult(at volume: String, proc: Int32) throws -> Int {
        var unmounted = 0
        while let top = mountTable(proc: proc)?.entries(at: volume).last, top.fsType == IOFaultInjector.fileSystemType {
            guard umount2(volume, Int32(MNT_DETACH)) == 0 else {
                throw FaultError(.recoverFailed, "cannot unmount \(volume): \(String(cString: strerror(errno)))")
            }
            unmounted += 1
        }
        return unmounted
    }

    deinit {
        releaseResources()
    }

    /// Serves requests until the file system is unmounted (by `stop()` or
    /// anyone else), on up to 64 threads: a delayed operation holds up only itself.
    public func run() throws {
        // Modes arrive already masked by the caller's umask; do not mask them twice.
        umask(0)
        guard let session else { return }
        running.store(true, ordering: .sequentiallyConsistent)
        defer { running.store(false, ordering: .sequentiallyConsistent) }
        let result = tumult_session_loop(session, 64, 16)
        if result < 0 && !stopping.load(ordering: .sequentiallyConsistent) {
            throw FaultError(.applyFailed, "the FUSE loop over \(volume) failed: \(String(cString: strerror(-result)))")
        }
    }

    /// Ends the fault: no more faults from now on, then a lazy unmount (the
    /// volume's original shows again at once). Files the target still holds
    /// open keep being served, faithfully, for up to `grace` seconds; then the
    /// connection is aborted (those files then fail with ENOTCONN). Safe to
    /// call from any thread, more than once.
    public func stop(grace: Double = 2) {
        faultsOff.store(true, ordering: .sequentiallyConsistent)
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        // Only our own mount: if someone else unmounted it already, the
        // topmost mount here is the original volume, which must stay.
        let top = mountTable()?.entries(at: volume).last
        if mountID == nil || top == nil || top?.mountID == mountID {
            umount2(volume, Int32(MNT_DETACH))
        }
        let deadline = Date().addingTimeInterval(grace)
        while running.load(ordering: .sequentiallyConsistent) && Date() < deadline { usleep(5_000) }
        guard running.load(ordering: .sequentiallyConsistent) else { return }
        if let connection {
            let abort = Glibc.open("/sys/fs/fuse/connections/\(connection)/abort", O_WRONLY | O_CLOEXEC)
            if abort >= 0 {
                _ = Glibc.write(abort, "1", 1)
                close(abort)
            }
        }
        if let session { fuse_session_exit(session) }
    }

    /// The rules while the fault is on; nil once `stop()` has been called.
    var activePolicy: IOFaultPolicy? {
        faultsOff.load(ordering: .relaxed) ? nil : policy
    }

    private func releaseResources() {
        if let session {
            // Closes the /dev/fuse descriptor too.
            fuse_session_destroy(session)
            self.session = nil
        }
        let nodes = self.nodes.withLock { table in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for node in nodes { close(node.fd) }
        if root.fd >= 0 { close(root.fd) }
        if ownsProc && proc >= 0 { close(proc) }
    }

    static func failure(_ doing: String) -> FaultError {
        FaultError(.applyFailed, "\(doing): \(String(cString: strerror(errno)))")
    }
}
