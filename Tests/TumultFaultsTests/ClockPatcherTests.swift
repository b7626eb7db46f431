import Foundation
import Testing
@testable import TumultSystem

/// The page's header and the skew arithmetic, without any process.
struct ClockPageTests {
    @Test func offsetsSplitIntoSecondsAndPositiveNanoseconds() {
        for (offset, seconds, nanoseconds) in [(Int64(-600_000_000_000), Int64(-600), Int64(0)), (-1, -1, 999_999_999),
                                               (1_500_000_000, 1, 500_000_000), (-1_500_000_000, -2, 500_000_000)] {
            let split = ClockPage.Header.split(offset)
            #expect(split.seconds == seconds && split.nanoseconds == nanoseconds, "\(offset)")
        }
    }

    @Test func headerRoundTrips() throws {
        let original = [UInt8](0..<12)
        let header = ClockPage.Header(marker: "attack-1", offset: -2_500_000_123, clockMask: 0b11,
                                      entries: [.clockGettime: (0x7fff_0000_1b10, original)])
        let decoded = try #require(ClockPage.Header(header.encoded()))
        #expect(decoded.marker == "attack-1")
        #expect(decoded.offsetSeconds == -3 && decoded.offsetNanoseconds == 499_999_877)
        #expect(decoded.clockMask == 0b11)
        #expect(decoded.entries[.clockGettime]?.address == 0x7fff_0000_1b10)
        #expect(decoded.entries[.clockGettime]?.original == original)
        #expect(decoded.entries[.time] == nil)
        #expect(ClockPage.Header(Array(repeating: 0, count: ClockPage.headerSize)) == nil)
    }

    @Test func jumpsDecode() {
        let jump = ClockPage.jump(to: 0x7f12_3456_7100)
        #expect(jump.count == ClockPage.jumpLength)
        #expect(ClockPage.jumpTarget(jump) == 0x7f12_3456_7100)
        #expect(ClockPage.page(ofJumpTarget: 0x7f12_3456_7100, entry: .clockGettime) == 0x7f12_3456_7000)
        #expect(ClockPage.page(ofJumpTarget: 0x7f12_3456_7100, entry: .time) == nil)
        #expect(ClockPage.jumpTarget([0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5, 0x41, 0x57, 0x41, 0x56]) == nil)
    }

    @Test func clockIDsBecomeAMask() throws {
        #expect(try ClockPatcher.clockMask([]) == 1)
        #expect(try ClockPatcher.clockMask([0, 1, 11]) == 0b1000_0000_0011)
        #expect(throws: SystemError.self) { try ClockPatcher.clockMask([64]) }
        #expect(throws: SystemError.self) { try ClockPatcher.clockMask([-2]) }
    }
}

/// TimeChaos on real processes: a probe reads its clocks through glibc and
/// the vDSO, and its readings are measured against this process's own time.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root to ptrace other processes"),
       .enabled(if: ClockPatcher.unsupportedReason == nil, "TimeChaos patches the x86_64 vDSO"),
       .enabled(if: ClockProbe.hasCompiler, "needs cc to build the clock probe"))
struct ClockPatcherTests {
    static let minute: Int64 = 60_000_000_000
    static let millisecond: Int64 = 1_000_000

    /// Builds the probe, runs `body` with its directory, removes it.
    func withProbeBuild(_ body: (URL) throws -> Void) throws {
        let directory = try #require(try ClockProbe.build())
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory)
    }

    /// Whether `value` is within `tolerance` of the interval the test saw, moved by `offset`.
    func near(_ value: Int64, _ from: Int64, _ to: Int64, offset: Int64, tolerance: Int64 = 5 * Self.millisecond) -> Bool {
        value >= from + offset - tolerance && value <= to + offset + tolerance
    }

    /// Checks a reading's realtime, time(), gettimeofday and reader threads
    /// are `offset` away from real time, and monotonic `monotonicOffset` away.
    func expectShift(_ reading: ClockProbe.Reading, realtime offset: Int64, monotonic monotonicOffset: Int64 = 0,
                     threads: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(near(reading.realtime, reading.sent, reading.received, offset: offset),
                "clock_gettime(CLOCK_REALTIME) is \(Double(reading.realtime - reading.sent - offset) / 1e6) ms off",
                sourceLocation: sourceLocation)
        #expect(near(reading.gettimeofday * 1000, reading.sent, reading.received, offset: offset),
                "gettimeofday is \(Double(reading.gettimeofday * 1000 - reading.sent - offset) / 1e6) ms off",
                sourceLocation: sourceLocation)
        #expect(near(reading.time * 1_000_000_000, reading.sent, reading.received, offset: offset, tolerance: 1_000_000_000),
                "time() is \(reading.time - (reading.sent + offset) / 1_000_000_000) s off", sourceLocation: sourceLocation)
        #expect(near(reading.monotonic, reading.sentMonotonic, reading.receivedMonotonic, offset: monotonicOffset),
                "CLOCK_MONOTONIC is \(Double(reading.monotonic - reading.sentMonotonic - monotonicOffset) / 1e6) ms off",
                sourceLocation: sourceLocation)
        if threads && reading.threads > 0 {
            // Reader threads sample every millisecond or so: allow for the age of their latest sample.
            #expect(near(reading.oldestThread, reading.sent, reading.received, offset: offset, tolerance: 50 * Self.millisecond)
                    && near(reading.newestThread, reading.sent, reading.received, offset: offset, tolerance: 50 * Self.millisecond),
                    "reader threads are \(Double(reading.oldestThread - reading.sent - offset) / 1e6) to \(Double(reading.newestThread - reading.sent - offset) / 1e6) ms off",
                    sourceLocation: sourceLocation)
        }
    }

    /// Lets reader threads take a sample after a change.
    func settle() { usleep(20_000) }

    @Test func shiftsRealtimeOfThreadsAndChildrenAndRestores() throws {
        try withProbeBuild { directory in
            let probe = try ClockProbe(directory: directory, threads: 4)
            defer { probe.stop() }
            let bystander = try ClockProbe(directory: directory)
            defer { bystander.stop() }
            let marker = "clock-test-\(UUID().uuidString.prefix(8))"
            let baseline = probe.maps
            expectShift(try probe.reading(), realtime: 0)

            let patch = try ClockPatcher.patch(pid: probe.pid, skew: ClockSkew(offsetNanoseconds: -10 * Self.minute, clockIDs: [0]),
                                               marker: marker)
            defer { _ = try? ClockPatcher.restore(pid: probe.pid, marker: marker) }
            #expect(patch.pid == probe.pid && patch.marker == marker && patch.page % 4096 == 0)
            #expect(patch.startTime == Processes.startTime(of: probe.pid))
            #expect(ClockPatcher.isPatched(pid: probe.pid, marker: marker))
            #expect(probe.maps.contains(String(patch.page, radix: 16) + "-"), "the page is not in the probe's maps")
            settle()
            expectShift(try probe.reading(), realtime: -10 * Self.minute)

            // Others are untouched: another probe, and this process.
            expectShift(try bystander.reading(), realtime: 0)
            #expect(!ClockPatcher.isPatched(pid: bystander.pid, marker: marker))
            let ours = ClockProbe.now(CLOCK_REALTIME), other = try bystander.reading()
            #expect(abs(other.realtime - ours) < 1_000 * Self.millisecond, "this process's clock moved")

            // A child forked and threads started during the fault read the shift too.
            let child = try probe.fork()
            defer { _ = try? ClockPatcher.restore(pid: child, marker: marker) }
            expectShift(try probe.reading(of: child), realtime: -10 * Self.minute)
            #expect(try probe.addThreads() == 8)
            settle()
            let more = try probe.reading()
            #expect(more.threads == 8)
            expectShift(more, realtime: -10 * Self.minute)

            #expect(try ClockPatcher.restore(pid: probe.pid, marker: marker))
            settle()
            expectShift(try probe.reading(), realtime: 0)
            #expect(!ClockPatcher.isPatched(pid: probe.pid, marker: marker))
            let maps = probe.maps
            #expect(!maps.contains(String(patch.page, radix: 16) + "-"), "the page is still mapped")
            let missing = baseline.split(separator: "\n").filter { !maps.contains($0) }
            #expect(missing.isEmpty, "mappings changed by restore: \(missing)")
            // The child keeps its own copy until it is restored itself.
            expectShift(try probe.reading(of: child), realtime: -10 * Self.minute)
            #expect(try ClockPatcher.restore(pid: child, marker: marker))
            expectShift(try probe.reading(of: child), realtime: 0)

            #expect(try ClockPatcher.restore(pid: probe.pid, marker: marker) == false)
            #expect(try ClockPatcher.restore(pid: probe.pid, marker: nil) == false)
        }
    }

    @Test func restoreOfAGoneProcessIsFalse() throws {
        try withProbeBuild { directory in
            let probe = try ClockProbe(directory: directory)
            let pid = probe.pid
            _ = try ClockPatcher.patch(pid: pid, skew: ClockSkew(offsetNanoseconds: -Self.minute, clockIDs: [0]), marker: "gone")
            probe.stop()
            #expect(try ClockPatcher.restore(pid: pid, marker: "gone") == false)
            #expect(try ClockPatcher.restore(pid: pid, marker: nil) == false)
            #expect(!ClockPatcher.isPatched(pid: pid, marker: "gone"))
            #expect(throws: SystemError.self) {
                try ClockPatcher.patch(pid: pid, skew: ClockSkew(offsetNanoseconds: 1, clockIDs: [0]), marker: "gone")
            }
        }
    }

    @Test func shiftsMonotonicOnlyWhenAsked() throws {
        try withProbeBuild { directory in
            let probe = try ClockProbe(directory: directory, threads: 2)
            defer { probe.stop() }
            let hour = 60 * Self.minute
            _ = try ClockPatcher.patch(pid: probe.pid, skew: ClockSkew(offsetNanoseconds: hour, clockIDs: [1]), marker: "monotonic")
            defer { _ = try? ClockPatcher.restore(pid: probe.pid, marker: "monotonic") }
            settle()
            expectShift(try probe.reading(), realtime: 0, monotonic: hour)
            #expect(try ClockPatcher.restore(pid: probe.pid, marker: "monotonic"))
            expectShift(try probe.reading(), realtime: 0)
        }
    }

    @Test func findsPatchedProcessesAndTheirChildren() throws {
        try withProbeBuild { directory in
            let probe = try ClockProbe(directory: directory)
            defer { probe.stop() }
            let bystander = try ClockProbe(directory: directory)
            defer { bystander.stop() }
            let marker = "clock-scan-\(UUID().uuidString.prefix(8))"
            let patch = try ClockPatcher.patch(pid: probe.pid, skew: ClockSkew(offsetNanoseconds: -5 * Self.minute, clockIDs: [0]),
                                               marker: marker)
            defer { _ = try? ClockPatcher.restore(pid: probe.pid, marker: marker) }
            let child = try probe.fork()
            defer { _ = try? ClockPatcher.restore(pid: child, marker: marker) }

            let started = Date()
            let found = ClockPatcher.patchedProcesses(marker: marker)
            print("patchedProcesses scanned the host in \(String(format: "%.1f", Date().timeIntervalSince(started) * 1000)) ms")
            #expect(Set(found.map(\.pid)) == [probe.pid, child])
            #expect(found.allSatisfy { $0.page == patch.page && $0.marker == marker })
            #expect(found.first { $0.pid == child }?.startTime == Processes.startTime(of: child))
            #expect(ClockPatcher.patchedProcesses(marker: nil).contains { $0.pid == child })
            #expect(ClockPatcher.patchedProcesses(marker: "someone-else").isEmpty)

            // Restored from what the processes carry, as after a crash.
            for patched in found { #expect(try ClockPatcher.restore(pid: patched.pid, marker: nil)) }
            #expect(ClockPatcher.patchedProcesses(marker: marker).isEmpty)
            expectShift(try probe.reading(of: child), realtime: 0)
            expectShift(try probe.reading(), realtime: 0)
        }
    }

    @Test func patchesAndRestoresFiftyThreadsQuickly() throws {
        try withProbeBuild { directory in
            let probe = try ClockProbe(directory: directory, threads: 50)
            defer { probe.stop() }
            var patchTimes: [Double] = [], restoreTimes: [Double] = []
            for round in 0..<5 {
                let marker = "clock-50-\(round)"
                var started = ClockProbe.now(CLOCK_MONOTONIC)
                _ = try ClockPatcher.patch(pid: probe.pid, skew: ClockSkew(offsetNanoseconds: -10 * Self.minute, clockIDs: [0]),
                                           marker: marker)
                patchTimes.append(Double(ClockProbe.now(CLOCK_MONOTONIC) - started) / 1e6)
                settle()
                expectShift(try probe.reading(), realtime: -10 * Self.minute)
                started = ClockProbe.now(CLOCK_MONOTONIC)
                #expect(try ClockPatcher.restore(pid: probe.pid, marker: marker))
                restoreTimes.append(Double(ClockProbe.now(CLOCK_MONOTONIC) - started) / 1e6)
                settle()
                expectShift(try probe.reading(), realtime: 0)
            }
            let show = { (times: [Double]) in times.map { String(format: "%.2f", $0) }.joined(separator: " ") }
            print("TimeChaos on 51 threads: patch \(show(patchTimes)) ms, restore \(show(restoreTimes)) ms (goal ≤ 50 ms each)")
            #expect(patchTimes.min()! < 1000 && restoreTimes.min()! < 1000)
        }
    }

    @Test func anotherMarkerIsRefusedAndTheSameOneUpdates() throws {
        try withProbeBuild { directory in
            let probe = try ClockProbe(directory: directory, threads: 2)
            defer { probe.stop() }
            let first = try ClockPatcher.patch(pid: probe.pid, skew: ClockSkew(offsetNanoseconds: -10 * Self.minute, clockIDs: [0]),
                                               marker: "holder")
            defer { _ = try? ClockPatcher.restore(pid: probe.pid, marker: nil) }
            let error = #expect(throws: SystemError.self) {
                try ClockPatcher.patch(pid: probe.pid, skew: ClockSkew(offsetNanoseconds: Self.minute, clockIDs: [0]), marker: "intruder")
            }
            #expect(error?.description.contains("holder") == true, "\(String(describing: error))")
            #expect(try ClockPatcher.restore(pid: probe.pid, marker: "intruder") == false)
            settle()
            expectShift(try probe.reading(), realtime: -10 * Self.minute)

            let second = try ClockPatcher.patch(pid: probe.pid, skew: ClockSkew(offsetNanoseconds: 3 * Self.minute + 1_500_000, clockIDs: [0]),
                                                marker: "holder")
            #expect(second.page == first.page)
            settle()
            expectShift(try probe.reading(), realtime: 3 * Self.minute + 1_500_000)
            #expect(ClockPatcher.patchedProcesses(marker: "holder").map(\.pid) == [probe.pid])
            #expect(try ClockPatcher.restore(pid: probe.pid, marker: "holder"))
            settle()
            expectShift(try probe.reading(), realtime: 0)
        }
    }

    /// Threads that call clock_gettime, gettimeofday and time without
    /// pause are stopped anywhere, the patched entries included: patch and
    /// restore must step them out of the bytes they rewrite, and out of the
    /// page before it goes, or the probe crashes.
    @Test func survivesThreadsSpinningOnTheClock() throws {
        try withProbeBuild { directory in
            let probe = try ClockProbe(directory: directory, threads: 6, busy: true)
            defer { probe.stop() }
            for round in 0..<40 {
                _ = try ClockPatcher.patch(pid: probe.pid, skew: ClockSkew(offsetNanoseconds: -Self.minute, clockIDs: [0]), marker: "spin")
                usleep(UInt32.random(in: 0...2_000))
                #expect(try ClockPatcher.restore(pid: probe.pid, marker: "spin"), "round \(round)")
                try #require(Processes.isAlive(probe.pid), "the probe died in round \(round)")
                usleep(UInt32.random(in: 0...2_000))
            }
            // Spinning threads may wait long for a CPU: only the main thread's readings are timed.
            expectShift(try probe.reading(), realtime: 0, threads: false)
        }
    }

    @Test func refusesWhatItCannotPatch() throws {
        let skew = ClockSkew(offsetNanoseconds: -Self.minute, clockIDs: [0])
        #expect(throws: SystemError.self) { try ClockPatcher.patch(pid: getpid(), skew: skew, marker: "self") }
        #expect(throws: SystemError.self) { try ClockPatcher.patch(pid: 1, skew: skew, marker: String(repeating: "x", count: 65)) }
        #expect(throws: SystemError.self) { try ClockPatcher.patch(pid: 1, skew: ClockSkew(offsetNanoseconds: 1, clockIDs: [99]), marker: "m") }
        #expect(throws: SystemError.self) { try ClockPatcher.patch(pid: Int32.max, skew: skew, marker: "m") }
    }
}
