import Foundation
import Testing
import TumultModel

/// The collecting decoder: strict scalars, every problem reported with its
/// path, unknown fields as warnings (errors with --strict).
@Suite struct DecoderTests {
    static let delay = """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata: {name: web-delay}
        spec:
          action: delay
          mode: all
          selector: {namespaces: [shop]}
          delay: {latency: "90ms"}
        """

    @Test func aValidDocumentDecodesToTypedValues() throws {
        let result = try report(Self.delay)
        let spec = try #require(result.document?.spec as? NetworkChaosSpec)
        #expect(spec.action == .delay)
        #expect(spec.delay?.latency.nanoseconds == 90_000_000)
        #expect(spec.selector.namespaces == ["shop"])
        #expect(result.label == "doc 1 (NetworkChaos web-delay)")
    }

    @Test func everyProblemIsReportedNotJustTheFirst() throws {
        let yaml = """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: web-delay}
            spec:
              action: delya
              mode: fixed
              value: "zero"
              selector: {}
              duration: soon
              delay: {latency: "90xs", correlation: "101"}
            """
        let paths = try report(yaml).diagnostics.errors.map(\.path.description)
        #expect(Set(paths) == ["spec.action", "spec.value", "spec.duration", "spec.delay.latency",
                               "spec.delay.correlation"])
    }

    @Test func theExampleMessageReadsAsDocumented() throws {
        let yaml = Self.delay.replacingOccurrences(of: "\"90ms\"", with: "\"90xs\"")
        let error = try #require(try report(yaml).diagnostics.errors.first)
        #expect("\(error.path): \(error.message)".hasPrefix("spec.delay.latency: \"90xs\" is not a duration"))
    }

    @Test func scalarsAreStrictLikeTheAPIServer() throws {
        let yaml = Self.delay.replacingOccurrences(of: "mode: all", with: "mode: fixed\n  value: 2")
        let error = try #require(try report(yaml).diagnostics.errors.first)
        #expect(error.path == "spec.value")
        #expect(error.message.contains("expected a string, got an integer 2 (quote it)"))
    }

    @Test func unknownFieldsWarnWithASuggestionAndFailUnderStrict() throws {
        let yaml = Self.delay.replacingOccurrences(of: "latency:", with: "latncy: \"1ms\", latency:")
        let lenient = try report(yaml)
        #expect(lenient.document != nil)
        let warning = try #require(lenient.diagnostics.warnings.first)
        #expect(warning.path == "spec.delay.latncy")
        #expect(warning.message == "unknown field \"latncy\" (did you mean \"latency\"?)")
        let strict = try report(yaml, strict: true)
        #expect(strict.document == nil)
        #expect(strict.diagnostics.errors.map(\.path) == ["spec.delay.latncy"])
    }

    @Test func missingRequiredFieldsAreNamed() throws {
        let yaml = """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: x}
            spec: {delay: {}}
            """
        let paths = Set(try report(yaml).diagnostics.errors.map(\.path.description))
        #expect(paths.isSuperset(of: ["spec.action", "spec.mode", "spec.selector", "spec.delay.latency"]))
    }

    @Test func nonChaosObjectsAreSkippedAndUnknownKindsSuggested() throws {
        let deployment = try report("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")
        #expect(deployment.outcome == .skipped(reason: "not a chaos experiment (apps/v1 Deployment)"))
        let typo = try report("apiVersion: chaos-mesh.org/v1alpha1\nkind: NetworkChoas\nmetadata: {name: a}\nspec: {}\n")
        #expect(typo.diagnostics.errors.first?.message == "\"NetworkChoas\" is not a Chaos Mesh kind (did you mean \"NetworkChaos\"?)")
    }

    @Test func multiDocumentFilesAndListsAreSplit() throws {
        let text = Self.delay + "\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n" + """
            apiVersion: v1
            kind: List
            items:
              - {apiVersion: v1, kind: Pod, metadata: {name: p}}
              - {apiVersion: v1, kind: Pod, metadata: {name: q}}
            """
        let reports = try DocumentLoader().load(text)
        #expect(reports.map(\.index) == [1, 2, 3, 4])
        #expect(reports.map(\.name) == ["web-delay", "s", "p", "q"])
    }

    @Test func jsonInputKeepsKeyOrderAndTypes() throws {
        let json = #"{"apiVersion":"chaos-mesh.org/v1alpha1","kind":"PodChaos","metadata":{"name":"k"},"# +
            #""spec":{"action":"pod-kill","mode":"fixed","value":"2","selector":{},"gracePeriod":5}}"#
        let result = try report(json)
        let spec = try #require(result.document?.spec as? PodChaosSpec)
        #expect(spec.gracePeriod == 5)
        #expect(try result.document!.encoded().at("spec")!.objectValue!.keys.first == "action")
    }

    @Test func legacyGroupWithASchedulerBecomesASchedule() throws {
        let yaml = """
            apiVersion: pingcap.com/v1alpha1
            kind: NetworkChaos
            metadata: {name: old, namespace: shop}
            spec:
              action: loss
              mode: one
              selector: {namespaces: [shop]}
              loss: {loss: "25"}
              duration: "10s"
              scheduler: {cron: "@every 1m"}
            """
        let document = try #require(try report(yaml).document)
        #expect(document.kind == .schedule)
        let schedule = try #require(document.spec as? ScheduleSpec)
        #expect(schedule.type == .chaos(.networkChaos))
        #expect(schedule.schedule.text == "@every 1m")
        #expect(schedule.embedded.networkChaos?.loss?.loss.value == 25)
        #expect(schedule.embedded.networkChaos?.duration?.seconds == 10)
        let normalized = document.normalized()
        #expect(normalized.apiVersion == "chaos-mesh.org/v1alpha1")
        #expect((normalized.spec as? ScheduleSpec)?.concurrencyPolicy == .forbid)
    }

    @Test func legacyGroupWithABadCronNamesTheLegacyPath() throws {
        let yaml = """
            apiVersion: pingcap.com/v1alpha1
            kind: PodChaos
            metadata: {name: old}
            spec: {action: pod-kill, mode: one, selector: {}, scheduler: {cron: "every minute"}}
            """
        #expect(try report(yaml).diagnostics.errors.map(\.path) == ["spec.scheduler.cron"])
    }

    @Test func notYAMLIsAParseErrorWithAPosition() {
        #expect(throws: DocumentText.ParseError.self) { try DocumentLoader().load("a: [1, 2\nb: }") }
        do {
            _ = try DocumentLoader().load("{\"a\": tru}")
            Issue.record("accepted bad JSON")
        } catch {
            #expect("\(error)".contains("line 1"))
        }
    }

    @Test func pathologicalNestingAndAliasBombsAreRefused() {
        let deepFlow = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: DocumentText.ParseError.self) { try DocumentText.parse("a: " + deepFlow) }
        #expect(throws: DocumentText.ParseError.self) { try DocumentText.parse(deepFlow) }
        let deepBlock = (0..<400).map { String(repeating: " ", count: $0 * 2) + "k:" }.joined(separator: "\n")
        #expect(throws: DocumentText.ParseError.self) { try DocumentText.parse(deepBlock) }
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<9 {
            let previous = "*a\(level - 1)"
            bomb += "a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]\n"
        }
        #expect(throws: DocumentText.ParseError.self) { try DocumentText.parse(bomb) }
    }

    @Test func plainScalarsAreTypedTheYAML11Way() throws {
        let text = """
            a: yes
            b: Off
            c: 0x1F
            d: 1_000
            e: 010
            f: 1:30
            g: .5
            h: ~
            i: "25"
            j: 1e3
            k: -.inf
            l: 99999999999999999999
            m: !!str 12
            n: web-1
            o: 0o17
            p: +12
            """
        let object = try #require(try DocumentText.parse(text).first?.objectValue)
        #expect(object["a"] == .bool(true))
        #expect(object["b"] == .bool(false))
        #expect(object["c"] == .integer(31))
        #expect(object["d"] == .integer(1000))
        #expect(object["e"] == .integer(8))
        #expect(object["f"] == .string("1:30"))
        #expect(object["g"] == .double(0.5))
        #expect(object["h"] == .null)
        #expect(object["i"] == .string("25"))
        #expect(object["j"] == .double(1000))
        #expect(object["k"] == .double(-.infinity))
        #expect(object["l"] == .double(1e20))
        #expect(object["m"] == .string("12"))
        #expect(object["n"] == .string("web-1"))
        #expect(object["o"] == .integer(15))
        #expect(object["p"] == .integer(12))
    }

    @Test func mergeKeysAndAliasesAreExpanded() throws {
        let text = """
            base: &base {mode: all, selector: {namespaces: [shop]}}
            spec:
              <<: *base
              mode: one
            """
        let object = try #require(try DocumentText.parse(text).first?.objectValue)
        #expect(object["spec"]?.at("mode") == .string("one"))
        #expect(object["spec"]?.at("selector", "namespaces") == .array([.string("shop")]))
    }

    @Test func duplicateKeysAreRefused() {
        #expect(throws: DocumentText.ParseError.self) { try DocumentText.parse("a: 1\na: 2\n") }
    }

    @Test func encodedYAMLQuotesStringsThatLookLikeOtherTypes() throws {
        let value = Value.object(Value.Object([("loss", .string("25")), ("flag", .string("true")),
                                               ("none", .string("null")), ("n", .integer(3))]))
        let yaml = try DocumentText.yaml([value])
        #expect(try DocumentText.parse(yaml) == [value])
        #expect(try DocumentText.parse(DocumentText.json([value])) == [value])
    }
}
