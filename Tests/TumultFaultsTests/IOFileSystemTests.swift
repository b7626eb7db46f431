import Foundation
import Testing
import TumultFaults
import TumultModel
import TumultSystem

/// Root integration tests of the IO fault's file system: the real
/// `tumult io-fs` mounted over a fresh tmpfs, in the host's mount namespace
/// and in a private one (`unshare --mount`), checked with ordinary tools
/// run through the mount (inside that namespace with nsenter).
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root to mount"))
struct IOFileSystemTests {
    /// A tmpfs at `path` (in a private mount namespace when `isolated`), a
    /// scratch directory beside it for inputs and outputs, and the
    /// `tumult io-fs` over it while one runs.
    final class Volume {
        let path: String
        let scratch: String
        /// The `sleep` holding the private mount namespace.
        private(set) var holder: Int32?
        private(set) var server: Int32?

        init(isolated: Bool) throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-io-\(UUID().uuidString.prefix(8))").path
            path = base + "/vol"
            scratch = base + "/scratch"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            if isolated {
                let child = try Spawn.start(["unshare", "--mount", "--propagation", "private", "sleep", "600"],
                                            captureOutput: false)
                holder = child.pid
                // The namespace exists once unshare has exec'd sleep.
                let deadline = Date().addingTimeInterval(5)
                while (try? String(contentsOfFile: "/proc/\(child.pid)/comm", encoding: .utf8))?.hasPrefix("sleep") != true
                        && Date() < deadline { usleep(10_000) }
            }
            try check(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", path])
        }

        /// The namespace file of the private namespace, nil for the host's.
        var namespace: String? { holder.map { "/proc/\($0)/ns/mnt" } }

        /// Runs `arguments` where the volume is mounted.
        func run(_ arguments: [String]) throws -> CommandResult {
            try Spawn.run((namespace.map { ["nsenter", "--mount=\($0)"] } ?? []) + arguments)
        }

        @discardableResult
        func check(_ arguments: [String]) throws -> CommandResult {
            let result = try run(arguments)
            guard result.succeeded else { throw CommandError(doing: "test step", command: Command(arguments), result: result) }
            return result
        }

        /// How long `arguments` takes to run, in seconds.
        func timed(_ arguments: [String]) throws -> Double {
            let start = Date()
            try check(arguments)
            return Date().timeIntervalSince(start)
        }

        var mountTable: MountTable? { MountTable.read(pid: holder ?? getpid()) }

        /// Starts `tumult io-fs` over the volume and waits for its "ready".
        func serve(_ rules: [IORule]) throws {
            let encoded = try JSONEncoder().encode(rules).base64EncodedString()
            let started = try HelperProcess.start(
                Command([TumultCLI.executable.path, "io-fs", "--volume", path, "--rules", encoded]),
                environment: namespace.map { ["TUMULT_MOUNT_NAMESPACE": $0] } ?? [:], readyPrefix: "ready", detached: true)
            server = started.pid
        }

        /// SIGTERM to the server; its exit status (nil if it had to be killed).
        func stopServer() -> Int32? {
            guard let server else { return nil }
            self.server = nil
            kill(server, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            var status: Int32 = 0
            while Date() < deadline {
                let reaped = waitpid(server, &status, WNOHANG)
                if reaped == server { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
                if reaped < 0 { return nil }
                usleep(10_000)
            }
            kill(server, SIGKILL)
            _ = waitpid(server, &status, 0)
            return nil
        }

        func tearDown() {
            if let server {
                kill(server, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(server, &status, 0)
                self.server = nil
            }
            // The FUSE mount (if left) and the tmpfs.
            for _ in 0..<3 { _ = try? run(["umount", "-l", path]) }
            if let holder {
                kill(holder, SIGKILL)
                Spawn.wait(for: holder)
                self.holder = nil
            }
            try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
        }

        /// A scratch file of `size` bytes of `byte` (or a varied pattern when nil).
        func input(_ name: String, size: Int, byte: UInt8? = nil) throws -> String {
            let file = scratch + "/" + name
            let bytes = (0..<size).map { byte ?? UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            return file
        }
    }

    static func withVolume(isolated: Bool, _ body: (Volume) throws -> Void) throws {
        let volume = try Volume(isolated: isolated)
        defer { volume.tearDown() }
        try body(volume)
    }

    // MARK: - Pass-through

    @Test(arguments: [false, true])
    func passesEveryOperationThrough(isolated: Bool) throws {
        try Self.withVolume(isolated: isolated) { volume in
            let v = volume.path
            let before = try #require(volume.mountTable)
            // Something the volume held before the mount stays reachable.
            let original = try volume.input("original", size: 10_000)
            try volume.check(["cp", original, "\(v)/before"])
            try volume.serve([IORule(action: .latency, path: "/nowhere/*", delayNanoseconds: 1_000_000_000)])
            let mounted = try #require(volume.mountTable)
            #expect(mounted.entries(at: v).last?.fsType == "fuse.tumult")
            #expect(mounted.entries(at: v).last?.source == "tumult")

            try volume.check(["cmp", original, "\(v)/before"])
            // Write and read back, bytes identical.
            let data = try volume.input("data", size: 300_000)
            try volume.check(["cp", data, "\(v)/file"])
            try volume.check(["cmp", data, "\(v)/file"])
            // Append.
            let tail = try volume.input("tail", size: 5_000, byte: 7)
            try volume.check(["dd", "if=\(tail)", "of=\(v)/file", "oflag=append", "conv=notrunc", "status=none"])
            #expect(try volume.check(["stat", "-c", "%s", "\(v)/file"]).stdout.trimmed == "305000")
            try volume.check(["cmp", "-n", "300000", data, "\(v)/file"])
            // Truncate.
            try volume.check(["truncate", "-s", "1000", "\(v)/file"])
            #expect(try volume.check(["stat", "-c", "%s", "\(v)/file"]).stdout.trimmed == "1000")
            try volume.check(["cmp", "-n", "1000", data, "\(v)/file"])
            // chmod, chown, times.
            try volume.check(["chmod", "640", "\(v)/file"])
            try volume.check(["chown", "1234:5678", "\(v)/file"])
            try volume.check(["touch", "-m", "-d", "@1000000000", "\(v)/file"])
            #expect(try volume.check(["stat", "-c", "%a %u %g %Y", "\(v)/file"]).stdout.trimmed == "640 1234 5678 1000000000")
            // Directories.
            try volume.check(["mkdir", "\(v)/dir"])
            try volume.check(["mkdir", "\(v)/dir/sub"])
            try volume.check(["cp", data, "\(v)/dir/sub/inner"])
            #expect(try volume.check(["ls", "-a", "\(v)"]).stdout.split(separator: "\n").sorted()
                    == [".", "..", "before", "dir", "file"])
            // Rename (a directory with something in it), then use the new names.
            try volume.check(["mv", "\(v)/dir", "\(v)/moved"])
            try volume.check(["cmp", data, "\(v)/moved/sub/inner"])
            #expect(try volume.run(["stat", "\(v)/dir"]).succeeded == false)
            // Symlink, readlink, hard link.
            try volume.check(["ln", "-s", "moved/sub/inner", "\(v)/link"])
            #expect(try volume.check(["readlink", "\(v)/link"]).stdout.trimmed == "moved/sub/inner")
            try volume.check(["cmp", data, "\(v)/link"])
            try volume.check(["ln", "\(v)/moved/sub/inner", "\(v)/hard"])
            #expect(try volume.check(["stat", "-c", "%h", "\(v)/hard"]).stdout.trimmed == "2")
            // Extended attributes (tmpfs keeps user.* since Linux 6.6).
            try volume.check(["python3", "-c", "import os,sys; os.setxattr(sys.argv[1], 'user.tumult', b'yes')", "\(v)/hard"])
            #expect(try volume.check(["python3", "-c", "import os,sys; print(os.getxattr(sys.argv[1], 'user.tumult').decode(), os.listxattr(sys.argv[1]))", "\(v)/hard"]).stdout.trimmed
                    == "yes ['user.tumult']")
            try volume.check(["python3", "-c", "import os,sys; os.removexattr(sys.argv[1], 'user.tumult')", "\(v)/hard"])
            // Errors of the underlying call come back as they are.
            let missing = try volume.run(["cat", "\(v)/missing"])
            #expect(!missing.succeeded && missing.stderr.contains("No such file or directory"))
            let notEmpty = try volume.run(["rmdir", "\(v)/moved"])
            #expect(!notEmpty.succeeded && notEmpty.stderr.contains("not empty"))
            // Unlink and rmdir.
            try volume.check(["rm", "\(v)/hard", "\(v)/link", "\(v)/moved/sub/inner"])
            try volume.check(["rmdir", "\(v)/moved/sub", "\(v)/moved"])
            try volume.check(["df", v])

            #expect(volume.stopServer() == 0)
            // What was written through is on the volume itself.
            let after = try #require(volume.mountTable)
            #expect(after.entries == before.entries)
            #expect(try volume.check(["ls", "-a", v]).stdout.split(separator: "\n").sorted() == [".", "..", "before", "file"])
            try volume.check(["cmp", "-n", "1000", data, "\(v)/file"])
            #expect(try volume.check(["stat", "-c", "%a %u %g", "\(v)/file"]).stdout.trimmed == "640 1234 5678")
        }
    }

    // MARK: - Faults

    @Test func latencyDelaysOnlyTheMatchingOperations() throws {
        try Self.withVolume(isolated: true) { volume in
            let v = volume.path
            let block = try volume.input("block", size: 4096)
            try volume.serve([IORule(action: .latency, path: "*.db", methods: ["write"], delayNanoseconds: 400_000_000)])
            let write: (String) throws -> Double = { name in
                try volume.timed(["dd", "if=\(block)", "of=\(v)/\(name)", "bs=4096", "count=1", "conv=notrunc", "status=none"])
            }
            let slow = try write("a.db")
            let fast = try write("b.txt")
            let read = try volume.timed(["dd", "if=\(v)/a.db", "of=/dev/null", "bs=4096", "status=none"])
            #expect(slow >= 0.4, "write to a.db took \(slow) s")
            #expect(fast < 0.3, "write to b.txt took \(fast) s")
            #expect(read < 0.3, "read of a.db took \(read) s")
            #expect(volume.stopServer() == 0)
        }
    }

    @Test func faultFailsWritesWithTheErrno() throws {
        try Self.withVolume(isolated: true) { volume in
            let v = volume.path
            let block = try volume.input("block", size: 4096, byte: 1)
            try volume.check(["cp", block, "\(v)/target"])
            try volume.serve([IORule(action: .fault, methods: ["write"], percent: 100, errno: 5)])
            let zeros = try volume.input("zeros", size: 4096, byte: 0)
            let failed = try volume.run(["dd", "if=\(zeros)", "of=\(v)/target", "conv=notrunc", "status=none"])
            #expect(!failed.succeeded)
            #expect(failed.stderr.contains("Input/output error"), "\(failed.stderr)")
            // Nothing was written; reads still pass.
            try volume.check(["cmp", block, "\(v)/target"])
            #expect(volume.stopServer() == 0)
            try volume.check(["cmp", block, "\(v)/target"])
        }
    }

    @Test func attributeOverrideShowsInStat() throws {
        try Self.withVolume(isolated: true) { volume in
            let v = volume.path
            let block = try volume.input("block", size: 100)
            try volume.check(["cp", block, "\(v)/big.bin"])
            try volume.check(["cp", block, "\(v)/small.bin"])
            try volume.serve([IORule(action: .attrOverride, path: "*/big.bin", attr: .init(size: 123_456, perm: 0o600))])
            #expect(try volume.check(["stat", "-c", "%s %a", "\(v)/big.bin"]).stdout.trimmed == "123456 600")
            #expect(try volume.check(["stat", "-c", "%s", "\(v)/small.bin"]).stdout.trimmed == "100")
            #expect(volume.stopServer() == 0)
            #expect(try volume.check(["stat", "-c", "%s", "\(v)/big.bin"]).stdout.trimmed == "100")
        }
    }

    @Test func mistakeCorruptsReadsWithinBounds() throws {
        try Self.withVolume(isolated: true) { volume in
            let v = volume.path
            let data = try volume.input("data", size: 65_536, byte: 0xAA)
            try volume.check(["cp", data, "\(v)/file.db"])
            try volume.check(["cp", data, "\(v)/clean.txt"])
            try volume.serve([IORule(action: .mistake, path: "*.db", methods: ["read"],
                                     mistake: .init(filling: .zero, maxOccurrences: 3, maxLength: 8))])
            for _ in 0..<5 {
                let copy = volume.scratch + "/copy"
                // One 64 KiB read request (direct I/O for this file), at most 3 × 8 bytes wrong.
                try volume.check(["dd", "if=\(v)/file.db", "of=\(copy)", "bs=65536", "count=1", "status=none"])
                let differences = try volume.run(["cmp", "-l", data, copy]).stdout.split(separator: "\n").count
                #expect((1...24).contains(differences), "\(differences) bytes differ")
            }
            try volume.check(["cmp", data, "\(v)/clean.txt"])
            #expect(volume.stopServer() == 0)
            // The file itself was never changed.
            try volume.check(["cmp", data, "\(v)/file.db"])
        }
    }

    @Test func sigtermUnmountsAndExits() throws {
        try Self.withVolume(isolated: false) { volume in
            let before = try #require(volume.mountTable)
            try volume.serve([])
            let server = try #require(volume.server)
            #expect(volume.mountTable?.entries(at: volume.path).count == 2)
            #expect(volume.stopServer() == 0)
            #expect(!Processes.isAlive(server))
            #expect(volume.mountTable?.entries == before.entries)
        }
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
