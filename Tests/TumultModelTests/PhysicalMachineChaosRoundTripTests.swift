import Foundation
import Testing
import TumultModel

/// PhysicalMachineChaos keeps each action's parameters in a sub-object named
/// after the action, and the daemon builds chaosd's request body from that
/// sub-object as the model writes it back. So every action's document must
/// come back from decode → encode as it was written, its sub-object under
/// the action's key, and sub-objects beside it (other actions', the HTTP
/// attacks') must be kept too.
@Suite struct PhysicalMachineChaosRoundTripTests {
    /// One valid sub-object per action, in flow style, with every field
    /// chaosd reads for it and a few optional ones.
    static let actionSettings: [(action: String, settings: String)] = [
        ("stress-cpu", "{load: 50, workers: 2, options: [\"--timeout\", \"30\"]}"),
        ("stress-mem", "{size: 256MB, options: [\"--vm-keep\"]}"),
        ("disk-read-payload", "{size: 1G, path: /dev/sda, payload-process-num: 2}"),
        ("disk-write-payload", "{size: 1G, path: /tmp, payload-process-num: 4}"),
        ("disk-fill", "{size: 10G, path: /tmp/fill, fill-by-fallocate: true}"),
        ("network-corrupt", "{percent: \"10\", correlation: \"5\", device: eth0, ip-address: 127.0.0.1, "
            + "ip-protocol: tcp, source-port: \"80,8000:8010\"}"),
        ("network-duplicate", "{percent: \"20\", device: eth0, egress-port: \"443\", ip-protocol: udp}"),
        ("network-loss", "{percent: \"30\", device: eth0, hostname: localhost}"),
        ("network-delay", "{latency: 100ms, jitter: 10ms, correlation: \"5\", device: eth0, ip-address: 127.0.0.0/8, "
            + "ip-protocol: tcp, accept-tcp-flags: SYN}"),
        ("network-partition", "{device: eth0, ip-address: 127.0.0.2, direction: to, ip-protocol: tcp}"),
        ("network-dns", "{dns-server: 127.0.0.53, dns-ip: 127.0.0.1, dns-domain-name: example.com}"),
        ("network-bandwidth", "{rate: 1mbps, limit: 20971520, buffer: 10000, peakrate: 2000000, minburst: 1500, device: eth0}"),
        ("network-flood", "{rate: 10mbps, ip-address: 127.0.0.1, port: \"8080\", parallel: 2, duration: \"30\"}"),
        ("network-down", "{device: eth0, duration: 30s}"),
        ("process", "{process: nginx, signal: 9, recoverCmd: \"systemctl start nginx\"}"),
        ("jvm-exception", "{pid: 123, port: 9277, class: Main, method: run, exception: java.io.IOException}"),
        ("jvm-gc", "{pid: 123, port: 9288}"),
        ("jvm-latency", "{pid: 123, class: Main, method: run, latency: 500}"),
        ("jvm-return", "{pid: 123, class: Main, method: get, value: \"42\"}"),
        ("jvm-stress", "{pid: 123, cpu-count: 2}"),
        ("jvm-rule-data", "{pid: 123, rule-data: \"RULE boom\"}"),
        ("jvm-mysql", "{pid: 123, mysqlConnectorVersion: \"8\", database: shop, table: orders, sqlType: select, latency: 100}"),
        ("clock", "{pid: 123, time-offset: -10m, clock-ids-slice: \"CLOCK_REALTIME,CLOCK_MONOTONIC\"}"),
        ("redis-expiration", "{addr: \"127.0.0.1:6379\", password: secret, expiration: 30s, key: cart, option: NX}"),
        ("redis-penetration", "{addr: \"127.0.0.1:6379\", requestNum: 100}"),
        ("redis-cacheLimit", "{addr: \"127.0.0.1:6379\", percent: \"50%\"}"),
        ("redis-restart", "{addr: \"127.0.0.1:26379\", conf: /etc/redis/sentinel.conf, flushConfig: true, redisPath: true}"),
        ("redis-stop", "{addr: \"127.0.0.1:26379\"}"),
        ("kafka-fill", "{topic: orders, host: 127.0.0.1, port: 9092, username: u, password: p, messageSize: 1024, "
            + "maxBytes: 1048576, reloadCommand: \"systemctl reload kafka\"}"),
        ("kafka-flood", "{topic: orders, host: 127.0.0.1, port: 9092, messageSize: 1024, threads: 4}"),
        ("kafka-io", "{topic: orders, configFile: /etc/kafka/server.properties, nonReadable: true, nonWritable: false}"),
        ("file-create", "{file-name: /tmp/created}"),
        ("file-modify", "{file-name: /tmp/modified, privilege: 777}"),
        ("file-delete", "{dir-name: /tmp/deleted}"),
        ("file-rename", "{source-file: /tmp/a, dest-file: /tmp/b}"),
        ("file-append", "{file-name: /tmp/appended, data: hello, count: 2}"),
        ("file-replace", "{file-name: /tmp/replaced, origin-string: a, dest-string: b, line: 1}"),
        ("vm", "{vm-name: vm1}"),
        ("user_defined", "{attackCmd: \"touch /tmp/attacked\", recoverCmd: \"rm /tmp/attacked\"}"),
    ]

    static func document(action: String, settings: String, extra: String = "") -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: PhysicalMachineChaos
        metadata: {name: physical-\(action.lowercased().replacingOccurrences(of: "_", with: "-")), namespace: default}
        spec:
          action: \(action)
          mode: all
          address: ["http://127.0.0.1:31767"]
          duration: 30s
          \(action): \(settings)
        \(extra)
        """
    }

    @Test func everyActionHasADocument() {
        #expect(Self.actionSettings.map(\.action).sorted() == PhysicalMachineChaosSpec.Action.rawValues.sorted())
    }

    @Test(arguments: actionSettings)
    func eachActionsDocumentRoundTrips(action: String, settings: String) throws {
        let text = Self.document(action: action, settings: settings)
        try Self.expectRoundTrip(text, label: action)
        let document = try #require(try DocumentLoader().load(text).first?.document)
        let spec = try #require(document.spec as? PhysicalMachineChaosSpec)
        #expect(spec.action.rawValue == action)
        let settings = try #require(spec.settings, "\(action) has no settings")
        #expect(ObjectIdentifier(type(of: settings)) == ObjectIdentifier(spec.action.settingsType))
        // What the daemon reads to build chaosd's body: the sub-object as written.
        let written = try ValueEncoder().encode(spec).objectValue?[spec.action.rawValue]
        #expect(written == Self.spec(of: text)?[action])
    }

    @Test func everyPhysicalMachineChaosExampleRoundTrips() throws {
        var checked = 0
        for (name, text) in try Fixtures.exampleFiles() {
            for value in try DocumentText.parse(text) where value.objectValue?["kind"] == .string("PhysicalMachineChaos") {
                try Self.expectRoundTrip(try DocumentText.yaml([value]), label: name)
                checked += 1
            }
        }
        #expect(checked >= 2)
    }

    /// Sub-objects of other actions and the HTTP attacks are read, written
    /// back and compared, though only the action's own one runs.
    @Test func subObjectsBesideTheActionAreKept() throws {
        let extra = """
              stress-cpu: {load: 10, workers: 1}
              http-abort: {proxy_ports: [8080], target: Request, path: /api, code: "500"}
              http-request: {url: "http://127.0.0.1:8080/", count: 3, enable-conn-pool: true}
              file-create: {file-name: /tmp/beside}
            """
        let text = Self.document(action: "network-delay", settings: "{latency: 100ms, device: eth0}", extra: extra)
        try Self.expectRoundTrip(text, label: "beside")

        let other = text.replacingOccurrences(of: "code: \"500\"", with: "code: \"503\"")
        let first = try #require(try DocumentLoader().load(text).first?.document)
        let second = try #require(try DocumentLoader().load(other).first?.document)
        #expect(first != second, "an HTTP sub-object takes part in equality")
        #expect(try second.encoded().at("spec", "http-abort", "code") == .string("503"))
    }

    /// A spec built in code is written like the same document read from text.
    @Test func settingsSetInCodeAreWrittenUnderTheActionsKey() throws {
        var spec = PhysicalMachineChaosSpec(action: .networkDelay, address: ["http://127.0.0.1:31767"],
                                            settings: PhysicalMachineChaosSpec.NetworkDelay(latency: .milliseconds(100), device: "eth0"))
        let read = try #require(try DocumentLoader().load(Self.document(action: "network-delay", settings: "{latency: 100ms, device: eth0}"))
            .first?.document?.spec as? PhysicalMachineChaosSpec)
        #expect(try ValueEncoder().encode(spec).objectValue?["network-delay"] == ValueEncoder().encode(read).objectValue?["network-delay"])
        #expect(spec.subObjects.ordered.map(\.key) == ["network-delay"])

        // Another action reads its own sub-object, not the one set before.
        spec.action = .networkLoss
        #expect(spec.settings == nil)
        var diagnostics = Diagnostics()
        spec.validate(at: "spec", into: &diagnostics)
        #expect(diagnostics.errors.map(\.path.description) == ["spec.network-loss"])

        // Sub-objects are written in the schema's order, whatever order they were set in.
        spec.settings = PhysicalMachineChaosSpec.NetworkPacketFault(percent: Percentage(10), device: "eth0")
        #expect(spec.subObjects.ordered.map(\.key) == ["network-loss", "network-delay"])
        #expect(try ValueEncoder().encode(spec).objectValue?.keys.suffix(2) == ["network-loss", "network-delay"])
    }

    /// The spec tree of a document text.
    static func spec(of text: String) -> Value.Object? {
        (try? DocumentText.parse(text))?.first?.objectValue?["spec"]?.objectValue
    }

    /// Valid without a word, written back as it was read, and read again to an equal document.
    static func expectRoundTrip(_ text: String, label: String) throws {
        let report = try #require(try DocumentLoader().load(text).first)
        let document = try #require(report.document, "\(label): \(report.diagnostics.items)")
        #expect(report.diagnostics.items.isEmpty, "\(label): \(report.diagnostics.items)")
        let encoded = try document.encoded()
        let written = try #require(encoded.objectValue?["spec"]?.objectValue)
        let yaml = try DocumentText.yaml([encoded])
        #expect(written == spec(of: text), "\(label) was written back as:\n\(yaml)")
        #expect(DocumentLoader().check(encoded).document == document, "\(label) changed in a round trip")
        #expect(DocumentLoader().check(try document.normalized().encoded()).document == document.normalized(), "\(label) normalised")
    }
}
