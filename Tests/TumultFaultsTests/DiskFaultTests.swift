import Foundation
import Testing
import TumultFaults
import TumultSystem

/// The pure parts of disk faults: how much a fill adds, what a payload pass runs.
struct DiskPlanTests {
    @Test func fillByPercentAddsWhatBringsTheFilesystemThere() throws {
        let usage = DiskFaultInjector.Usage(total: 100 << 20, free: 80 << 20)
        #expect(try DiskFaultInjector.fillBytes(size: nil, percent: 50, usage: usage) == 30 << 20)
        #expect(try DiskFaultInjector.fillBytes(size: 10 << 20, percent: nil, usage: usage) == 10 << 20)
        #expect(throws: FaultError.self) { try DiskFaultInjector.fillBytes(size: nil, percent: 20, usage: usage) }
        #expect(throws: FaultError.self) { try DiskFaultInjector.fillBytes(size: 81 << 20, percent: nil, usage: usage) }
    }

    @Test func payloadPassesUseWholeBlocksAndDirectIO() {
        #expect(DiskFaultInjector.pass(for: 64 << 20) == .init(block: 1 << 20, count: 64))
        #expect(DiskFaultInjector.pass(for: (1 << 20) + 1).count == 2)
        #expect(DiskFaultInjector.pass(for: 1000) == .init(block: 4096, count: 1))
        let pass = DiskFaultInjector.pass(for: 4 << 20)
        #expect(DiskFaultInjector.dd(.write, "/d/f", pass: pass, direct: true).arguments
                == ["dd", "if=/dev/zero", "of=/d/f", "bs=1048576", "count=4", "oflag=direct", "conv=notrunc,fsync", "status=none"])
        #expect(DiskFaultInjector.dd(.read, "/d/f", pass: pass, direct: false, count: 1).arguments
                == ["dd", "if=/d/f", "of=/dev/null", "bs=1048576", "count=1", "iflag=nocache", "status=none"])
    }
}

/// Root integration tests: each on a small tmpfs of its own, with the real
/// `tumult` binary, and after every attack the filesystem empty again.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root to mount a tmpfs"))
struct DiskFaultTests {
    let cli = TumultCLI()

    @discardableResult
    func tumult(_ arguments: [String]) throws -> CommandResult { try cli.run(arguments) }

    /// A 64 MiB tmpfs of the test's own, unmounted and removed by `tearDown`.
    struct Scratch {
        let path = "/tmp/tmt-disk-\(UUID().uuidString.prefix(8).lowercased())"

        init() throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            let mounted = try Spawn.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", path])
            guard mounted.status == 0 else {
                try? FileManager.default.removeItem(atPath: path)
                throw SystemError.processFailed("mount: \(mounted.stderr)")
            }
        }

        var usage: DiskFaultInjector.Usage { DiskFaultInjector.Usage.of(path)! }
        var files: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

        func tearDown() {
            _ = try? Spawn.run(["umount", path])
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    func cleanUp(_ scratch: Scratch) {
        scratch.tearDown()
        cli.removeHome()
    }

    /// Injects a detached attack and returns its uid.
    func inject(_ arguments: [String]) throws -> String {
        let injected = try tumult(["attack", "disk"] + arguments)
        try #require(injected.status == 0, "inject failed: \(injected.stderr)")
        return injected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func recover(_ uid: String) throws {
        let recovered = try tumult(["recover", uid])
        #expect(recovered.status == 0, "recover failed: \(recovered.stderr)")
    }

    /// The processes carrying this attack's mark, by their command name.
    func workers(_ uid: String) -> [String] {
        Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid).compactMap(Self.name(of:))
    }

    static func name(of pid: Int32) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func fillToHalfTheFilesystemAndRecover() throws {
        let scratch = try Scratch()
        defer { cleanUp(scratch) }
        #expect(scratch.usage.percentUsed < 1)
        let uid = try inject(["fill", "--path", scratch.path, "--percent", "50"])
        #expect(scratch.usage.percentUsed >= 49, "\(scratch.usage.percentUsed)% used")
        #expect(scratch.files == ["tumult-fill-\(uid.prefix(8))"])
        try recover(uid)
        #expect(scratch.usage.percentUsed < 1, "\(scratch.usage.percentUsed)% used after recovery")
        #expect(scratch.files.isEmpty)
        try recover(uid)
    }

    @Test func fillBySizeWithFallocateAndWithZeros() throws {
        let scratch = try Scratch()
        defer { cleanUp(scratch) }
        for extra in [[], ["--no-fill-by-fallocate"]] {
            let before = scratch.usage.used
            let uid = try inject(["fill", "--path", scratch.path, "--size", "16MB"] + extra)
            #expect(scratch.usage.used - before >= 16_000_000, "\(extra): \(scratch.usage.used - before) bytes more")
            try recover(uid)
            #expect(scratch.usage.used <= before)
            #expect(scratch.files.isEmpty)
        }
    }

    @Test func payloadWritesWhileItRunsAndLeavesNothing() throws {
        let scratch = try Scratch()
        defer { cleanUp(scratch) }
        let child = try cli.start(["attack", "disk", "payload", "--mode", "write", "--process-num", "2",
                                   "--size", "4M", "--path", scratch.path, "--duration", "3s"])
        defer { close(child.stdout); close(child.stderr) }
        let uid = try #require(Self.firstLine(child.stdout), "no uid printed")
        // Both files written through (the first pass of each worker), and dd processes at work.
        let names = (0..<2).map { "tumult-payload-\(uid.prefix(8))-\($0)" }
        var sizes: [UInt64] = []
        var passes = Set<Int32>()
        for _ in 0..<30 {
            sizes = names.map { ((try? FileManager.default.attributesOfItem(atPath: "\(scratch.path)/\($0)"))?[.size] as? UInt64) ?? 0 }
            for pid in Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid) where Self.name(of: pid) == "dd" { passes.insert(pid) }
            if sizes.allSatisfy({ $0 == 4 << 20 }) && passes.count >= 2 { break }
            usleep(100_000)
        }
        #expect(sizes == [4 << 20, 4 << 20])
        #expect(passes.count >= 2, "dd processes seen: \(passes)")
        #expect(Spawn.wait(for: child.pid) == 0)
        #expect(workers(uid).isEmpty, "left running: \(workers(uid))")
        #expect(scratch.files.isEmpty)
    }

    @Test func detachedReadPayloadStopsOnRecover() throws {
        let scratch = try Scratch()
        defer { cleanUp(scratch) }
        let uid = try inject(["payload", "--mode", "read", "--size", "2M", "--path", scratch.path])
        #expect(scratch.files.count == 1)
        #expect(!workers(uid).isEmpty)
        try recover(uid)
        #expect(workers(uid).isEmpty, "left running: \(workers(uid))")
        #expect(scratch.files.isEmpty)
    }

    @Test func killedForegroundFillIsRecoveredFromTheJournal() throws {
        let scratch = try Scratch()
        defer { cleanUp(scratch) }
        let child = try cli.start(["attack", "disk", "fill", "--path", scratch.path, "--size", "8M",
                                   "--duration", "60s"])
        defer { close(child.stdout); close(child.stderr) }
        let uid = try #require(Self.firstLine(child.stdout), "no uid printed")
        #expect(scratch.files == ["tumult-fill-\(uid.prefix(8))"])
        #expect(scratch.usage.used >= 8 << 20)
        kill(child.pid, SIGKILL)
        Spawn.wait(for: child.pid)
        #expect(!scratch.files.isEmpty)

        let recovered = try tumult(["recover", "--all"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stdout.contains(uid))
        #expect(scratch.files.isEmpty)
        #expect(scratch.usage.percentUsed < 1)
    }

    @Test func badInputFailsClearlyAndChangesNothing() throws {
        let scratch = try Scratch()
        defer { cleanUp(scratch) }
        let cases: [([String], String)] = [
            (["fill", "--path", scratch.path, "--percent", "150"], "out of range"),
            (["fill", "--path", scratch.path + "/missing", "--size", "1M"], "no directory"),
            (["fill", "--path", scratch.path, "--size", "1G"], "bytes free"),
            (["fill", "--path", scratch.path, "--size", "1M", "--pid", "1"], "--pid: pid 1 is init"),
            (["payload", "--path", scratch.path, "--process-num", "0"], "--process-num"),
        ]
        for (arguments, message) in cases {
            let result = try tumult(["attack", "disk"] + arguments)
            #expect(result.status != 0, "\(arguments) succeeded")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(scratch.files.isEmpty)
        #expect(scratch.usage.percentUsed < 1)
        #expect(try tumult(["attack", "list"]).stdout.split(separator: "\n").count <= 1)
    }

    /// The first line `descriptor` delivers within 10 s.
    static func firstLine(_ descriptor: Int32) -> String? {
        var text = ""
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) >= 0 else { return nil }
            if poller.revents == 0 { continue }
            var byte: UInt8 = 0
            guard read(descriptor, &byte, 1) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return text.isEmpty ? nil : text }
            text.append(Character(UnicodeScalar(byte)))
        }
        return nil
    }
}
