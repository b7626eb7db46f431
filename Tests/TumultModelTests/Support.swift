import Foundation
import TumultModel

/// Where the shared conformance data lives: `../shared` beside the clone.
enum Fixtures {
    static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    static let conformance = repositoryRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/conformance/chaos-mesh")
    static let examples = conformance.appendingPathComponent("examples")
    static let crds = conformance.appendingPathComponent("crds")

    /// Every example file, relative path and text.
    static func exampleFiles() throws -> [(name: String, text: String)] {
        let enumerator = FileManager.default.enumerator(atPath: examples.path)!
        var files: [(String, String)] = []
        while let relative = enumerator.nextObject() as? String {
            guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            let text = try String(contentsOf: examples.appendingPathComponent(relative), encoding: .utf8)
            files.append((relative, text))
        }
        return files.sorted { $0.0 < $1.0 }
    }

    /// The CRD of `kind`'s plural file name, as a tree.
    static func crd(_ fileName: String) throws -> Value {
        let text = try String(contentsOf: crds.appendingPathComponent(fileName), encoding: .utf8)
        return try DocumentText.parse(text)[0]
    }

    /// The OpenAPI schema of a CRD's `spec`.
    static func specSchema(_ fileName: String) throws -> Value.Object {
        let crd = try crd(fileName)
        let version = crd.at("spec", "versions")!.arrayValue![0]
        return version.at("schema", "openAPIV3Schema", "properties", "spec")!.objectValue!
    }

    /// The built `tumult` executable, next to the test bundle.
    static var tumultExecutable: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [bundle.appendingPathComponent("tumult"),
                          bundle.deletingLastPathComponent().appendingPathComponent("tumult"),
                          repositoryRoot.appendingPathComponent(".build/debug/tumult")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[2]
    }
}

extension Value {
    func at(_ keys: String...) -> Value? {
        var current: Value? = self
        for key in keys { current = current?.objectValue?[key] }
        return current
    }

    var arrayValue: [Value]? {
        if case .array(let values) = self { return values }
        return nil
    }
}

/// Loads one YAML text and returns its only report.
func report(_ yaml: String, strict: Bool = false) throws -> DocumentLoader.Report {
    let reports = try DocumentLoader(strict: strict).load(yaml)
    guard reports.count == 1 else { throw TestFailure("expected one document, got \(reports.count)") }
    return reports[0]
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command and returns its exit status and output.
func run(_ executable: URL, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}
