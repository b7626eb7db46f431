import Foundation
import Testing
import TumultFaults
import TumultModel
import TumultSystem


/// The pure decisions of the IO fault's file system: which rule acts on
/// which operation of which file, and what it does to attributes and data.
struct IOFaultPolicyTests {
    @Test func globsMatchFullPathsAcrossSlashes() {
        #expect(IOFaultPolicy.matches(glob: "*.db", path: "/vol/a/b.db"))
        #expect(IOFaultPolicy.matches(glob: "/vol/*", path: "/vol/a/b/c"))
        #expect(IOFaultPolicy.matches(glob: "/vol/a/?.txt", path: "/vol/a/b.txt"))
        #expect(IOFaultPolicy.matches(glob: "*", path: "/vol/.hidden"))
        #expect(IOFaultPolicy.matches(glob: nil, path: "/anything"))
        #expect(!IOFaultPolicy.matches(glob: "*.db", path: "/vol/a/b.txt"))
        #expect(!IOFaultPolicy.matches(glob: "/other/*", path: "/vol/a.db"))
        #expect(IOFaultPolicy.path(of: "x", in: "/vol") == "/vol/x")
        #expect(IOFaultPolicy.path(of: "x", in: "/") == "/x")
    }

    @Test func methodsSelectOperations() {
        var generator = SplitMix64(seed: 1)
        let policy = IOFaultPolicy(volume: "/vol", rules: [
            IORule(action: .fault, path: "*.db", methods: ["WRITE"], errno: 5),
        ])
        #expect(policy.decide(path: "/vol/a.db", method: "write", using: &generator) == .init(errno: 5))
        #expect(policy.decide(path: "/vol/a.db", method: "read", using: &generator) == .passThrough)
        #expect(policy.decide(path: "/vol/a.txt", method: "write", using: &generator) == .passThrough)
        #expect(policy.mayAffect("write") && !policy.mayAffect("read") && !policy.mayAffect("lookup"))

        let everything = IOFaultPolicy(volume: "/vol", rules: [IORule(action: .latency, delayNanoseconds: 1_000)])
        for method in IOChaosSpec.fuseOperations {
            #expect(everything.decide(path: "/vol/x", method: method, using: &generator).delayNanoseconds == 1_000)
        }
    }

    @Test func latenciesAddUpAndTheFirstFaultWins() {
        var generator = SplitMix64(seed: 2)
        let policy = IOFaultPolicy(volume: "/vol", rules: [
            IORule(action: .latency, delayNanoseconds: 1_000_000),
            IORule(action: .latency, path: "*.db", delayNanoseconds: 2_000_000),
            IORule(action: .fault, path: "*.db", errno: 28),
            IORule(action: .fault, errno: 5),
        ])
        #expect(policy.decide(path: "/vol/a.db", method: "write", using: &generator)
                == .init(delayNanoseconds: 3_000_000, errno: 28))
        #expect(policy.decide(path: "/vol/a.txt", method: "read", using: &generator)
                == .init(delayNanoseconds: 1_000_000, errno: 5))
    }

    @Test func percentSamplesWithTheGivenGenerator() {
        let rule = IORule(action: .fault, percent: 30, errno: 5)
        let policy = IOFaultPolicy(volume: "/vol", rules: [rule])
        var generator = SplitMix64(seed: 42)
        let fired = (0..<10_000).filter { _ in policy.decide(path: "/vol/x", method: "read", using: &generator).errno != nil }
        #expect((2_700...3_300).contains(fired.count), "30% of 10000 draws, got \(fired.count)")

        // The same seed, the same draws.
        var first = SplitMix64(seed: 7), second = SplitMix64(seed: 7)
        let a = (0..<100).map { _ in IOFaultPolicy.fires(rule, using: &first) }
        let b = (0..<100).map { _ in IOFaultPolicy.fires(rule, using: &second) }
        #expect(a == b)

        var generator2 = SplitMix64(seed: 3)
        #expect((0..<100).allSatisfy { _ in IOFaultPolicy.fires(IORule(action: .fault, percent: 100), using: &generator2) })
        #expect((0..<100).allSatisfy { _ in !IOFaultPolicy.fires(IORule(action: .fault, percent: 0), using: &generator2) })
    }

    @Test func attributeOverrideReplacesEveryFieldItSets() {
        var attributes = stat()
        attributes.st_mode = S_IFREG | 0o644
        attributes.st_size = 10
        attributes.st_ino = 99
        let override = IOChaosSpec.AttrOverride(
            ino: 1234, size: 4096, blocks: 8, atime: .init(sec: 1, nsec: 2), mtime: .init(sec: 3, nsec: 4),
            ctime: .init(sec: 5, nsec: 6), kind: "directory", perm: 0o110, nlink: 7, uid: 1000, gid: 2000, rdev: 259)
        IOFaultPolicy.apply(override, to: &attributes)
        #expect(attributes.st_ino == 1234)
        #expect(attributes.st_size == 4096)
        #expect(attributes.st_blocks == 8)
        #expect(attributes.st_atim.tv_sec == 1 && attributes.st_atim.tv_nsec == 2)
        #expect(attributes.st_mtim.tv_sec == 3 && attributes.st_mtim.tv_nsec == 4)
        #expect(attributes.st_ctim.tv_sec == 5 && attributes.st_ctim.tv_nsec == 6)
        #expect(attributes.st_mode & S_IFMT == S_IFDIR)
        #expect(attributes.st_mode & 0o7777 == 0o110)
        #expect(attributes.st_nlink == 7)
        #expect(attributes.st_uid == 1000 && attributes.st_gid == 2000)
        #expect(attributes.st_rdev == 259)

        // Unset fields stay; kind alone keeps the permissions, perm alone the kind.
        var other = stat()
        other.st_mode = S_IFREG | 0o600
        other.st_size = 77
        IOFaultPolicy.apply(.init(kind: "symlink"), to: &other)
        #expect(other.st_mode == S_IFLNK | 0o600)
        IOFaultPolicy.apply(.init(perm: 0o4755), to: &other)
        #expect(other.st_mode == S_IFLNK | 0o4755)
        #expect(other.st_size == 77)
        for kind in IOChaosSpec.fileTypes { #expect(IOFaultPolicy.fileTypeBits(kind) != nil) }
    }

    @Test func attributeOverrideActsOnAttributeRepliesOfMatchingFiles() {
        var generator = SplitMix64(seed: 4)
        let policy = IOFaultPolicy(volume: "/vol", rules: [
            IORule(action: .attrOverride, path: "/vol/big*", attr: .init(size: 1 << 40)),
        ])
        var attributes = stat()
        #expect(policy.overrideAttributes(&attributes, path: "/vol/big.bin", using: &generator))
        #expect(attributes.st_size == 1 << 40)
        var untouched = stat()
        #expect(!policy.overrideAttributes(&untouched, path: "/vol/small", using: &generator))
        #expect(untouched.st_size == 0)
        for method in IOFaultPolicy.attributeReplies { #expect(policy.mayAffect(method)) }
        #expect(!policy.mayAffect("read"))
        // An override is no latency or fault.
        #expect(policy.decide(path: "/vol/big.bin", method: "getattr", using: &generator) == .passThrough)
    }

    @Test func mistakesStayWithinTheirBounds() {
        var generator = SplitMix64(seed: 5)
        for filling in [IOChaosSpec.Mistake.Filling.zero, .random] {
            let mistake = IOChaosSpec.Mistake(filling: filling, maxOccurrences: 3, maxLength: 10)
            for size in [1, 2, 9, 100, 4096] {
                for _ in 0..<200 {
                    var bytes = [UInt8](repeating: 0xAA, count: size)
                    let segments = bytes.withUnsafeMutableBytes { IOFaultPolicy.apply(mistake, to: $0, using: &generator) }
                    #expect((1...3).contains(segments.count))
                    for segment in segments {
                        #expect(segment.count >= 1 && segment.count <= 10)
                        #expect(segment.lowerBound >= 0 && segment.upperBound <= size)
                    }
                    // Nothing outside the segments changed.
                    for index in bytes.indices where !segments.contains(where: { $0.contains(index) }) {
                        #expect(bytes[index] == 0xAA)
                    }
                    if filling == .zero {
                        for segment in segments { #expect(bytes[segment].allSatisfy { $0 == 0 }) }
                    }
                }
            }
        }
        var empty: [UInt8] = []
        let none = empty.withUnsafeMutableBytes {
            IOFaultPolicy.apply(.init(filling: .zero, maxOccurrences: 3, maxLength: 3), to: $0, using: &generator)
        }
        #expect(none.isEmpty)
        var bytes = [UInt8](repeating: 1, count: 10)
        let unbounded = bytes.withUnsafeMutableBytes {
            IOFaultPolicy.apply(.init(filling: .zero), to: $0, using: &generator)
        }
        #expect(unbounded.isEmpty && bytes.allSatisfy { $0 == 1 })
    }

    @Test func mistakesFollowTheirRules() {
        var generator = SplitMix64(seed: 6)
        let policy = IOFaultPolicy(volume: "/vol", rules: [
            IORule(action: .mistake, path: "*.db", methods: ["read"],
                   mistake: .init(filling: .zero, maxOccurrences: 2, maxLength: 4)),
        ])
        #expect(policy.mayCorrupt(path: "/vol/a.db", method: "read"))
        #expect(!policy.mayCorrupt(path: "/vol/a.db", method: "write"))
        #expect(!policy.mayCorrupt(path: "/vol/a.txt", method: "read"))
        var bytes = [UInt8](repeating: 0xFF, count: 64)
        let segments = bytes.withUnsafeMutableBytes {
            policy.corrupt($0, path: "/vol/a.db", method: "read", using: &generator)
        }
        #expect((1...2).contains(segments.count))
        #expect(bytes.filter { $0 == 0 }.count <= 8 && bytes.contains(0))
        let none = bytes.withUnsafeMutableBytes {
            policy.corrupt($0, path: "/vol/a.db", method: "write", using: &generator)
        }
        #expect(none.isEmpty)
    }

    @Test func cachingIsOnlyWhereNoRuleNeedsToSeeTheOperation() {
        // Writes only: stat and reads may be cached.
        let writes = IOFaultPolicy(volume: "/vol", rules: [IORule(action: .latency, path: "*.db", methods: ["write"],
                                                                   delayNanoseconds: 1)])
        #expect(writes.attributeTimeout == 1)
        #expect(!writes.directIO(path: "/vol/a.db"))
        // Reads of *.db: those files bypass the page cache, others keep it.
        let reads = IOFaultPolicy(volume: "/vol", rules: [IORule(action: .mistake, path: "*.db", methods: ["read"],
                                                                  mistake: .init(filling: .zero, maxOccurrences: 1, maxLength: 1))])
        #expect(reads.attributeTimeout == 1)
        #expect(reads.directIO(path: "/vol/a.db"))
        #expect(!reads.directIO(path: "/vol/a.txt"))
        // Every method: nothing cached for matching files.
        let all = IOFaultPolicy(volume: "/vol", rules: [IORule(action: .fault, path: "*.db", errno: 5)])
        #expect(all.attributeTimeout == 0)
        #expect(all.directIO(path: "/vol/a.db"))
        // lookup or getattr named, or attributes overridden: no attribute cache.
        let getattr = IOFaultPolicy(volume: "/vol", rules: [IORule(action: .fault, methods: ["getattr"], errno: 5)])
        #expect(getattr.attributeTimeout == 0 && getattr.entryTimeout == 1)
        #expect(all.entryTimeout == 0 && writes.entryTimeout == 1)
        let lookup = IOFaultPolicy(volume: "/vol", rules: [IORule(action: .latency, methods: ["lookup"], delayNanoseconds: 1)])
        #expect(lookup.attributeTimeout == 0 && lookup.entryTimeout == 0)
        let override = IOFaultPolicy(volume: "/vol", rules: [IORule(action: .attrOverride, methods: ["write"], attr: .init(size: 1))])
        #expect(override.attributeTimeout == 0)
        #expect(!override.directIO(path: "/vol/a"))
        // No rules: everything cached.
        let none = IOFaultPolicy(volume: "/vol", rules: [])
        #expect(none.attributeTimeout == 1 && !none.directIO(path: "/vol/a"))
    }

    @Test func mountTableParsesMountinfo() {
        let text = """
        22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
        35 22 0:31 / /tmp/my\\040dir rw,relatime shared:1 master:2 - tmpfs tmp\\134fs rw,size=1024k
        36 35 0:52 / /tmp/my\\040dir rw,nosuid,nodev,relatime - fuse.tumult tumult rw,user_id=0,group_id=0,default_permissions,allow_other
        garbage line
        """
        let table = MountTable(mountinfo: text)
        #expect(table.entries.count == 3)
        let mounts = table.entries(at: "/tmp/my dir")
        #expect(mounts.count == 2)
        #expect(mounts.first?.fsType == "tmpfs")
        #expect(mounts.first?.source == "tmp\\fs")
        #expect(mounts.first?.parentID == 22)
        #expect(mounts.last == MountTable.Entry(
            mountID: 36, parentID: 35, device: "0:52", root: "/", mountPoint: "/tmp/my dir",
            options: "rw,nosuid,nodev,relatime", fsType: "fuse.tumult", source: "tumult",
            superOptions: "rw,user_id=0,group_id=0,default_permissions,allow_other"))
        #expect(table.entries.first?.mountPoint == "/proc" && table.entries.first?.options == "rw,nosuid,nodev,noexec,relatime")

        let own = MountTable.read(pid: getpid())
        #expect(own?.entries.contains { $0.mountPoint == "/" } == true)
        #expect(MountTable.read(pid: -1) == nil)
    }
}
