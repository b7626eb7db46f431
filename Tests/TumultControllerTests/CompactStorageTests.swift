import Foundation
import Testing
@testable import TumultController
import TumultModel

/// Issue 17: archives kept packed, target records sharing their pod, the
/// memory store's bounds — each reads back exactly what was put in.
struct CompactStorageTests {
    static let tree: Value = .object(Value.Object([
        ("kind", .string("NetworkChaos")),
        ("zeta", .integer(-42)), ("alpha", .integer(Int.max)), ("min", .integer(Int.min)),
        ("ratio", .double(0.25)), ("whole", .double(3)), ("on", .bool(true)), ("off", .bool(false)), ("none", .null),
        ("status", .object(Value.Object([
            ("containerRecords", .array([
                .object(Value.Object([("id", .string("ns-1/pod-1")), ("phase", .string("Injected")), ("events", .array([]))])),
                .object(Value.Object([("id", .string("ns-1/pod-2")), ("phase", .string("Injected")), ("note", .string("é ✓ \u{0}"))])),
            ])),
            ("empty", .object(Value.Object())),
        ]))),
    ]))

    @Test func aPackedTreeUnpacksToTheSameTreeInTheSameOrder() throws {
        let unpacked = PackedValue(Self.tree).value
        #expect(unpacked == Self.tree)
        // Same keys in the same order, integers still integers, doubles still doubles.
        #expect(unpacked.objectValue?.keys == Self.tree.objectValue?.keys)
        #expect(unpacked.objectValue?["whole"] == .double(3) && unpacked.objectValue?["alpha"] == .integer(Int.max))
        let records = unpacked.objectValue?["status"]?.objectValue?["containerRecords"]
        guard case .array(let items)? = records else { Issue.record("no records: \(unpacked)"); return }
        #expect(items.first?.objectValue?.keys == ["id", "phase", "events"])
    }

    /// The tree without what JSON cannot tell apart (a whole double reads back as an integer).
    static let jsonTree: Value = {
        guard case .object(var fields) = tree else { return tree }
        fields["whole"] = nil
        return .object(fields)
    }()

    @Test func anArchiveCodesAsItDidWithItsObjectInline() throws {
        let archive = ArchiveRecord(uid: "u1", kind: "NetworkChaos", namespace: "ns-1", name: "n", action: "delay",
                                    startTime: Date(timeIntervalSince1970: 1), finishTime: Date(timeIntervalSince1970: 2),
                                    object: Self.jsonTree)
        let data = try JSONEncoder().encode(archive)
        let fields = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(fields.keys) == ["uid", "kind", "namespace", "name", "action", "startTime", "finishTime", "object"])
        #expect((fields["object"] as? [String: Any])?["kind"] as? String == "NetworkChaos")
        let back = try JSONDecoder().decode(ArchiveRecord.self, from: data)
        #expect(back == archive && back.object == Self.jsonTree)
    }

    @Test func targetsOfOnePodShareItAndStillCodeTheirPod() throws {
        let pod = Pod(name: "web-1", namespace: "shop", labels: ["app": "web"], ips: ["10.0.0.1"])
        var shared: [PodBox.PodKey: PodBox] = [:]
        let boxes = PodBox.boxes([pod, pod], sharing: &shared)
        #expect(boxes[0] === boxes[1])
        let first = TargetRecord(podBox: boxes[0])
        var second = TargetRecord(podBox: boxes[1])
        #expect(first == TargetRecord(pod: pod) && first.hashValue == TargetRecord(pod: pod).hashValue)
        second.pod.nodeName = "other"
        #expect(first.pod.nodeName == "localhost" && second.pod.nodeName == "other")
        let data = try JSONEncoder().encode(second)
        let fields = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((fields["pod"] as? [String: Any])?["nodeName"] as? String == "other")
        #expect(try JSONDecoder().decode(TargetRecord.self, from: data) == second)
    }

    @Test func theMemoryStoreKeepsTheNewestArchivesAndEvents() throws {
        let store = InMemoryExperimentStore(eventLimit: 3, archiveLimit: 2)
        func archive(_ uid: String, _ second: Double) -> ArchiveRecord {
            ArchiveRecord(uid: uid, kind: "NetworkChaos", namespace: "ns", name: uid, action: "delay",
                          startTime: Date(timeIntervalSince1970: 0), finishTime: Date(timeIntervalSince1970: second), object: .null)
        }
        var batch = StoreBatch()
        batch.archives = [archive("a", 1), archive("b", 2), archive("c", 3)]
        batch.events = (1...8).map { EventRecord(objectID: "x", namespace: "ns", name: "x", kind: "NetworkChaos", type: .normal,
                                                 reason: "R\($0)", message: "m", createdAt: Date(timeIntervalSince1970: Double($0))) }
        try store.write(batch)
        #expect(try store.archives().map(\.uid) == ["c", "b"] && store.archive("a") == nil)
        // 8 events at once, past twice the limit: the newest 3 kept, numbered as if all were.
        #expect(try store.events(EventFilter()).map(\.id) == [8, 7, 6])
        var more = StoreBatch()
        more.events = [EventRecord(objectID: "x", namespace: "ns", name: "x", kind: "NetworkChaos", type: .normal,
                                   reason: "R9", message: "m", createdAt: Date(timeIntervalSince1970: 9))]
        more.archives = [archive("b", 4)]
        try store.write(more)
        #expect(try store.events(EventFilter()).map(\.id) == [9, 8, 7, 6])
        #expect(try store.archives().map(\.uid) == ["b", "c"])
    }
}
