import Foundation
import Testing
import TumultModel

/// `tumult validate` and `tumult convert` as a user runs them.
@Suite struct CLITests {
    let tumult = Fixtures.tumultExecutable

    func temporaryFile(_ text: String, name: String = "doc.yaml") throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test func validatingTheExamplesDirectoryExitsZero() throws {
        let result = try run(tumult, ["validate", "-f", Fixtures.examples.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("skipped: not a chaos experiment (apps/v1 Deployment)"))
        #expect(result.stdout.contains(" 0 invalid, "))
    }

    @Test func anInvalidFileExitsOneWithFileDocKindNameAndPath() throws {
        let file = try temporaryFile("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: web-delay}
            spec: {action: delay, mode: all, selector: {}, delay: {latency: "90xs"}}
            """, name: "bad.yaml")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let result = try run(tumult, ["validate", "-f", file.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("\(file.path): doc 1 (NetworkChaos web-delay): spec.delay.latency: \"90xs\" is not a duration"))
    }

    @Test func unreadableInputAndMisuseExitTwo() throws {
        #expect(try run(tumult, ["validate", "-f", "/nonexistent/tmt.yaml"]).status == 2)
        #expect(try run(tumult, ["validate"]).status == 2)
        #expect(try run(tumult, ["validate", "--bogus"]).status == 2)
    }

    @Test func standardInputAndStrictMode() throws {
        let text = "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: p}\n" +
            "spec: {action: pod-kill, mode: one, selector: {}, colour: red}\n"
        let lenient = try run(tumult, ["validate", "-f", "-"], stdin: text)
        #expect(lenient.status == 0)
        #expect(lenient.stdout.contains("<stdin>: doc 1 (PodChaos p): warning: spec.colour: unknown field \"colour\""))
        #expect(try run(tumult, ["validate", "--strict", "-f", "-"], stdin: text).status == 1)
    }

    @Test func convertNormalisesLegacyDocumentsToYAMLAndJSON() throws {
        let text = """
            apiVersion: pingcap.com/v1alpha1
            kind: NetworkChaos
            metadata: {name: old}
            spec:
              action: delay
              mode: one
              selector: {}
              delay: {latency: "10ms"}
              duration: 30s
              scheduler: {cron: "@every 2m"}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: keep-me}
            """
        let yaml = try run(tumult, ["convert", "-f", "-"], stdin: text)
        #expect(yaml.status == 0, "\(yaml.stderr)")
        let documents = try DocumentText.parse(yaml.stdout)
        #expect(documents.count == 2)
        #expect(documents[0].at("apiVersion") == .string("chaos-mesh.org/v1alpha1"))
        #expect(documents[0].at("kind") == .string("Schedule"))
        #expect(documents[0].at("metadata", "namespace") == .string("default"))
        #expect(documents[0].at("spec", "concurrencyPolicy") == .string("Forbid"))
        #expect(documents[0].at("spec", "networkChaos", "direction") == .string("to"))
        #expect(documents[0].at("spec", "networkChaos", "delay", "correlation") == .string("0"))
        #expect(documents[1].at("metadata", "name") == .string("keep-me"))
        // What convert prints validates cleanly.
        let again = try run(tumult, ["validate", "--strict", "-f", "-"], stdin: yaml.stdout)
        #expect(again.status == 0, "\(again.stdout)")

        let json = try run(tumult, ["convert", "-o", "json", "-f", "-"], stdin: text)
        #expect(json.status == 0)
        #expect(try DocumentText.parse(json.stdout).flatMap(DocumentLoader.expandLists).count == 2)
    }

    @Test func versionAndCompletion() throws {
        let version = try run(tumult, ["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
        let completion = try run(tumult, ["--generate-completion-script", "bash"])
        #expect(completion.stdout.contains("validate"))
    }
}
