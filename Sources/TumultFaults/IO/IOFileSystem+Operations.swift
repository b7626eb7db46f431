import CTumultFuse
import Foundation
import Glibc
import Synchronization
import TumultModel

/// The FUSE low-level operations: each one checks the rules (latency,
/// fault), does the operation on the original volume with *at() calls on
/// the nodes' TUMULT_O_PATH descriptors, and replies with the underlying call's
/// errno as it is, attributes overridden and data corrupted where a rule says.
extension IOFileSystem {
    // MARK: - The operation table

    /// C callbacks cannot capture: each finds its file system in the request's user data.
    static func operations() -> fuse_lowlevel_ops {
        var operations = fuse_lowlevel_ops()
        operations.`init` = { _, connection in
            guard let connection else { return }
            // Reads spliced from the file into /dev/fuse, without a copy through user space.
            let splice = UInt32(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE)
            connection.pointee.want |= connection.pointee.capable & splice
            // The kernel clears set-user-id bits on write itself: the
            // underlying write is made by root, who keeps them.
            connection.pointee.want &= ~UInt32(FUSE_CAP_HANDLE_KILLPRIV)
        }
        operations.lookup = { request, parent, name in IOFileSystem.fileSystem(request).lookup(request, parent, name) }
        operations.forget = { request, node, count in
            IOFileSystem.fileSystem(request).forget(node, count)
            fuse_reply_none(request)
        }
        operations.forget_multi = { request, count, forgets in
            let served = IOFileSystem.fileSystem(request)
            for index in 0..<count {
                if let forget = forgets?[index] { served.forget(forget.ino, forget.nlookup) }
            }
            fuse_reply_none(request)
        }
        operations.getattr = { request, node, _ in IOFileSystem.fileSystem(request).getattr(request, node) }
        operations.setattr = { request, node, attributes, valid, info in
            IOFileSystem.fileSystem(request).setattr(request, node, attributes, valid, info)
        }
        operations.readlink = { request, node in IOFileSystem.fileSystem(request).readlink(request, node) }
        operations.mknod = { request, parent, name, mode, device in
            IOFileSystem.fileSystem(request).make(request, "mknod", parent, name) { mknodat($0, $1, mode, device) }
        }
        operations.mkdir = { request, parent, name, mode in
            IOFileSystem.fileSystem(request).make(request, "mkdir", parent, name) { mkdirat($0, $1, mode) }
        }
        operations.symlink = { request, target, parent, name in
            guard let target else { fuse_reply_err(request, EINVAL); return }
            IOFileSystem.fileSystem(request).make(request, "symlink", parent, name) { symlinkat(target, $0, $1) }
        }
        operations.unlink = { request, parent, name in IOFileSystem.fileSystem(request).remove(request, "unlink", parent, name, 0) }
        operations.rmdir = { request, parent, name in
            IOFileSystem.fileSystem(request).remove(request, "rmdir", parent, name, AT_REMOVEDIR)
        }
        operations.rename = { request, parent, name, newParent, newName, flags in
            IOFileSystem.fileSystem(request).rename(request, parent, name, newParent, newName, flags)
        }
        operations.link = { request, node, newParent, newName in
            IOFileSystem.fileSystem(request).link(request, node, newParent, newName)
        }
        operations.open = { request, node, info in IOFileSystem.fileSystem(request).open(request, node, info) }
        operations.create = { request, parent, name, mode, info in
            IOFileSystem.fileSystem(request).create(request, parent, name, mode, info)
        }
        operations.read = { request, node, size, offset, info in
            IOFileSystem.fileSystem(request).read(request, node, size, offset, info)
        }
        operations.write = { request, node, data, size, offset, info in
            IOFileSystem.fileSystem(request).write(request, node, data, size, offset, info)
        }
        operations.flush = { request, node, info in
            IOFileSystem.fileSystem(request).onHandle(request, "flush", node, info) { close(dup($0)) }
        }
        operations.release = { request, node, info in IOFileSystem.fileSystem(request).release(request, node, info) }
        operations.fsync = { request, node, dataOnly, info in
            IOFileSystem.fileSystem(request).onHandle(request, "fsync", node, info) { dataOnly != 0 ? fdatasync($0) : fsync($0) }
        }
        operations.opendir = { request, node, info in IOFileSystem.fileSystem(request).opendir(request, node, info) }
        operations.readdir = { request, node, size, offset, info in
            IOFileSystem.fileSystem(request).readdir(request, node, size, offset, info)
        }
        operations.releasedir = { request, node, info in IOFileSystem.fileSystem(request).releasedir(request, node, info) }
        operations.fsyncdir = { request, node, dataOnly, info in
            IOFileSystem.fileSystem(request).fsyncdir(request, node, dataOnly, info)
        }
        operations.statfs = { request, node in IOFileSystem.fileSystem(request).statfs(request, node) }
        operations.setxattr = { request, node, name, value, size, flags in
            IOFileSystem.fileSystem(request).setxattr(request, node, name, value, size, flags)
        }
        operations.getxattr = { request, node, name, size in
            IOFileSystem.fileSystem(request).readAttributes(request, "getxattr", node, size) { fd, buffer, capacity in
                tumult_getxattr(IOFileSystem.fileSystem(request).proc, fd, name, buffer, capacity)
            }
        }
        operations.listxattr = { request, node, size in
            IOFileSystem.fileSystem(request).readAttributes(request, "listxattr", node, size) { fd, buffer, capacity in
                tumult_listxattr(IOFileSystem.fileSystem(request).proc, fd, buffer?.assumingMemoryBound(to: CChar.self), capacity)
            }
        }
        operations.removexattr = { request, node, name in IOFileSystem.fileSystem(request).removexattr(request, node, name) }
        operations.access = { request, node, mask in IOFileSystem.fileSystem(request).access(request, node, mask) }
        return operations
    }

    /// renameat2's RENAME_EXCHANGE (linux/fs.h, not in Swift's Glibc module).
    static let renameExchange: UInt32 = 1 << 1

    static func fileSystem(_ request: fuse_req_t?) -> IOFileSystem {
        Unmanaged<IOFileSystem>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue()
    }

    // MARK: - Nodes

    func lookedUp(_ id: fuse_ino_t) -> Node {
        if id == fuse_ino_t(FUSE_ROOT_ID) { return root }
        return Unmanaged<Node>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(id))!).takeUnretainedValue()
    }

    func id(of node: Node) -> fuse_ino_t {
        node === root ? fuse_ino_t(FUSE_ROOT_ID) : fuse_ino_t(UInt(bitPattern: Unmanaged.passUnretained(node).toOpaque()))
    }

    func path(of node: Node) -> String {
        nodes.withLock { _ in node.path }
    }

    func path(of name: UnsafePointer<CChar>, in directory: Node) -> String {
        IOFaultPolicy.path(of: String(cString: name), in: path(of: directory))
    }

    /// Finds or makes the node of `name` in `directory` and counts one more
    /// kernel reference to it; fills `entry`. Returns 0 or an errno.
    func lookUp(_ directory: Node, _ name: UnsafePointer<CChar>, _ entry: inout fuse_entry_param) -> Int32 {
        var attributes = stat()
        guard fstatat(directory.fd, name, &attributes, AT_SYMLINK_NOFOLLOW) == 0 else { return errno }
        let fullPath = path(of: name, in: directory)
        var key = Node.Key(device: UInt64(attributes.st_dev), number: UInt64(attributes.st_ino))
        var found = nodes.withLock { table -> Node? in
            guard let node = table[key] else { return nil }
            node.lookups += 1
            if node.path != fullPath { node.path = fullPath }
            return node
        }
        if found == nil {
            let fd = openat(directory.fd, name, TUMULT_O_PATH | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { return errno }
            guard fstat(fd, &attributes) == 0 else {
                let error = errno
                close(fd)
                return error
            }
            key = Node.Key(device: UInt64(attributes.st_dev), number: UInt64(attributes.st_ino))
            let (node, duplicate) = nodes.withLock { table -> (Node, Bool) in
                if let node = table[key] {
                    node.lookups += 1
                    return (node, true)
                }
                let node = Node(fd: fd, key: key, lookups: 1, path: fullPath)
                table[key] = node
                return (node, false)
            }
            if duplicate { close(fd) }
            found = node
        }
        entry = fuse_entry_param()
        entry.ino = id(of: found!)
        entry.attr = attributes
        entry.attr_timeout = timeout
        entry.entry_timeout = entryTimeout
        return 0
    }

    func forget(_ id: fuse_ino_t, _ count: UInt64) {
        let node = lookedUp(id)
        guard node !== root else { return }
        let gone = nodes.withLock { table -> Bool in
            node.lookups -= min(count, node.lookups)
            guard node.lookups == 0 else { return false }
            table[node.key] = nil
            return true
        }
        if gone { close(node.fd) }
    }

    /// Points the nodes under `old` at `new` (and, for an exchange, the other way round).
    func renamed(from old: String, to new: String, exchange: Bool) {
        func moved(_ path: String, _ from: String, _ to: String) -> String? {
            if path == from { return to }
            if path.hasPrefix(from), path.utf8.dropFirst(from.utf8.count).first == UInt8(ascii: "/") {
                return to + path.dropFirst(from.count)
            }
            return nil
        }
        nodes.withLock { table in
            for node in table.values {
                if let path = moved(node.path, old, new) ?? (exchange ? moved(node.path, new, old) : nil) {
                    node.path = path
                }
            }
        }
    }

    // MARK: - Rules

    /// Applies the latency and fault rules for `method` on `path`: sleeps,
    /// then replies the fault's errno and returns true if one fired.
    func intercepted(_ request: fuse_req_t?, _ method: String, path: @autoclosure () -> String) -> Bool {
        guard let policy = activePolicy, policy.mayAffect(method) else { return false }
        var generator = SystemRandomNumberGenerator()
        let decision = policy.decide(path: path(), method: method, using: &generator)
        if decision.delayNanoseconds > 0 { Self.sleep(nanoseconds: decision.delayNanoseconds) }
        guard let error = decision.errno else { return false }
        fuse_reply_err(request, error)
        return true
    }

    /// The attributes of `path` as the rules want them reported by `method`.
    func reported(_ attributes: inout stat, _ method: String, path: @autoclosure () -> String) {
        guard let policy = activePolicy, policy.mayAffect(method) else { return }
        var generator = SystemRandomNumberGenerator()
        policy.overrideAttributes(&attributes, path: path(), using: &generator)
    }

    static func sleep(nanoseconds: Int64) {
        var remaining = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var left = timespec()
        while nanosleep(&remaining, &left) != 0 && errno == EINTR { remaining = left }
    }

    func replyEntry(_ request: fuse_req_t?, _ method: String, _ entry: inout fuse_entry_param, path: String) {
        reported(&entry.attr, method, path: path)
        fuse_reply_entry(request, &entry)
    }

    // MARK: - Names

    func lookup(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
        guard let name else { return replyError(request, EINVAL) }
        let directory = lookedUp(parent)
        if intercepted(request, "lookup", path: path(of: name, in: directory)) { return }
        var entry = fuse_entry_param()
        let error = lookUp(directory, name, &entry)
        guard error == 0 else { return replyError(request, error) }
        replyEntry(request, "lookup", &entry, path: path(of: lookedUp(entry.ino)))
    }

    /// mknod, mkdir, symlink: make `name` with `making`, give it to the
    /// caller, and reply its entry.
    func make(_ request: fuse_req_t?, _ method: String, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?,
              _ making: (Int32, UnsafePointer<CChar>) -> Int32) {
        guard let name else { return replyError(request, EINVAL) }
        let directory = lookedUp(parent)
        if intercepted(request, method, path: path(of: name, in: directory)) { return }
        guard making(directory.fd, name) == 0 else { return replyError(request, errno) }
        giveToCaller(request, directory, name)
        var entry = fuse_entry_param()
        let error = lookUp(directory, name, &entry)
        guard error == 0 else { return replyError(request, error) }
        replyEntry(request, method, &entry, path: path(of: lookedUp(entry.ino)))
    }

    /// Files are made by root here: hand a new one to the user who asked
    /// (keeping the group a set-group-id directory gave it).
    func giveToCaller(_ request: fuse_req_t?, _ directory: Node, _ name: UnsafePointer<CChar>) {
        guard let context = fuse_req_ctx(request)?.pointee, context.uid != 0 || context.gid != 0 else { return }
        var parent = stat()
        let inheritsGroup = fstat(directory.fd, &parent) == 0 && parent.st_mode & S_ISGID != 0
        _ = fchownat(directory.fd, name, context.uid, inheritsGroup ? gid_t.max : context.gid, AT_SYMLINK_NOFOLLOW)
    }

    func remove(_ request: fuse_req_t?, _ method: String, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?,
                _ flags: Int32) {
        guard let name else { return replyError(request, EINVAL) }
        let directory = lookedUp(parent)
        if intercepted(request, method, path: path(of: name, in: directory)) { return }
        replyError(request, unlinkat(directory.fd, name, flags) == 0 ? 0 : errno)
    }

    func rename(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ newParent: fuse_ino_t,
                _ newName: UnsafePointer<CChar>?, _ flags: UInt32) {
        guard let name, let newName else { return replyError(request, EINVAL) }
        let from = lookedUp(parent), to = lookedUp(newParent)
        let oldPath = path(of: name, in: from)
        if intercepted(request, "rename", path: oldPath) { return }
        guard tumult_renameat2(from.fd, name, to.fd, newName, flags) == 0 else { return replyError(request, errno) }
        renamed(from: oldPath, to: path(of: newName, in: to), exchange: flags & Self.renameExchange != 0)
        replyError(request, 0)
    }

    func link(_ request: fuse_req_t?, _ id: fuse_ino_t, _ newParent: fuse_ino_t, _ newName: UnsafePointer<CChar>?) {
        guard let newName else { return replyError(request, EINVAL) }
        let target = lookedUp(id), directory = lookedUp(newParent)
        if intercepted(request, "link", path: path(of: newName, in: directory)) { return }
        // TUMULT_AT_EMPTY_PATH links the TUMULT_O_PATH descriptor itself (root may).
        guard linkat(target.fd, "", directory.fd, newName, TUMULT_AT_EMPTY_PATH) == 0 else { return replyError(request, errno) }
        var entry = fuse_entry_param()
        let error = lookUp(directory, newName, &entry)
        guard error == 0 else { return replyError(request, error) }
        replyEntry(request, "link", &entry, path: path(of: lookedUp(entry.ino)))
    }

    // MARK: - Attributes

    func getattr(_ request: fuse_req_t?, _ id: fuse_ino_t) {
        let node = lookedUp(id)
        if intercepted(request, "getattr", path: path(of: node)) { return }
        replyAttributes(request, "getattr", node)
    }

    func replyAttributes(_ request: fuse_req_t?, _ method: String, _ node: Node) {
        var attributes = stat()
        guard fstatat(node.fd, "", &attributes, TUMULT_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 else {
            return replyError(request, errno)
        }
        reported(&attributes, method, path: path(of: node))
        fuse_reply_attr(request, &attributes, timeout)
    }

    func setattr(_ request: fuse_req_t?, _ id: fuse_ino_t, _ attributes: UnsafeMutablePointer<stat>?, _ valid: Int32,
                 _ info: UnsafeMutablePointer<fuse_file_info>?) {
        let node = lookedUp(id)
        guard let wanted = attributes?.pointee else { return replyError(request, EINVAL) }
        if intercepted(request, "setattr", path: path(of: node)) { return }
        let handle = info.map { Int32(truncatingIfNeeded: $0.pointee.fh) }
        if valid & FUSE_SET_ATTR_MODE != 0 {
            let result = handle.map { fchmod($0, wanted.st_mode) } ?? fchmodat(proc, node.procName, wanted.st_mode, 0)
            guard result == 0 else { return replyError(request, errno) }
        }
        if valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) != 0 {
            let uid = valid & FUSE_SET_ATTR_UID != 0 ? wanted.st_uid : uid_t.max
            let gid = valid & FUSE_SET_ATTR_GID != 0 ? wanted.st_gid : gid_t.max
            guard fchownat(node.fd, "", uid, gid, TUMULT_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 else {
                return replyError(request, errno)
            }
        }
        if valid & FUSE_SET_ATTR_SIZE != 0 {
            let result: Int32
            if let handle {
                result = ftruncate(handle, wanted.st_size)
            } else {
                let fd = openat(proc, node.procName, O_WRONLY | O_CLOEXEC)
                result = fd < 0 ? -1 : ftruncate(fd, wanted.st_size)
                let error = errno
                if fd >= 0 { close(fd) }
                errno = error
            }
            guard result == 0 else { return replyError(request, errno) }
        }
        if valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME) != 0 {
            let omit = timespec(tv_sec: 0, tv_nsec: Int(TUMULT_UTIME_OMIT)), now = timespec(tv_sec: 0, tv_nsec: Int(TUMULT_UTIME_NOW))
            var times = [omit, omit]
            if valid & FUSE_SET_ATTR_ATIME_NOW != 0 { times[0] = now } else if valid & FUSE_SET_ATTR_ATIME != 0 { times[0] = wanted.st_atim }
            if valid & FUSE_SET_ATTR_MTIME_NOW != 0 { times[1] = now } else if valid & FUSE_SET_ATTR_MTIME != 0 { times[1] = wanted.st_mtim }
            let result = handle.map { futimens($0, times) } ?? utimensat(proc, node.procName, times, 0)
            guard result == 0 else { return replyError(request, errno) }
        }
        replyAttributes(request, "setattr", node)
    }

    func readlink(_ request: fuse_req_t?, _ id: fuse_ino_t) {
        let node = lookedUp(id)
        if intercepted(request, "readlink", path: path(of: node)) { return }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlinkat(node.fd, "", &buffer, buffer.count)
        guard count >= 0 else { return replyError(request, errno) }
        guard count < buffer.count else { return replyError(request, ENAMETOOLONG) }
        buffer[count] = 0
        fuse_reply_readlink(request, buffer)
    }

    func statfs(_ request: fuse_req_t?, _ id: fuse_ino_t) {
        let node = lookedUp(id)
        if intercepted(request, "statfs", path: path(of: node)) { return }
        var result = statvfs()
        guard fstatvfs(node.fd, &result) == 0 else { return replyError(request, errno) }
        fuse_reply_statfs(request, &result)
    }

    func access(_ request: fuse_req_t?, _ id: fuse_ino_t, _ mask: Int32) {
        let node = lookedUp(id)
        if intercepted(request, "access", path: path(of: node)) { return }
        replyError(request, faccessat(proc, node.procName, mask, 0) == 0 ? 0 : errno)
    }

    // MARK: - Extended attributes

    func setxattr(_ request: fuse_req_t?, _ id: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ value: UnsafePointer<CChar>?,
                  _ size: Int, _ flags: Int32) {
        let node = lookedUp(id)
        if intercepted(request, "setxattr", path: path(of: node)) { return }
        replyError(request, tumult_setxattr(proc, node.fd, name, value, size, flags) == 0 ? 0 : errno)
    }

    func removexattr(_ request: fuse_req_t?, _ id: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
        let node = lookedUp(id)
        if intercepted(request, "removexattr", path: path(of: node)) { return }
        replyError(request, tumult_removexattr(proc, node.fd, name) == 0 ? 0 : errno)
    }

    /// getxattr and listxattr: size 0 asks how big the answer is.
    func readAttributes(_ request: fuse_req_t?, _ method: String, _ id: fuse_ino_t, _ size: Int,
                        _ reading: (Int32, UnsafeMutableRawPointer?, Int) -> Int) {
        let node = lookedUp(id)
        if intercepted(request, method, path: path(of: node)) { return }
        if size == 0 {
            let count = reading(node.fd, nil, 0)
            guard count >= 0 else { return replyError(request, errno) }
            fuse_reply_xattr(request, count)
            return
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        let count = reading(node.fd, buffer, size)
        guard count >= 0 else { return replyError(request, errno) }
        fuse_reply_buf(request, buffer.assumingMemoryBound(to: CChar.self), count)
    }

    func replyError(_ request: fuse_req_t?, _ error: Int32) {
        fuse_reply_err(request, error)
    }
}

// MARK: - Files and directories

extension IOFileSystem {
    /// An open directory: its stream and where the kernel's last readdir stopped.
    final class Directory {
        let stream: OpaquePointer
        var entry: UnsafeMutablePointer<dirent>?
        var offset: Int

        init(stream: OpaquePointer) {
            self.stream = stream
            offset = 0
        }
    }

    /// Page-cache use of a file just opened: direct I/O when a rule may act
    /// on its reads (each read must reach the rules), else the cache kept.
    func setCaching(_ info: UnsafeMutablePointer<fuse_file_info>, path: @autoclosure () -> String) {
        let direct = activePolicy.map { $0.directIO(path: path()) } ?? false
        tumult_file_info_set_caching(info, direct ? 1 : 0, direct ? 0 : 1)
    }

    func open(_ request: fuse_req_t?, _ id: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
        guard let info else { return replyError(request, EINVAL) }
        let node = lookedUp(id)
        if intercepted(request, "open", path: path(of: node)) { return }
        let fd = openat(proc, node.procName, (info.pointee.flags & ~O_NOFOLLOW) | O_CLOEXEC)
        guard fd >= 0 else { return replyError(request, errno) }
        info.pointee.fh = UInt64(fd)
        setCaching(info, path: path(of: node))
        if fuse_reply_open(request, info) != 0 { close(fd) }
    }

    func create(_ request: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ mode: mode_t,
                _ info: UnsafeMutablePointer<fuse_file_info>?) {
        guard let name, let info else { return replyError(request, EINVAL) }
        let directory = lookedUp(parent)
        if intercepted(request, "create", path: path(of: name, in: directory)) { return }
        let fd = tumult_openat(directory.fd, name, (info.pointee.flags | O_CREAT | O_CLOEXEC) & ~O_NOFOLLOW, mode)
        guard fd >= 0 else { return replyError(request, errno) }
        giveToCaller(request, directory, name)
        var entry = fuse_entry_param()
        let error = lookUp(directory, name, &entry)
        guard error == 0 else {
            close(fd)
            return replyError(request, error)
        }
        let filePath = path(of: lookedUp(entry.ino))
        reported(&entry.attr, "create", path: filePath)
        info.pointee.fh = UInt64(fd)
        setCaching(info, path: filePath)
        if fuse_reply_create(request, &entry, info) != 0 { close(fd) }
    }

    func read(_ request: fuse_req_t?, _ id: fuse_ino_t, _ size: Int, _ offset: off_t,
              _ info: UnsafeMutablePointer<fuse_file_info>?) {
        guard let info else { return replyError(request, EBADF) }
        let fd = Int32(truncatingIfNeeded: info.pointee.fh)
        let node = lookedUp(id)
        if intercepted(request, "read", path: path(of: node)) { return }
        guard let policy = activePolicy, policy.mayAffect("read"), policy.mayCorrupt(path: path(of: node), method: "read") else {
            // No mistake for this file: splice it, no copy through here.
            _ = tumult_reply_fd_data(request, fd, size, offset)
            return
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
        defer { buffer.deallocate() }
        let count = pread(fd, buffer.baseAddress, size, offset)
        guard count >= 0 else { return replyError(request, errno) }
        var generator = SystemRandomNumberGenerator()
        policy.corrupt(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), path: path(of: node), method: "read",
                       using: &generator)
        fuse_reply_buf(request, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), count)
    }

    func write(_ request: fuse_req_t?, _ id: fuse_ino_t, _ data: UnsafePointer<CChar>?, _ size: Int, _ offset: off_t,
               _ info: UnsafeMutablePointer<fuse_file_info>?) {
        guard let info else { return replyError(request, EBADF) }
        let fd = Int32(truncatingIfNeeded: info.pointee.fh)
        let node = lookedUp(id)
        if intercepted(request, "write", path: path(of: node)) { return }
        let count: Int
        if let policy = activePolicy, policy.mayAffect("write"), policy.mayCorrupt(path: path(of: node), method: "write") {
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
            defer { copy.deallocate() }
            if let data, size > 0 { copy.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size)) }
            var generator = SystemRandomNumberGenerator()
            let written = UnsafeMutableRawBufferPointer(rebasing: copy[0..<size])
            policy.corrupt(written, path: path(of: node), method: "write", using: &generator)
            count = pwrite(fd, copy.baseAddress, size, offset)
        } else {
            count = pwrite(fd, data, size, offset)
        }
        guard count >= 0 else { return replyError(request, errno) }
        fuse_reply_write(request, count)
    }

    /// flush and fsync: one call on the open file.
    func onHandle(_ request: fuse_req_t?, _ method: String, _ id: fuse_ino_t,
                  _ info: UnsafeMutablePointer<fuse_file_info>?, _ doing: (Int32) -> Int32) {
        guard let info else { return replyError(request, EBADF) }
        if intercepted(request, method, path: path(of: lookedUp(id))) { return }
        replyError(request, doing(Int32(truncatingIfNeeded: info.pointee.fh)) == 0 ? 0 : errno)
    }

    /// Closes the file whatever the rules say: the kernel forgets the handle
    /// either way, and a fault here must not leak the descriptor.
    func release(_ request: fuse_req_t?, _ id: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
        let fd = info.map { Int32(truncatingIfNeeded: $0.pointee.fh) }
        defer { if let fd { close(fd) } }
        if intercepted(request, "release", path: path(of: lookedUp(id))) { return }
        replyError(request, 0)
    }

    func opendir(_ request: fuse_req_t?, _ id: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
        guard let info else { return replyError(request, EINVAL) }
        let node = lookedUp(id)
        if intercepted(request, "opendir", path: path(of: node)) { return }
        let fd = openat(node.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return replyError(request, errno) }
        guard let stream = fdopendir(fd) else {
            let error = errno
            close(fd)
            return replyError(request, error)
        }
        info.pointee.fh = UInt64(UInt(bitPattern: Unmanaged.passRetained(Directory(stream: stream)).toOpaque()))
        if fuse_reply_open(request, info) != 0 { closeDirectory(info) }
    }

    func openDirectory(_ info: UnsafeMutablePointer<fuse_file_info>) -> Directory {
        Unmanaged<Directory>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(info.pointee.fh))!).takeUnretainedValue()
    }

    func closeDirectory(_ info: UnsafeMutablePointer<fuse_file_info>) {
        let handle = Unmanaged<Directory>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(info.pointee.fh))!)
        closedir(handle.takeUnretainedValue().stream)
        handle.release()
    }

    func readdir(_ request: fuse_req_t?, _ id: fuse_ino_t, _ size: Int, _ offset: off_t,
                 _ info: UnsafeMutablePointer<fuse_file_info>?) {
        guard let info else { return replyError(request, EBADF) }
        if intercepted(request, "readdir", path: path(of: lookedUp(id))) { return }
        let directory = openDirectory(info)
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(size, 1))
        defer { buffer.deallocate() }
        if offset != directory.offset {
            seekdir(directory.stream, offset)
            directory.entry = nil
            directory.offset = offset
        }
        var used = 0
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while true {
            if directory.entry == nil {
                errno = 0
                directory.entry = Glibc.readdir(directory.stream)
                guard directory.entry != nil else {
                    if errno != 0 && used == 0 { return replyError(request, errno) }
                    break
                }
            }
            let entry = directory.entry!
            var attributes = stat()
            attributes.st_ino = entry.pointee.d_ino
            attributes.st_mode = mode_t(entry.pointee.d_type) << 12
            let name = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self)
            let next = entry.pointee.d_off
            let added = fuse_add_direntry(request, buffer + used, size - used, name, &attributes, next)
            if added > size - used { break }
            used += added
            directory.entry = nil
            directory.offset = next
        }
        fuse_reply_buf(request, buffer, used)
    }

    func releasedir(_ request: fuse_req_t?, _ id: fuse_ino_t, _ info: UnsafeMutablePointer<fuse_file_info>?) {
        defer { if let info { closeDirectory(info) } }
        if intercepted(request, "releasedir", path: path(of: lookedUp(id))) { return }
        replyError(request, 0)
    }

    func fsyncdir(_ request: fuse_req_t?, _ id: fuse_ino_t, _ dataOnly: Int32, _ info: UnsafeMutablePointer<fuse_file_info>?) {
        guard let info else { return replyError(request, EBADF) }
        if intercepted(request, "fsyncdir", path: path(of: lookedUp(id))) { return }
        let fd = dirfd(openDirectory(info).stream)
        replyError(request, (dataOnly != 0 ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : errno)
    }
}
