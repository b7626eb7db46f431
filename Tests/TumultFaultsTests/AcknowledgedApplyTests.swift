import Foundation
import Testing
import TumultSystem

/// What `tumult server` acknowledges it keeps: 100 applies at once, the
/// server killed with SIGKILL after the 15th answer, a new server on the
/// same port and home — every experiment that was answered 200 is there.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct AcknowledgedApplyTests {
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var acknowledged: [String] = []
        private(set) var failed = 0
        func ok(_ uid: String) -> Int { lock.withLock { acknowledged.append(uid); return acknowledged.count } }
        func failure() { lock.withLock { failed += 1 } }
    }

    static func document(_ index: Int) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata: {name: ack-\(index), namespace: shop}
        spec:
          action: delay
          mode: all
          selector: {pods: {shop: [no-such-pod]}}
          delay: {latency: 10ms}
          duration: 1h
        """
    }

    @Test(arguments: [1, 2])
    func everyAcknowledgedApplySurvivesAKill(trial: Int) async throws {
        let cli = TumultCLI()
        defer { cli.removeHome() }
        try FileManager.default.createDirectory(atPath: cli.home, withIntermediateDirectories: true)
        let inventory = cli.home + "/inventory.yaml"
        try Data("pods: []\n".utf8).write(to: URL(fileURLWithPath: inventory))
        let port = try LoopbackHTTP.freePort()
        let first = try FixedPortServer(cli, port: port, inventory: inventory)
        defer { if first.isRunning { first.killHard() } }
        #expect(try await offPool { first.firstAnswer(within: 20) } != nil, "\(first.process.tail())")

        let tally = Tally()
        let killAfter = 15
        try await offPool {
            let group = DispatchGroup()
            for index in 0..<100 {
                group.enter()
                let thread = Thread {
                    defer { group.leave() }
                    guard let answer = try? LoopbackHTTP.request("POST", first.url + "/api/experiments", body: Self.document(index),
                                                                 contentType: "application/yaml", timeout: 20),
                          answer.status == 200,
                          let object = answer.json as? [String: Any],
                          let uid = object["uid"] as? String else {
                        tally.failure()
                        return
                    }
                    if tally.ok(uid) == killAfter { kill(first.pid, SIGKILL) }
                }
                thread.start()
            }
            group.wait()
        }
        first.killHard()
        let acknowledged = tally.acknowledged
        print("trial \(trial): \(acknowledged.count) applies acknowledged, \(tally.failed) cut off by the kill")
        #expect(acknowledged.count >= killAfter)

        let second = try FixedPortServer(cli, port: port, inventory: inventory)
        defer { second.stop() }
        #expect(try await offPool { second.firstAnswer(within: 20) } != nil, "\(second.process.tail())")
        let listed = try LoopbackHTTP.request("GET", second.url + "/api/experiments").json as? [[String: Any]] ?? []
        let present = Set(listed.compactMap { $0["uid"] as? String })
        let lost = acknowledged.filter { !present.contains($0) }
        #expect(lost.isEmpty, "acknowledged but gone after the restart: \(lost.count) of \(acknowledged.count)")
    }
}
