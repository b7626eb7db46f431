import Foundation
import Testing
@testable import TumultController
import TumultModel

/// Chaos Mesh's own example Workflows (read from the shared conformance
/// data, never copied) each run to the end against a host that answers as
/// a real one would.
@Suite struct WorkflowExamplesTests {
    static let examples: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent().appendingPathComponent("shared/conformance/chaos-mesh/examples")
    }()

    /// Every example file that holds a Workflow, by path below `examples`.
    static func workflowFiles() throws -> [(name: String, text: String)] {
        let enumerator = try #require(FileManager.default.enumerator(atPath: examples.path))
        var files: [(String, String)] = []
        while let relative = enumerator.nextObject() as? String {
            guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            let text = try String(contentsOf: examples.appendingPathComponent(relative), encoding: .utf8)
            if text.contains("kind: Workflow\n") { files.append((relative, text)) }
        }
        return files.sorted { $0.0 < $1.0 }
    }

    /// What each example does: its leaves' starts and stops, and when it ends.
    static let expected: [String: (timeline: [String], end: Double)] = [
        "workflow/serial.yaml": ([
            "+workflow-stress-chaos@0", "-workflow-stress-chaos@20", "+workflow-network-chaos@30",
            "-workflow-network-chaos@50", "+workflow-pod-chaos@55", "-workflow-pod-chaos@95",
        ], 95),
        "workflow/parallel.yaml": ([
            "+workflow-stress-chaos@0", "+workflow-network-chaos@0", "+workflow-pod-chaos@0",
            "-workflow-stress-chaos@20", "-workflow-network-chaos@20", "-workflow-pod-chaos@40",
        ], 40),
        "workflow/status-check.yaml": ([
            "+workflow-status-check@0", "+workflow-network-chaos@0", "-workflow-status-check@20",
            "-workflow-network-chaos@20",
        ], 20),
        // `echo branch-b` takes the network branch only.
        "workflow/custom-task.yaml": ([
            "+the-entry@0", "-the-entry@1", "+workflow-network-chaos@1", "-workflow-network-chaos@21",
        ], 21),
    ]

    @Test func everyExampleWorkflowRunsToItsEnd() throws {
        let files = try Self.workflowFiles()
        #expect(Set(files.map(\.name)) == Set(Self.expected.keys))
        for (name, text) in files {
            let reports = try DocumentLoader().load(text)
            let document = try #require(reports.first { $0.document?.kind == .workflow }?.document, "\(name)")
            let spec = try #require(document.spec as? WorkflowSpec)
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            var state = WorkflowState(workflowName: document.name, namespace: document.namespace)
            var host = WorkflowHost(origin: start)
            var generator = SplitMix64(seed: 11)
            let end = drive(&state, spec, host: &host, from: start, generator: &generator)
            let expectation = try #require(Self.expected[name], "\(name)")
            #expect(host.timeline == expectation.timeline, "\(name)")
            #expect(end.timeIntervalSince(start) == expectation.end, "\(name)")
            #expect(state.phase == .accomplished, "\(name)")
            #expect(state.conditions.allSatisfy { $0.status }, "\(name)")
            #expect(state.nodes.allSatisfy { $0.isFinished }, "\(name)")
            #expect(WorkflowEngine.isSettled(state, observed: host.observed), "\(name)")
            #expect(state.entryNode?.hasPrefix(spec.entry + "-") == true, "\(name)")
        }
    }
}
