import Foundation
import Hummingbird
import Testing
import TumultSystem
@testable import TumultServer

/// The dashboard's files as files: `Sources/TumultServer/Dashboard/Assets/`
/// holds exactly what the server serves, byte for byte, and every ES module
/// in it parses.
@Suite struct DashboardAssetsTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/TumultServer/Dashboard/Assets")

    /// The files in `Assets/`, by name.
    static func assets() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func contents(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    @Test func everyFileInAssetsIsServedAndEveryServedFileIsInAssets() throws {
        // What the server serves comes from one place, `DashboardAssets`: the
        // page at `/` and `files` under `/assets/<version>/`.
        let served = (Array(DashboardAssets.files.keys) + ["index.html"]).sorted()
        #expect(try Self.assets() == served)
        for (name, asset) in DashboardAssets.files {
            #expect(Data(buffer: asset.body) == (try? Self.contents(name)), "\(name) as served is not Assets/\(name)")
        }
        let page = String(decoding: try Self.contents("index.html"), as: UTF8.self)
            .replacingOccurrences(of: "{{assets}}", with: "/assets/\(DashboardAssets.version)")
        #expect(String(buffer: DashboardAssets.index.body) == page)
    }

    /// Debian's `nodejs` (`.ci/run` installs it).
    static let node: String? = try? ProcessCommandRunner.locate("node").path

    @Test(.enabled(if: node != nil, "node is not installed (apt-get install nodejs), so the ES modules are not syntax-checked"))
    func everyModuleParses() throws {
        let node = try #require(Self.node)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-dashboard-js-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let modules = try Self.assets().filter { $0.hasSuffix(".js") }
        #expect(modules == DashboardAssets.scripts.map(\.0).sorted())
        for name in modules {
            // `.mjs`: node parses it as the ES module it is (import, export), not as CommonJS.
            let copy = scratch.appendingPathComponent(name.dropLast(".js".count) + ".mjs")
            try Self.contents(name).write(to: copy)
            let result = try Spawn.run([node, "--check", copy.path])
            #expect(result.succeeded, "\(name) does not parse: \(result.stderr)")
        }
    }
}
