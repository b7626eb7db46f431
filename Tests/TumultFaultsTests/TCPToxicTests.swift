import Foundation
import Testing
import TumultSystem

/// Toxiproxy's toxics through `tumult attack tcp`, transparently on B's
/// TCP port: each measured by a client in A, with no proxy port anywhere
/// in its configuration; then B's namespace is exactly as before.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct TCPToxicTests {
    let cli = TumultCLI()

    /// Injects detached, runs `body`, recovers, checks nothing is left.
    func withToxic(_ bed: ProxyTestbed, _ arguments: [String], _ body: () throws -> Void) throws {
        let before = try bed.snapshot()
        let injected = try cli.run(["attack", "tcp"] + arguments + ["--netns", bed.network.b, "--port", String(ProxyTestbed.tcpPort)])
        try #require(injected.status == 0, "inject failed: \(injected.stderr)")
        let uid = injected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer {
            let recovered = try? cli.run(["recover", uid])
            #expect(recovered?.status == 0, "recover failed: \(recovered?.stderr ?? "")")
            #expect((try? bed.snapshot()) == before, "B's namespace differs after recovery")
            #expect(Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid).isEmpty, "a proxy is left running")
            #expect(!FileManager.default.fileExists(atPath: "/run/tumult/proxy/\(uid).json"))
        }
        try body()
    }

    func withBed(_ body: (ProxyTestbed) throws -> Void) throws {
        try ProxyTestbed.with(cli, body)
    }

    @Test func latencyAddsItsDelayPerDirectionEarlyMiddleAndLate() throws {
        try withBed { bed in
            let direct = try bed.medianRTT()
            #expect(direct < 20, "direct round trip \(direct) ms")
            // Downstream for 9 s in the foreground, measured early, in the middle and late.
            let attack = try RunningTumult(cli, ["attack", "tcp", "latency", "--latency", "100", "--netns", bed.network.b,
                                                 "--port", String(ProxyTestbed.tcpPort), "--duration", "9s"])
            defer { attack.signal(SIGKILL); _ = attack.wait() }
            #expect(ProxyTestbed.waitUntil { !ProxyTestbed.proxies.isEmpty }, "no proxy: \(attack.text)")
            let start = Date()
            for moment in [1.0, 4.5, 7.5] {
                let wait = moment - Date().timeIntervalSince(start)
                if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
                let rtt = try bed.medianRTT(5)
                #expect(rtt >= direct + 95 && rtt <= direct + 125, "at \(moment) s: \(rtt) ms (direct \(direct) ms)")
            }
            #expect(attack.wait() == 0, "\(attack.text)")
            #expect(try bed.medianRTT() < direct + 20, "slow after the attack ended")
            // Both directions: 100 ms each way.
            try withToxic(bed, ["latency", "--latency", "100", "--direction", "upstream"]) {
                let rtt = try bed.medianRTT(5)
                #expect(rtt >= direct + 95 && rtt <= direct + 125, "upstream: \(rtt) ms")
            }
        }
    }

    /// A connection over IPv6 goes through the proxy too (ip6tables
    /// redirect, the proxy's IPv6 socket): it cannot escape the fault.
    @Test func connectionsOverIPv6GetTheToxicToo() throws {
        try withBed { bed in
            let direct = try bed.medianRTT(ipv6: true)
            #expect(direct < 20, "direct round trip over IPv6 \(direct) ms")
            try withToxic(bed, ["latency", "--latency", "100"]) {
                let six = try bed.medianRTT(5, ipv6: true)
                #expect(six >= direct + 95 && six <= direct + 125, "IPv6: \(six) ms")
                let four = try bed.medianRTT(5)
                #expect(four >= 95 && four <= 125, "IPv4: \(four) ms")
            }
            #expect(try bed.medianRTT(3, ipv6: true) < direct + 20)
        }
    }

    /// A transfer slowed by a bandwidth toxic is open when the fault is
    /// recovered: it finishes, every byte intact, at full speed.
    @Test func aConnectionOpenAtRecoveryFinishesNormally() throws {
        try withBed { bed in
            let injected = try cli.run(["attack", "tcp", "bandwidth", "--rate", "50", "--netns", bed.network.b,
                                        "--port", String(ProxyTestbed.tcpPort)])
            try #require(injected.status == 0, "\(injected.stderr)")
            let uid = injected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let result = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-slices-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: result) }
            // 200 KB at 50 KB/s would take 4 s; recovery comes after 0.7 s.
            let client = try Spawn.start(["sh", "-c", "ip netns exec \(bed.network.a) python3 \(bed.script) slices \(bed.network.addressB) \(ProxyTestbed.tcpPort) 200000 > \(result)"],
                                         captureOutput: false)
            usleep(700_000)
            let started = Date()
            let recovered = try cli.run(["recover", uid])
            #expect(recovered.status == 0, "\(recovered.stderr)")
            Spawn.wait(for: client.pid)
            let answer = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: result)))) as? [String: Any]
            #expect(answer?["intact"] as? Bool == true, "the transfer did not finish intact: \(String(describing: answer))")
            #expect(Date().timeIntervalSince(started) < 3, "the rest was still throttled")
            #expect(ProxyTestbed.proxies.isEmpty)
        }
    }

    @Test func bandwidthHoldsTheRateWithinTenPercent() throws {
        try withBed { bed in
            let direct = try bed.tcp("rate", ["1"])["rate"] as? Double ?? 0
            #expect(direct > 5_000_000, "direct \(direct) B/s")
            try withToxic(bed, ["bandwidth", "--rate", "100"]) {
                let rate = try bed.tcp("rate", ["4"])["rate"] as? Double ?? 0
                #expect(rate >= 90_000 && rate <= 110_000, "\(rate) B/s for 100 KB/s")
            }
        }
    }

    @Test func resetPeerResetsAfterItsTimeout() throws {
        try withBed { bed in
            try withToxic(bed, ["reset-peer", "--timeout", "500"]) {
                let answer = try bed.tcp("reset")
                #expect(answer["end"] as? String == "reset", "\(answer)")
                let elapsed = answer["elapsed"] as? Double ?? 0
                #expect(elapsed >= 0.45 && elapsed <= 0.8, "reset after \(elapsed) s")
                #expect(answer["received"] as? Int == 0)
            }
            // After recovery the echo answers again.
            #expect(try bed.medianRTT(3) < 20)
        }
    }

    @Test func limitDataClosesAfterExactlyThatManyBytes() throws {
        try withBed { bed in
            let direct = try bed.tcp("limit")
            #expect(direct["received"] as? Int == 50_000, "direct: \(direct)")
            try withToxic(bed, ["limit-data", "--bytes", "10000"]) {
                for _ in 0..<3 {
                    let answer = try bed.tcp("limit")
                    #expect(answer["received"] as? Int == 10_000, "\(answer)")
                    #expect(answer["end"] as? String == "eof", "\(answer)")
                    #expect(answer["intact"] as? Bool == true)
                }
            }
        }
    }

    @Test func slicerDeliversTheSameBytesInSmallSegments() throws {
        try withBed { bed in
            let direct = try bed.tcp("slices", ["2000"])
            #expect((direct["sizes"] as? [Int])?.count ?? 0 <= 3, "direct: \(direct)")
            try withToxic(bed, ["slicer", "--average-size", "10", "--size-variation", "5", "--delay", "2000"]) {
                let answer = try bed.tcp("slices", ["2000"])
                let sizes = answer["sizes"] as? [Int] ?? []
                #expect(answer["intact"] as? Bool == true, "the bytes changed")
                #expect(sizes.count >= 100, "\(sizes.count) reads: \(sizes.prefix(20))")
                let sorted = sizes.sorted()
                #expect(!sorted.isEmpty && sorted[sorted.count / 2] <= 15, "median read \(sorted.isEmpty ? 0 : sorted[sorted.count / 2]) bytes")
            }
        }
    }

    @Test func slowCloseDelaysTheFIN() throws {
        try withBed { bed in
            let direct = try bed.tcp("slowclose")
            #expect((direct["eof"] as? Double ?? 9) < 0.2, "direct: \(direct)")
            try withToxic(bed, ["slow-close", "--delay", "1000"]) {
                let answer = try bed.tcp("slowclose")
                #expect(answer["received"] as? String == "bye")
                #expect((answer["data"] as? Double ?? 9) < 0.2, "the data was held: \(answer)")
                let eof = answer["eof"] as? Double ?? 0
                #expect(eof >= 0.95 && eof <= 1.3, "FIN after \(eof) s")
            }
        }
    }

    @Test func timeoutStallsThenCloses() throws {
        try withBed { bed in
            try withToxic(bed, ["timeout", "--timeout", "1000"]) {
                let answer = try bed.tcp("reset")
                #expect(answer["end"] as? String == "eof", "\(answer)")
                #expect(answer["received"] as? Int == 0, "data got through: \(answer)")
                let elapsed = answer["elapsed"] as? Double ?? 0
                #expect(elapsed >= 0.9 && elapsed <= 1.4, "closed after \(elapsed) s")
            }
        }
    }

    @Test func toxicityAppliesToAboutThatShareOfConnections() throws {
        try withBed { bed in
            try withToxic(bed, ["latency", "--latency", "60", "--toxicity", "50"]) {
                var slowed = 0
                let connections = 40
                for _ in 0..<connections where try bed.medianRTT(1) > 40 { slowed += 1 }
                // Binomial(40, 0.5): ±4.5 standard deviations (3.2).
                #expect((6...34).contains(slowed), "\(slowed) of \(connections) connections slowed")
            }
        }
    }

    /// kill -9 of a foreground attack of every toxic; `recover --all`
    /// leaves B's namespace at its baseline and connections direct.
    @Test func killNineDuringEachToxicThenRecoverAllRestoresTheNamespace() throws {
        try withBed { bed in
            let before = try bed.snapshot()
            let direct = try bed.medianRTT()
            let toxics: [[String]] = [["latency", "--latency", "100"], ["bandwidth", "--rate", "50"],
                                      ["slow-close", "--delay", "500"], ["timeout", "--timeout", "0"],
                                      ["reset-peer", "--timeout", "100"], ["slicer", "--average-size", "8"],
                                      ["limit-data", "--bytes", "100"]]
            for toxic in toxics {
                let attack = try RunningTumult(cli, ["attack", "tcp"] + toxic + ["--netns", bed.network.b, "--port",
                                                                                   String(ProxyTestbed.tcpPort), "--duration", "60s"])
                let redirected = ProxyTestbed.waitUntil { (try? bed.snapshot()) != before && !ProxyTestbed.proxies.isEmpty }
                #expect(redirected, "\(toxic[0]): no redirect: \(attack.text)")
                attack.signal(SIGKILL)
                _ = attack.wait()
                #expect(try bed.snapshot() != before, "\(toxic[0]): the redirect went away with the attack's process")
                let recovered = try cli.run(["recover", "--all"])
                #expect(recovered.status == 0, "\(toxic[0]): \(recovered.stderr)")
                #expect(try bed.snapshot() == before, "\(toxic[0]): B's namespace is not at its baseline")
                #expect(ProxyTestbed.proxies.isEmpty, "\(toxic[0]): a proxy is left")
                #expect(try bed.medianRTT(3) < direct + 20, "\(toxic[0]): connections are not direct")
            }
        }
    }

    /// A TCPChaos through the server, its toxics changed with the live
    /// API (`tumult toxics`) while one connection stays open: the round
    /// trips on that connection follow each change.
    @Test func liveToxicsChangeARunningTCPChaosOnAnOpenConnection() async throws {
        let bed = try ProxyTestbed()
        defer { bed.tearDown(); cli.removeHome() }
        let before = try bed.snapshot()
        let inventory = try bed.inventory(app: "cache")
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let file = try writeTemporary("""
            apiVersion: tumult.dev/v1alpha1
            kind: TCPChaos
            metadata: {name: cache, namespace: default}
            spec:
              selector: {namespaces: [default], labelSelectors: {app: cache}}
              mode: all
              port: \(ProxyTestbed.tcpPort)
              connections: incoming
              toxics: []
              duration: 5m
            """, "tcpchaos.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let server = try await offPool { [cli] in try TestServer(cli, inventory: inventory) }
        defer { server.stop() }
        let applied = try await offPool { [cli] in try cli.run(["apply", "-f", file, "--server", server.url]) }
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
        #expect(ProxyTestbed.waitUntil { (try? bed.snapshot()) != before }, "no redirect")

        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-rtt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let client = try bed.network.startProcess(in: bed.network.a, ["python3", bed.script, "rttlog", bed.network.addressB,
                                                                       String(ProxyTestbed.tcpPort), "8", log])
        let start = Date()
        func at(_ moment: Double, _ arguments: [String]) async throws {
            let wait = moment - Date().timeIntervalSince(start)
            if wait > 0 { await pause(wait) }
            let result = try await offPool { [cli] in try cli.run(["toxics"] + arguments + ["--server", server.url]) }
            #expect(result.status == 0, "\(arguments): \(result.stdout)\(result.stderr)")
        }
        try await at(1.5, ["add", "default/cache", "--type", "latency", "--attribute", "latency=100"])
        try await at(3.5, ["update", "default/cache", "latency_downstream", "--attribute", "latency=200"])
        try await at(5.5, ["remove", "default/cache", "latency_downstream"])
        _ = try await offPool { Spawn.wait(for: client) }
        let samples = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line -> (Double, Double)? in
            let fields = line.split(separator: " ").compactMap { Double($0) }
            return fields.count == 2 ? (fields[0], fields[1]) : nil
        }
        func window(_ from: Double, _ to: Double) -> [Double] { samples.filter { $0.0 >= from && $0.0 <= to }.map(\.1) }
        let all = samples.map { String(format: "%.2f:%.0f", $0.0, $0.1) }.joined(separator: " ")
        #expect((samples.last?.0 ?? 0) > 7.5, "the connection did not last: \(samples.count) samples")
        #expect(!window(0.3, 1.3).isEmpty && window(0.3, 1.3).allSatisfy { $0 < 20 }, "before: \(window(0.3, 1.3)) in \(all)")
        // Every round trip carries the toxic; the median is its size (a loaded machine adds outliers).
        func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }
        #expect(window(2.2, 3.3).allSatisfy { $0 >= 95 } && (95...130).contains(median(window(2.2, 3.3))), "100 ms: \(window(2.2, 3.3)) in \(all)")
        #expect(window(4.3, 5.3).allSatisfy { $0 >= 195 } && (195...230).contains(median(window(4.3, 5.3))), "200 ms: \(window(4.3, 5.3)) in \(all)")
        #expect(!window(6.3, 7.8).isEmpty && window(6.3, 7.8).allSatisfy { $0 < 20 }, "after removal: \(window(6.3, 7.8)) in \(all)")

        let deleted = try await offPool { [cli] in try cli.run(["delete", "tcpchaos/cache", "--server", server.url]) }
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        #expect(ProxyTestbed.waitUntil { (try? bed.snapshot()) == before }, "B is not at its baseline after delete")
        #expect(ProxyTestbed.waitUntil { ProxyTestbed.proxies.isEmpty }, "a proxy is left")
    }
}
