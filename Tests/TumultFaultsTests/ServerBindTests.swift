import Foundation
import Testing
import TumultSystem

/// A replacement server that cannot get its port (still held by someone)
/// must leave the crashed server's faults alone: it used to take them
/// back from the journal, then recover them all in its graceful shutdown
/// as it gave up — a fault lost while it should have run.
@Suite(.serialized, .enabled(if: getuid() == 0))
struct ServerBindTests {
    @Test func aServerThatCannotBindLeavesTheRunningFaultsInPlace() async throws {
        let star = try TestStar(pods: 1)
        defer { star.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome(); _ = try? cli.run(["recover", "--all"]) }
        let inventory = try star.inventory(labels: [["app": "web"]])
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let before = try star.snapshot(0)
        let baseline = try await offPool { try star.rtt(to: 0) }
        let port = try LoopbackHTTP.freePort()

        let first = try FixedPortServer(cli, port: port, inventory: inventory)
        #expect(try await offPool { first.firstAnswer(within: 10) } != nil, "\(first.process.text)")
        let file = try writeTemporary("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: held, namespace: default}
            spec:
              action: delay
              mode: all
              selector: {labelSelectors: {app: web}}
              delay: {latency: 100ms}
              duration: 40s
            """, "held.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let applied = try await offPool { try cli.run(["apply", "-f", file, "--server", first.url]) }
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        #expect(try await offPool { FaultWatchTests.within(10) { (try? star.rtt(to: 0)).map { $0 - baseline > 70 } ?? false } } != nil)
        first.process.signal(SIGKILL)
        _ = try await offPool { first.process.wait() }

        // Someone else holds the port: the replacement fails to bind and exits.
        let blocker = try Spawn.start(["python3", "-c", """
            import socket, time
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", \(port))); s.listen(); print("bound", flush=True); time.sleep(60)
            """])
        defer { kill(blocker.pid, SIGKILL); Spawn.wait(for: blocker.pid) }
        #expect(try await offPool { TumultCLI.readUID(blocker) } == "bound")
        let second = try RunningTumult(cli, ["server", "--listen", "127.0.0.1:\(port)", "--inventory", inventory])
        let status = try await offPool { second.wait() }
        #expect(status != 0, "\(second.text)")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70, "the failed server recovered the fault: \(second.text)")
        #expect(try star.snapshot(0) != before)

        // The port free again: the next server takes the fault back and ends it on time.
        kill(blocker.pid, SIGKILL)
        let third = try FixedPortServer(cli, port: port, inventory: inventory)
        defer { third.process.signal(SIGTERM); _ = third.process.wait() }
        #expect(try await offPool { third.firstAnswer(within: 10) } != nil, "\(third.process.text)")
        #expect(try await offPool { try star.rtt(to: 0) } - baseline > 70)
        let deleted = try await offPool { try cli.run(["delete", "networkchaos/held", "--server", third.url]) }
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        #expect(try await offPool { try FaultWatchTests.within(10) { try star.snapshot(0) == before } } != nil)
    }
}
