import AsyncHTTPClient
import Foundation
import KubernetesSimulation
import NIOCore
import NIOHTTP1

/// Where the shared Chaos Mesh files live: `../shared` beside the package root.
enum Fixtures {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    static let conformance = packageRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/conformance/chaos-mesh")
    static let networkChaosCRD = conformance.appendingPathComponent("crds/chaos-mesh.org_networkchaos.yaml")
    static let networkDelayExample = conformance.appendingPathComponent("examples/network-delay-example.yaml")
}

/// A scratch directory removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("k8s-sim-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// What a finished child process left.
struct CommandResult {
    var status: Int32
    var output: String
    var error: String

    var combined: String { output + error }
}

/// Runs a command (an argument array) to completion without blocking a
/// thread of the concurrency pool the simulation serves from.
func runCommand(_ arguments: [String], in directory: TemporaryDirectory) async throws -> CommandResult {
    let name = UUID().uuidString.prefix(8)
    let outputURL = directory.file("out-\(name)")
    let errorURL = directory.file("err-\(name)")
    _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
    let output = try FileHandle(forWritingTo: outputURL)
    let error = try FileHandle(forWritingTo: errorURL)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    process.standardOutput = output
    process.standardError = error
    process.standardInput = FileHandle.nullDevice
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try process.run() } catch { continuation.resume(throwing: error) }
    }
    try output.close()
    try error.close()
    return CommandResult(status: status,
                         output: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
                         error: (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "")
}

/// The real kubectl, pointed at a simulation through a temporary kubeconfig.
struct Kubectl {
    let directory: TemporaryDirectory
    let kubeconfig: URL

    init(server: URL, directory: TemporaryDirectory) throws {
        self.directory = directory
        kubeconfig = directory.file("kubeconfig")
        let text = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: simulation
          cluster:
            server: \(server.absoluteString)
        users:
        - name: admin
          user: {}
        contexts:
        - name: simulation
          context:
            cluster: simulation
            user: admin
        current-context: simulation

        """
        try text.write(to: kubeconfig, atomically: true, encoding: .utf8)
    }

    func callAsFunction(_ arguments: String...) async throws -> CommandResult {
        try await run(arguments)
    }

    func run(_ arguments: [String]) async throws -> CommandResult {
        try await runCommand(["/usr/bin/kubectl", "--kubeconfig", kubeconfig.path,
                              "--cache-dir", directory.file("kube-cache").path] + arguments, in: directory)
    }
}

/// Starts a simulation, runs `body`, stops it whatever happens.
func withSimulation<T>(_ configuration: APIServerSimulation.Configuration = .init(),
                       _ body: (APIServerSimulation) async throws -> T) async throws -> T {
    let server = APIServerSimulation(configuration: configuration)
    try await server.start()
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// A plain HTTP exchange with the simulation: status and JSON body.
func exchange(_ client: HTTPClient, _ method: HTTPMethod, _ url: String, json: Any? = nil,
              contentType: String = "application/json") async throws -> (status: Int, body: [String: Any]) {
    var request = HTTPClientRequest(url: url)
    request.method = method
    if let json {
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
    }
    let response = try await client.execute(request, timeout: .seconds(10))
    let bytes = try await response.body.collect(upTo: 64 << 20)
    let body = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
    return (Int(response.status.code), body)
}

/// Reads newline-delimited watch events off a streaming response.
struct WatchReader {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var pending = Data()

    init(_ response: HTTPClientResponse) {
        iterator = response.body.makeAsyncIterator()
    }

    /// The next event, or nil when the stream ends.
    mutating func next() async throws -> [String: Any]? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending = Data(pending[pending.index(after: newline)...])
                if line.isEmpty { continue }
                return try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            }
            guard let buffer = try await iterator.next() else { return nil }
            pending.append(contentsOf: buffer.readableBytesView)
        }
    }
}

extension Dictionary where Key == String, Value == Any {
    /// The value at a path of keys, for assertions.
    func value(_ keys: String...) -> Any? {
        var current: Any? = self
        for key in keys { current = (current as? [String: Any])?[key] }
        return current
    }
}

/// An HTTP client for the duration of `body`, shut down afterwards.
func withHTTPClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}
