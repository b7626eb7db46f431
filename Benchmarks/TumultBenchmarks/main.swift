import Foundation
import TumultModel

/// `swift run -c release tumult-bench [validate] [--examples DIR] [--seconds N]`
/// `swift run -c release tumult-bench network [--tumult PATH] [--anchor FILE]` (root; NetworkBenchmark.swift)
/// `tumult-bench fastpath [--tumult PATH] [--before DIR] [--anchor FILE] [--rounds 30] [--seconds 4]` (root; FastPathBenchmark.swift)
/// `swift run -c release tumult-bench flood [--tumult PATH] [--sizes 0,2000,10000] [--seconds 20] [--rate 1000]` (FloodBenchmark.swift)
/// `swift run -c release tumult-bench fleet [--tumult PATH] [--sizes 1,3,10] [--rounds 3]` (root; FleetBenchmark.swift)
/// `swift run tumult-bench crash [--kills N] [--seed S] [--modes M,...] [--families F,...] [--tumult PATH]` (root; CrashBenchmark.swift)
/// `swift run -c release tumult-bench io [--seconds 3]` (root; FileSystemBenchmark.swift)
/// `swift run -c release tumult-bench time` (root, x86_64; ClockBenchmark.swift)
/// `swift run -c release tumult-bench proxy [--seconds 10] [--anchor tcp-relay.c]` (root; wrk, iperf3, gcc; ProxyBenchmark.swift)
/// `swift run -c release tumult-bench kubernetes [--pods 10000] [--experiments 1000] [--nodes 10] [--qps 50] [--burst 100]` (KubernetesBenchmark.swift)
///
/// Prints how many documents per second the loader (parse + decode +
/// validate, what `tumult validate` does per document) handles, over Chaos
/// Mesh's example corpus.
struct ValidateBenchmark {
    var examples: String
    var seconds: Double

    func run() throws {
        let texts = try loadTexts()
        let documentsPerPass = try texts.reduce(0) { $0 + (try DocumentText.parse($1).count) }
        let combined = texts.joined(separator: "\n---\n")
        let loader = DocumentLoader()

        print("validate benchmark: \(texts.count) files, \(documentsPerPass) documents per pass, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("")
        print(row("phase", "passes", "documents", "seconds", "docs/s", "us/doc"))
        print(row("-----", "------", "---------", "-------", "------", "------"))
        try measure("parse only") { _ = try DocumentText.parse(combined); return documentsPerPass }
        let trees = try DocumentText.parse(combined)
        try measure("decode+validate") {
            for tree in trees { _ = loader.check(tree) }
            return trees.count
        }
        try measure("full (text in)") { try loader.load(combined).count }
        try measure("full, one file/doc") {
            var count = 0
            for text in texts { count += try loader.load(text).count }
            return count
        }
    }

    func measure(_ name: String, _ body: () throws -> Int) throws {
        _ = try body()  // warm up
        var passes = 0, documents = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            documents += try body()
            passes += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(documents) / elapsed
        print(row(name, "\(passes)", "\(documents)", String(format: "%.2f", elapsed),
                  String(format: "%.0f", rate), String(format: "%.1f", 1e6 / rate)))
    }

    func row(_ columns: String...) -> String {
        zip(columns, [20, 8, 11, 9, 10, 8]).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
            .joined(separator: " ")
    }

    func loadTexts() throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: examples) else {
            throw BenchmarkError("no examples at \(examples)")
        }
        var texts: [String] = []
        while let relative = enumerator.nextObject() as? String {
            guard relative.hasSuffix(".yaml") else { continue }
            texts.append(try String(contentsOfFile: examples + "/" + relative, encoding: .utf8))
        }
        return texts
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

var arguments = Array(CommandLine.arguments.dropFirst())
var examples = "../shared/conformance/chaos-mesh/examples"
var seconds = 3.0
if let flag = arguments.firstIndex(of: "--examples"), flag + 1 < arguments.count { examples = arguments[flag + 1] }
if let flag = arguments.firstIndex(of: "--seconds"), flag + 1 < arguments.count { seconds = Double(arguments[flag + 1]) ?? 3 }
// The network benchmark drives the `tumult` built beside this executable unless told otherwise.
let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
var tumult = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("tumult").path
var anchor = "../shared/anchors/nfq-passthrough.c"
if let flag = arguments.firstIndex(of: "--tumult"), flag + 1 < arguments.count { tumult = arguments[flag + 1] }
if let flag = arguments.firstIndex(of: "--anchor"), flag + 1 < arguments.count { anchor = arguments[flag + 1] }
for flag in ["--examples", "--seconds", "--tumult", "--anchor"] {
    if let index = arguments.firstIndex(of: flag), index + 1 < arguments.count { arguments.removeSubrange(index...index + 1) }
}
let which = arguments.first { !$0.hasPrefix("--") && !$0.contains("/") && Double($0) == nil } ?? "validate"
do {
    switch which {
    case "validate": try ValidateBenchmark(examples: examples, seconds: seconds).run()
    case "network": try NetworkBenchmark(tumult: tumult, anchorSource: anchor).run()
    case "fastpath": try FastPathBenchmark(tumult: tumult, anchorSource: anchor, arguments: CommandLine.arguments).run()
    case "controller": try ControllerBenchmark(arguments: arguments).run()
    case "dashboard": try DashboardBenchmark(tumult: tumult).run()
    case "api-list": try APIListBenchmark(tumult: tumult, arguments: CommandLine.arguments).run()
    case "crash":
        exit(try CrashBenchmark(arguments: arguments, tumult: tumult, tumultGiven: CommandLine.arguments.contains("--tumult")).run())
    case "flood": try FloodBenchmark(tumult: tumult, arguments: CommandLine.arguments).run()
    case "fleet": try FleetBenchmark(tumult: tumult, arguments: CommandLine.arguments).run()
    case "kubernetes": try KubernetesBenchmark(arguments: arguments).run()
    case "io": try FileSystemBenchmark(tumult: tumult, seconds: seconds).run()
    case "time": try ClockBenchmark(tumult: tumult, rounds: 20).run()
    case "proxy":
        try ProxyBenchmark(tumult: tumult, seconds: seconds,
                           relaySource: arguments.contains("--anchor") ? anchor : "Benchmarks/Anchors/tcp-relay.c").run()
    case "stress": try StressBenchmark(worker: URL(fileURLWithPath: tumult).deletingLastPathComponent().appendingPathComponent("tumult-stress").path, seconds: seconds).run()
    default:
        print("unknown benchmark \(which); available: validate, network, stress, io, time, proxy, controller, dashboard, api-list, flood, fleet, crash, kubernetes")
        exit(2)
    }
} catch {
    print("benchmark failed: \(error)")
    exit(1)
}
