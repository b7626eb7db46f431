import Testing
@testable import TumultModel

/// kubectl's field validation levels over a loader's report: only unknown
/// fields change with the level; other warnings and errors stay as they are.
@Suite struct FieldValidationTests {
    /// A mistyped `jitter` and a warning that is not about an unknown field.
    static let text = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: StressChaos
        metadata: {name: burn, namespace: shop}
        spec:
          mode: all
          selector: {namespaces: [shop]}
          stressors: {cpu: {workers: 1, laod: 50}}
          stressngStressors: "--cpu 1"
        """

    @Test func flagAndQueryWords() {
        #expect(FieldValidation(flag: "strict") == .strict && FieldValidation(flag: "true") == .strict)
        #expect(FieldValidation(flag: "warn") == .warn)
        #expect(FieldValidation(flag: "ignore") == .ignore && FieldValidation(flag: "false") == .ignore)
        #expect(FieldValidation(flag: "yes") == nil)
        #expect(FieldValidation(queryValue: "Strict") == .strict && FieldValidation(queryValue: "Warn") == .warn)
        #expect(FieldValidation(queryValue: "Ignore") == .ignore && FieldValidation(queryValue: "Lenient") == nil)
        #expect(FieldValidation.allCases.map(\.queryValue) == ["Strict", "Warn", "Ignore"])
    }

    @Test func onlyUnknownFieldsChangeWithTheLevel() throws {
        let lenient = try #require(try DocumentLoader().load(Self.text).first)
        #expect(lenient.document != nil)
        let unknown = "unknown field \"laod\" (did you mean \"load\"?)"
        #expect(lenient.diagnostics.warnings.map(\.message).contains(unknown))
        #expect(lenient.diagnostics.warnings.count == 2)

        let strict = try #require(try DocumentLoader().load(Self.text, fieldValidation: .strict).first)
        #expect(strict.outcome == .invalid)
        #expect(strict.diagnostics.errors.map(\.description) == ["spec.stressors.cpu.laod: \(unknown)"])
        // The model's advice stays advice.
        #expect(strict.diagnostics.warnings.map(\.path.description) == ["spec.stressors"])

        let warn = try #require(try DocumentLoader().load(Self.text, fieldValidation: .warn).first)
        #expect(warn == lenient)

        let ignore = try #require(try DocumentLoader().load(Self.text, fieldValidation: .ignore).first)
        #expect(ignore.document != nil)
        #expect(ignore.diagnostics.items.map(\.path.description) == ["spec.stressors"])
    }

    @Test func anInvalidDocumentStaysInvalidAtEveryLevel() throws {
        let broken = Self.text.replacingOccurrences(of: "mode: all", with: "mode: most")
        for level in FieldValidation.allCases {
            let report = try #require(try DocumentLoader().load(broken, fieldValidation: level).first)
            #expect(report.outcome == .invalid, "\(level)")
            #expect(report.diagnostics.errors.contains { $0.path.description == "spec.mode" }, "\(level)")
        }
    }
}
