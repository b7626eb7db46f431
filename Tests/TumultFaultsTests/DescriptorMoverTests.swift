import Foundation
import Testing
@testable import TumultSystem

/// The pure parts of moving a process's descriptors between mounts: what
/// /proc/PID/fdinfo says, and the flags a file is opened again with. The
/// moves themselves are measured in IOChaosTests on a real process.
@Suite struct DescriptorMoverTests {
    @Test func fdinfoGivesPositionFlagsAndMount() throws {
        let text = "pos:\t8192\nflags:\t02102001\nmnt_id:\t47\nino:\t12\n"
        let fields = try #require(DescriptorMover.fdinfo(text))
        #expect(fields.position == 8192)
        #expect(fields.flags == 0o2102001)
        #expect(fields.mountID == 47)
        #expect(DescriptorMover.fdinfo("pos:\t0\nflags:\t0100000\n") == nil)
    }

    @Test func reopeningNeverCreatesOrTruncatesButKeepsModeAppendAndCloseOnExec() {
        let flags = Int(O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_EXCL)
        let again = DescriptorMover.reopenFlags(flags)
        #expect(again & Int(O_CREAT | O_TRUNC | O_EXCL) == 0)
        #expect(again & Int(O_WRONLY) != 0 && again & Int(O_APPEND) != 0 && again & Int(O_CLOEXEC) != 0)
    }

    @Test func aProcessWithNothingOnTheMountIsNotStopped() throws {
        // This test process has nothing open on a mount that does not exist.
        let moved = try DescriptorMover.reopen(pid: getpid(), onMount: Int(Int32.max), under: "/nowhere")
        #expect(moved.moved == 0 && moved.left.isEmpty)
    }
}
