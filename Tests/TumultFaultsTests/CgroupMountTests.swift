import Testing
import TumultSystem

/// Which mount of a cgroup hierarchy Tumult writes under, read from
/// mountinfo text: the first of each hierarchy, unless something was
/// mounted over it at the same place later (then the later one is what
/// every process sees, and the earlier one's paths would be the host's).
@Suite struct CgroupMountTests {
    static let host = """
        30 23 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
        31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
        32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
        33 30 0:29 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer
        """

    @Test func theFirstMountOfEachHierarchyCounts() {
        // A bind mount of a subtree elsewhere (a container's view) does not replace the host's.
        let text = Self.host + "\n40 23 0:28 /docker/abc /mnt/memory rw - cgroup cgroup rw,memory\n"
        let found = CgroupHierarchy.mounted(mountinfo: text)
        #expect(found.map(\.mountPoint) == ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/freezer"])
        #expect(found.first { $0.controllers == ["memory"] }?.root == "/")
    }

    @Test func aMountOverTheSamePlaceHidesTheEarlierOne() {
        // A sandbox in its own cgroup namespace mounts its capped subtree over the host's.
        let text = Self.host + "\n41 32 0:28 /tmt-sandbox /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        let found = CgroupHierarchy.mounted(mountinfo: text)
        #expect(found.count == 3)
        let memory = found.first { $0.controllers == ["memory"] }
        #expect(memory?.mountPoint == "/sys/fs/cgroup/memory" && memory?.root == "/tmt-sandbox")
        #expect(found.first { $0.controllers == ["cpu", "cpuacct"] }?.root == "/")
    }
}
