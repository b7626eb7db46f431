import Foundation
import Testing
import TumultModel

/// Chaos Mesh's own examples and CRD schemas are the yardstick: every
/// example is accepted, and the model knows exactly the CRDs' fields and enums.
@Suite struct ConformanceTests {
    static let nonChaosKinds: Set<String> = [
        "Deployment", "Service", "Pod", "ConfigMap", "Ingress", "PersistentVolume", "PersistentVolumeClaim",
        "RemoteCluster",
    ]

    @Test func everyExampleValidatesAndNonChaosObjectsAreSkipped() throws {
        let files = try Fixtures.exampleFiles()
        #expect(files.count >= 40)
        var valid = 0, skipped = 0
        for (name, text) in files {
            for report in try DocumentLoader().load(text) {
                let label = "\(name) \(report.label)"
                switch report.outcome {
                case .valid:
                    valid += 1
                    #expect(report.diagnostics.items.isEmpty, "\(label): \(report.diagnostics.items)")
                case .skipped:
                    skipped += 1
                    #expect(Self.nonChaosKinds.contains(report.kind ?? ""), "\(label) was skipped")
                case .invalid:
                    Issue.record("\(label) is invalid: \(report.diagnostics.items)")
                }
            }
        }
        #expect(valid >= 38)
        #expect(skipped >= 10)
    }

    @Test func everyExampleRoundTrips() throws {
        for (name, text) in try Fixtures.exampleFiles() {
            for report in try DocumentLoader().load(text) {
                guard let document = report.document else { continue }
                let encoded = try document.encoded()
                let again = DocumentLoader().check(encoded)
                #expect(again.document == document, "\(name) \(report.label) changed in a round trip")
                // Through text too, in both formats.
                let yaml = try DocumentText.yaml([encoded])
                #expect(try DocumentLoader().load(yaml).first?.document == document, "\(name) via YAML")
                let json = DocumentText.json([encoded])
                #expect(try DocumentLoader().load(json).first?.document == document, "\(name) via JSON")
            }
        }
    }

    @Test func normalisingTwiceChangesNothing() throws {
        for (name, text) in try Fixtures.exampleFiles() {
            for report in try DocumentLoader().load(text) {
                guard let document = report.document else { continue }
                let once = document.normalized()
                #expect(once.normalized() == once, "\(name)")
                #expect(DocumentLoader().check(try once.encoded()).document == once, "\(name) normalised round trip")
            }
        }
    }
}
