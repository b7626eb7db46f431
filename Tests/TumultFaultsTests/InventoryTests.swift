import Foundation
import Testing
@testable import TumultDaemon
import TumultModel
import TumultSystem

/// The local inventory: the inventory file (pure), the container engine
/// client against a fake engine on a Unix socket, and, as root, real named
/// network namespaces listed as pods.
@Suite struct InventoryTests {
    // MARK: Inventory file

    @Test func parsesAFileWithDefaults() throws {
        let file = try InventoryFile.parse(text: """
            pods:
              - name: web-1
                namespace: shop
                netns: web-1-ns
                labels: {app: web, tier: front}
                annotations: {team: payments}
              - name: web-2
                labels:
                  app: web
            """, file: "inventory.yaml")
        #expect(file.entries == [
            InventoryFile.Entry(name: "web-1", namespace: "shop", netns: "web-1-ns",
                                labels: ["app": "web", "tier": "front"], annotations: ["team": "payments"]),
            InventoryFile.Entry(name: "web-2", namespace: "default", netns: "web-2", labels: ["app": "web"]),
        ])
        #expect(file.warnings.isEmpty)
        #expect(file.entry(netns: "web-1-ns")?.id == "shop/web-1")
        #expect(file.entry(netns: "web-1") == nil)
    }

    @Test func emptyFilesHoldNoPods() throws {
        #expect(try InventoryFile.parse(text: "", file: "inventory.yaml").entries.isEmpty)
        #expect(try InventoryFile.parse(text: "pods: []\n", file: "inventory.yaml").entries.isEmpty)
        #expect(try InventoryFile.parse(text: "# nothing yet\n", file: "inventory.yaml").entries.isEmpty)
    }

    @Test func unknownFieldsAreWarnings() throws {
        let file = try InventoryFile.parse(text: """
            pods:
              - name: web-1
                lables: {app: web}
            """, file: "inventory.yaml")
        #expect(file.entries.count == 1)
        #expect(file.warnings == [#"inventory.yaml: pods[0].lables: unknown field "lables" (did you mean "labels"?)"#])
    }

    /// The error lines of `text`, or [] when it parses.
    func errors(_ text: String) -> [String] {
        do {
            _ = try InventoryFile.parse(text: text, file: "inventory.yaml")
            return []
        } catch let error as InventoryFileError {
            #expect(error.description == error.lines.joined(separator: "\n"))
            return error.lines
        } catch {
            Issue.record("unexpected error \(error)")
            return []
        }
    }

    @Test func everyErrorNamesTheFileAndField() {
        #expect(errors("""
            pods:
              - name: a
              - name: b
              - namespace: shop
            """) == ["inventory.yaml: pods[2].name: required field is missing"])
        #expect(errors("""
            pods:
              - {name: web-1, namespace: shop, netns: one}
              - {name: web-1, netns: two}
              - {name: web-1, namespace: shop, netns: three}
            """) == ["inventory.yaml: pods[2].name: pod shop/web-1 is already defined at pods[0]"])
        #expect(errors("""
            pods:
              - {name: web-1, netns: shared}
              - {name: web-2, netns: shared}
            """) == [#"inventory.yaml: pods[1].netns: network namespace "shared" already belongs to pods[0] (default/web-1)"#])
        #expect(errors("""
            pods:
              - {name: Web_1, namespace: "Shop", netns: "a/b"}
            """) == [
                #"inventory.yaml: pods[0].name: "Web_1" is not a valid pod name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)"#,
                #"inventory.yaml: pods[0].namespace: "Shop" is not a valid namespace (lower-case letters, digits and '-', at most 63)"#,
                #"inventory.yaml: pods[0].netns: "a/b" is not a valid network namespace name (a file name under /var/run/netns)"#,
            ])
        #expect(errors("""
            pods:
              - name: web-1
                labels: {version: 2, "bad key!": x, tier: "front end"}
                annotations: {"-x": y}
            """) == [
                "inventory.yaml: pods[0].labels.version: expected a string, got an integer 2 (quote it)",
                #"inventory.yaml: pods[0].labels.bad key!: "bad key!" is not a valid label key"#,
                #"inventory.yaml: pods[0].labels.tier: "front end" is not a valid label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"#,
                #"inventory.yaml: pods[0].annotations.-x: "-x" is not a valid annotation key"#,
            ])
        #expect(errors("pods: {name: web-1}\n").first?.hasPrefix("inventory.yaml: pods: expected a list") == true)
        #expect(errors("pods:\n  - just-a-name\n").first?.hasPrefix("inventory.yaml: pods[0]: expected an object") == true)
        #expect(errors("- a\n- b\n").first?.hasPrefix("inventory.yaml: (document): expected an object") == true)
        #expect(errors("pods: [\n").first?.hasPrefix("inventory.yaml: not valid YAML") == true)
        #expect(errors("pods: []\n---\npods: []\n") == ["inventory.yaml: an inventory file holds one document, found 2"])
    }

    @Test func loadsFromAPathAndNamesItInErrors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-inv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/inventory.yaml"
        try "pods:\n  - name: web-1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try InventoryFile.load(path: path).entries.map(\.id) == ["default/web-1"])
        #expect(try InventoryFile.load(path: path).file == path)

        try "pods:\n  - netns: x\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: InventoryFileError.self) { try InventoryFile.load(path: path) }
        do {
            _ = try InventoryFile.load(path: path)
        } catch {
            #expect(String(describing: error) == "\(path): pods[0].name: required field is missing")
        }
        do {
            _ = try InventoryFile.load(path: directory + "/missing.yaml")
            Issue.record("a missing file loaded")
        } catch {
            #expect(String(describing: error) == "\(directory)/missing.yaml: cannot read the file: No such file or directory")
        }
    }

    @Test func defaultPathComesFromTheEnvironment() {
        #expect(InventoryFile.defaultPath(environment: ["TUMULT_INVENTORY": "/etc/tumult/pods.yaml"]) == "/etc/tumult/pods.yaml")
        #expect(InventoryFile.defaultPath(environment: ["TUMULT_INVENTORY": ""]) == nil)
        #expect(InventoryFile.defaultPath(environment: [:]) == nil)
    }

    // MARK: Addresses

    @Test func addressesLeaveOutLoopbackAndLinkLocal() throws {
        let json = """
            [{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"},
              {"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]},
             {"ifindex":2,"ifname":"d0","addr_info":[{"family":"inet","local":"10.77.1.2","prefixlen":24,"scope":"global"},
              {"family":"inet6","local":"fd77::2","prefixlen":64,"scope":"global"},
              {"family":"inet6","local":"fe80::1c2b:3dff:fe4e:5f60","prefixlen":64,"scope":"link"},{}]},
             {"ifindex":3,"ifname":"d1","addr_info":[]}]
            """
        #expect(try LocalInventory.parseAddresses(json) == ["10.77.1.2", "fd77::2"])
        #expect(try LocalInventory.parseAddresses("") == [])
        #expect(throws: (any Error).self) { try LocalInventory.parseAddresses("not json") }
    }

    // MARK: HTTP over a Unix socket

    @Test func httpAnswersAreFramedByLengthOrChunks() throws {
        let sized = try UnixHTTPClient.parse(Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more".utf8))
        #expect(sized.status == 200)
        #expect(String(decoding: sized.body, as: UTF8.self) == "hello")

        let chunked = try UnixHTTPClient.parse(Array(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n[{\"a\r\nA;name=x\r\n\":1},{\"b\":\r\n2\r\n2}\r\n1\r\n]\r\n0\r\nX-Trailer: y\r\n\r\n".utf8))
        #expect(String(decoding: chunked.body, as: UTF8.self) == #"[{"a":1},{"b":2}]"#)

        let untilClose = try UnixHTTPClient.parse(Array("HTTP/1.0 404 Not Found\r\n\r\n{}".utf8))
        #expect(untilClose.status == 404)
        #expect(untilClose.body == Array("{}".utf8))

        for broken in ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "SSH-2.0\r\n\r\n", "HTTP/1.1 200 OK\r\n", ""] {
            #expect(throws: ContainerEngineError.self, "\(broken)") { try UnixHTTPClient.parse(Array(broken.utf8)) }
        }
    }

    @Test func listsTheContainersOfAnEngine() throws {
        let engine = try FakeEngine(responses: FakeEngine.twoContainers)
        defer { engine.stop() }
        let pods = try ContainerEngine(kind: .docker, socketPath: engine.socketPath).containers(nodeName: "vm")
        #expect(pods == [
            Pod(name: "shop-web-1", namespace: "shop",
                labels: ["com.docker.compose.project": "shop", "app": "web"], pid: 4242,
                ips: ["172.19.0.5", "172.18.0.5", "fd00:18::5"], nodeName: "vm", phase: "Running",
                source: .docker, containerID: "aaa111"),
            Pod(name: "cache", labels: [:], pid: 4343, ips: ["172.17.0.3"], nodeName: "vm", phase: "Running",
                source: .docker, containerID: "ccc333"),
        ])
        // The list came chunked; bbb222 went away before it was inspected.
        #expect(engine.requests == ["/containers/json", "/containers/aaa111/json", "/containers/bbb222/json",
                                    "/containers/ccc333/json"])
    }

    @Test func engineProblemsAreErrorsThatNameTheSocket() throws {
        let failing = try FakeEngine(responses: ["/containers/json": .init(status: 500, body: #"{"message":"engine is sad"}"#)])
        defer { failing.stop() }
        #expect(throws: ContainerEngineError.self) {
            try ContainerEngine(kind: .podman, socketPath: failing.socketPath).containers(nodeName: "vm")
        }
        do {
            _ = try ContainerEngine(kind: .podman, socketPath: failing.socketPath).containers(nodeName: "vm")
        } catch {
            #expect(String(describing: error) == "container engine at \(failing.socketPath): HTTP 500: GET /containers/json: engine is sad")
        }

        let silent = try FakeEngine(responses: ["/containers/json": .init(body: "[]", delay: 0.6)])
        defer { silent.stop() }
        let started = Date()
        #expect(throws: ContainerEngineError.self) {
            try ContainerEngine(kind: .docker, socketPath: silent.socketPath, timeout: 0.2).containers(nodeName: "vm")
        }
        #expect(Date().timeIntervalSince(started) < 0.5)

        let missing = ContainerEngine(kind: .docker, socketPath: failing.directory + "/none.sock")
        #expect(!missing.isPresent)
        #expect(throws: ContainerEngineError.self) { try missing.containers(nodeName: "vm") }
    }
}

// MARK: Root: real named network namespaces

extension InventoryTests {
    @Suite(.serialized, .enabled(if: getuid() == 0, "needs root to make network namespaces"))
    struct Root {
        @Test func namedNamespacesAreThePods() throws {
            let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
            let names = (1...3).map { "tmt-\(tag)-\($0)" }
            let subnet = "10.77.\(Int.random(in: 0...255))"
            let v6 = "fd77:\(String(UInt16.random(in: 1...0xffff), radix: 16))::"
            let runner = ProcessCommandRunner()
            var sleeper: Int32?
            defer {
                if let sleeper {
                    kill(sleeper, SIGKILL)
                    Spawn.wait(for: sleeper)
                }
                for name in names { _ = try? runner.run(Command(["ip", "netns", "del", name])) }
            }
            for (position, name) in names.enumerated() {
                try runner.check(Command(["ip", "netns", "add", name]), doing: "making \(name)")
                // A veth pair with both ends inside (this kernel may lack the dummy driver).
                for command in [["link", "add", "d0", "type", "veth", "peer", "name", "d1"],
                                ["addr", "add", "\(subnet).\(position + 1)/24", "dev", "d0"],
                                ["addr", "add", "\(v6)\(position + 1)/64", "dev", "d0", "nodad"],
                                ["link", "set", "d1", "up"], ["link", "set", "d0", "up"], ["link", "set", "lo", "up"]] {
                    try runner.check(Command(["ip", "-n", name] + command), doing: "setting up \(name)")
                }
            }
            let child = try Spawn.start(["ip", "netns", "exec", names[0], "sleep", "30"], captureOutput: false)
            sleeper = child.pid
            // `ip netns exec` enters the namespace, then execs sleep with the same pid.
            let inode = try #require(NetworkNamespace.named(names[0]).inode)
            for _ in 0..<100 where ProcessTable.networkNamespaceInode(of: child.pid) != inode { usleep(20_000) }

            let inventory = try InventoryFile.parse(text: """
                pods:
                  - {name: web-1, namespace: shop, netns: \(names[0]), labels: {app: web}, annotations: {team: payments}}
                  - {name: web-2, namespace: shop, netns: \(names[1]), labels: {app: web, tier: front}}
                  - {name: ghost, namespace: shop, netns: tmt-\(tag)-gone, labels: {app: web}}
                """, file: "inventory.yaml")

            // One engine answering, one whose socket is a plain file, one absent.
            let engine = try FakeEngine(responses: FakeEngine.twoContainers)
            defer { engine.stop() }
            let broken = engine.directory + "/broken.sock"
            try "".write(toFile: broken, atomically: true, encoding: .utf8)
            let local = LocalInventory(
                inventory: inventory,
                engines: [ContainerEngine(kind: .docker, socketPath: engine.socketPath),
                          ContainerEngine(kind: .podman, socketPath: broken),
                          ContainerEngine(kind: .podman, socketPath: engine.directory + "/absent.sock")],
                hostName: "node-a")

            let started = Date()
            let snapshot = try local.snapshot()
            let elapsed = Date().timeIntervalSince(started)
            let isOurs: (Pod) -> Bool = { ($0.netns ?? "").hasPrefix("tmt-\(tag)-") || $0.source != .netns }
            let ours = snapshot.pods.filter(isOurs)
            #expect(ours == [
                Pod(name: "cache", labels: [:], pid: 4343, ips: ["172.17.0.3"], nodeName: "node-a",
                    source: .docker, containerID: "ccc333"),
                Pod(name: names[2], netns: names[2], ips: ["\(subnet).3", "\(v6)3"], nodeName: "node-a", source: .netns),
                Pod(name: "ghost", namespace: "shop", labels: ["app": "web"], netns: "tmt-\(tag)-gone",
                    nodeName: "node-a", phase: "Unknown", source: .netns),
                Pod(name: "shop-web-1", namespace: "shop", labels: ["com.docker.compose.project": "shop", "app": "web"],
                    pid: 4242, ips: ["172.19.0.5", "172.18.0.5", "fd00:18::5"], nodeName: "node-a",
                    source: .docker, containerID: "aaa111"),
                Pod(name: "web-1", namespace: "shop", labels: ["app": "web"], annotations: ["team": "payments"],
                    netns: names[0], pid: child.pid, ips: ["\(subnet).1", "\(v6)1"], nodeName: "node-a", source: .netns),
                Pod(name: "web-2", namespace: "shop", labels: ["app": "web", "tier": "front"], netns: names[1],
                    ips: ["\(subnet).2", "\(v6)2"], nodeName: "node-a", source: .netns),
            ])
            #expect(ours.allSatisfy { $0.nodeLabels == ["kubernetes.io/hostname": "node-a"] })
            #expect(snapshot.warnings.count == 1)
            #expect(snapshot.warnings.first?.hasPrefix("container engine at \(broken): cannot connect") == true)
            // Only our pods: other tests may add and delete namespaces meanwhile.
            #expect(try local.pods().filter(isOurs) == ours)
            #expect(elapsed < 2, "listing took \(elapsed) s")

            // A namespace deleted is no longer a pod; its file entry turns Unknown.
            try runner.check(Command(["ip", "netns", "del", names[1]]), doing: "deleting \(names[1])")
            let after = try LocalInventory(inventory: inventory, engines: [], hostName: "node-a").pods().filter(isOurs)
            #expect(after.map(\.name) == [names[2], "ghost", "web-1", "web-2"])
            #expect(after.first { $0.name == "web-2" }?.phase == "Unknown")
            #expect(after.first { $0.name == "web-2" }?.ips == [])
        }
    }
}

// MARK: A fake container engine

/// A Docker-compatible engine on a Unix socket in a temporary directory,
/// answering canned JSON per path, one connection at a time, on a thread of
/// its own.
final class FakeEngine: @unchecked Sendable {
    struct Response {
        var status = 200
        var body: String
        /// Sent with `Transfer-Encoding: chunked`, in small chunks.
        var chunked = false
        /// Seconds to wait before answering (to test the client's timeout).
        var delay: Double = 0
    }

    let directory: String
    let socketPath: String
    private let listener: Int32
    private let responses: [String: Response]
    private let lock = NSLock()
    private var seen: [String] = []
    private let finished = DispatchSemaphore(value: 0)

    var requests: [String] { lock.withLock { seen } }

    init(responses: [String: Response]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-engine-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socketPath = directory + "/docker.sock"
        self.responses = responses
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard listener >= 0, bound == 0, listen(listener, 8) == 0 else {
            let problem = String(cString: strerror(errno))
            close(listener)
            throw SystemError.processFailed("fake engine cannot listen on \(socketPath): \(problem)")
        }
        Thread { [self] in serve() }.start()
    }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                break  // shut down by stop()
            }
            answer(client)
            close(client)
        }
        finished.signal()
    }

    private func answer(_ client: Int32) {
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
            let count = recv(client, &buffer, buffer.count, 0)
            if count <= 0 { return }
            request += buffer[0..<count]
        }
        let line = String(decoding: request, as: UTF8.self).prefix { $0 != "\r" }
        let path = line.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        lock.withLock { seen.append(path) }
        let response = responses[path] ?? Response(status: 404, body: #"{"message":"No such container"}"#)
        if response.delay > 0 { usleep(UInt32(response.delay * 1_000_000)) }
        var text = "HTTP/1.1 \(response.status) Canned\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if response.chunked {
            text += "Transfer-Encoding: chunked\r\n\r\n"
            var rest = Substring(response.body)
            while !rest.isEmpty {
                let piece = rest.prefix(7)
                rest = rest.dropFirst(7)
                text += String(piece.utf8.count, radix: 16) + (rest.count % 2 == 0 ? "" : ";ext=1") + "\r\n" + piece + "\r\n"
            }
            text += "0\r\n\r\n"
        } else {
            text += "Content-Length: \(response.body.utf8.count)\r\n\r\n" + response.body
        }
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            sent += count
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        finished.wait()
        close(listener)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Two running containers (one compose service with two networks, one
    /// on the default bridge) and one that is gone by the time it is inspected.
    static let twoContainers: [String: Response] = [
        "/containers/json": Response(body: """
            [{"Id":"aaa111","Names":["/shop-web-1"],"Labels":{"com.docker.compose.project":"shop","app":"web"},"State":"running"},
             {"Id":"bbb222","Names":["/vanished"],"Labels":{},"State":"running"},
             {"Id":"ccc333","Names":["/cache"],"Labels":null,"State":"running",
              "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.3"}}}}]
            """, chunked: true),
        "/containers/aaa111/json": Response(body: """
            {"Id":"aaa111","Name":"/shop-web-1","State":{"Status":"running","Running":true,"Pid":4242},
             "Config":{"Labels":{"com.docker.compose.project":"shop","app":"web"}},
             "NetworkSettings":{"IPAddress":"","Networks":{
               "shop_front":{"IPAddress":"172.18.0.5","GlobalIPv6Address":"fd00:18::5"},
               "shop_back":{"IPAddress":"172.19.0.5","GlobalIPv6Address":""}}}}
            """),
        "/containers/ccc333/json": Response(body: """
            {"Id":"ccc333","Name":"/cache","State":{"Running":true,"Pid":4343},"Config":{"Labels":null},
             "NetworkSettings":{"IPAddress":"172.17.0.3","Networks":{"bridge":{"IPAddress":"172.17.0.3"}}}}
            """),
    ]
}
