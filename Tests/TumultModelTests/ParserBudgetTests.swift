import Foundation
import Testing
@testable import TumultModel
import Yams

/// Parsing is bounded before the work is done: a 500-byte alias bomb, an
/// alias used as a key, a megabyte list in YAML flow syntax or in JSON are
/// refused in milliseconds with a message naming the limit, while real
/// documents — Chaos Mesh's examples, a 200-template Workflow, anchors used
/// as people use them — parse as before.
@Suite struct ParserBudgetTests {
    static let budget = DocumentText.Budget.standard

    /// Billion laughs in 9 levels of 9: 9^9 nodes from under 500 bytes.
    static let aliasBomb: String = {
        var lines = [#"a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#]
        for level in 1..<9 {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    /// Runs `body`, which must throw a `ParseError`; returns its message and
    /// how long it took.
    static func refusal(_ body: () throws -> Any) -> (message: String, seconds: Double) {
        let start = ContinuousClock.now
        do {
            _ = try body()
            Issue.record("accepted")
            return ("", 0)
        } catch let error as DocumentText.ParseError {
            let elapsed = ContinuousClock.now - start
            return (error.message, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        } catch {
            Issue.record("threw \(error), not a ParseError")
            return ("", 0)
        }
    }

    static func flowList(bytes: Int) -> String {
        "[" + Array(repeating: "1", count: bytes / 2).joined(separator: ",") + "]\n"
    }

    @Test func anAliasBombIsRefusedAtOnceNamingTheBudget() {
        #expect(Self.aliasBomb.utf8.count < 500)
        for parse in [{ try DocumentText.parse(Self.aliasBomb) }, { try DocumentLoader().load(Self.aliasBomb) } as () throws -> Any] {
            let (message, seconds) = Self.refusal(parse)
            print("alias bomb (\(Self.aliasBomb.utf8.count) bytes) refused in \(Int(seconds * 1000)) ms: \(message)")
            #expect(message == "document too large: more than 100000 nodes after expanding aliases (YAML alias bomb?)")
            #expect(seconds < 0.5)
        }
        // One level fewer and a larger budget: 9^8 is still far too many.
        let smaller = Self.aliasBomb.split(separator: "\n").dropLast().joined(separator: "\n")
        let (message, _) = Self.refusal { try DocumentText.parse(smaller, budget: .init(nodes: 1_000_000)) }
        #expect(message.contains("more than 1000000 nodes after expanding aliases"))
    }

    /// Yams compares mapping keys in full while it builds the tree, so an
    /// alias of a bomb used as a key would be expanded there (40 s of CPU
    /// before this check): such keys are refused before Yams sees the text.
    @Test func aBombUsedAsAKeyIsRefusedBeforeParsing() {
        let keys = ["? *a8\n: 1\n", "*a8 : 1\n", "*a8: 1\n", "k: {[*a8]: 1}\n", "k: [{*a8: 1}]\n", "[*a7, *a8]: 1\n"]
        for key in keys {
            let (message, seconds) = Self.refusal { try DocumentText.parse(Self.aliasBomb + key) }
            #expect(message.hasPrefix("a mapping key must be a plain value, not an alias"), "\(key)")
            #expect(message.hasSuffix("(line 10)"), "\(key): \(message)")
            #expect(seconds < 0.5, "\(key)")
        }
    }

    @Test func tooManyAliasesAreRefusedBeforeParsing() throws {
        let text = "a: &a x\nb: [" + Array(repeating: "*a", count: 5_001).joined(separator: ",") + "]\n"
        #expect(Self.refusal { try DocumentText.parse(text) }.message == "document too large: more than 5000 YAML aliases")
        let fewer = "a: &a x\nb: [" + Array(repeating: "*a", count: 5_000).joined(separator: ",") + "]\n"
        #expect(try DocumentText.parse(fewer).first?.at("b")?.arrayValue?.count == 5_000)
    }

    @Test func fourMegabyteListsAreRefusedByTheirSize() {
        let flow = Self.flowList(bytes: 4 << 20)
        let json = #"{"apiVersion": "chaos-mesh.org/v1alpha1", "items": "# + Self.flowList(bytes: 4 << 20) + "}"
        for (label, text) in [("YAML flow list", flow), ("JSON list", json)] {
            let (message, seconds) = Self.refusal { try DocumentLoader().load(text) }
            print("\(label) of \(text.utf8.count) bytes refused in \(Int(seconds * 1000)) ms: \(message)")
            #expect(message == "document too large: more than 1048576 bytes (the text has \(text.utf8.count))", "\(label)")
            #expect(seconds < 0.5, "\(label)")
        }
    }

    /// Under the byte budget but over the node budget: refused by counting,
    /// before a tree is built.
    @Test func megabyteListsUnderTheByteBudgetAreRefusedByTheirNodes() {
        let flow = Self.flowList(bytes: 1_000_000)
        let block = String(repeating: "- 1\n", count: 250_000)
        let json = #"{"items": "# + Self.flowList(bytes: 1_000_000) + "}"
        for (label, text) in [("YAML flow list", flow), ("YAML block list", block), ("JSON list", json)] {
            #expect(text.utf8.count <= Self.budget.bytes)
            let (message, seconds) = Self.refusal { try DocumentText.parse(text) }
            print("\(label) of \(text.utf8.count) bytes refused in \(Int(seconds * 1000)) ms: \(message)")
            #expect(message == "document too large: more than 100000 nodes", "\(label)")
            // Refused by the scan, so before Yams builds anything; the bound
            // is loose (a debug build scans a megabyte in about a second),
            // `tumult-bench validate` has the figures.
            #expect(YAMLPrescan(text).nodes > Self.budget.nodes, "\(label)")
            #expect(seconds < 5, "\(label)")
        }
        #expect(YAMLPrescan(flow).nodes >= 500_000)
        #expect(YAMLPrescan(block).nodes == 250_000)
    }

    @Test func deepNestingIsStillRefused() throws {
        let deepFlow = "a: " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        #expect(Self.refusal { try DocumentText.parse(deepFlow) }.message == "document nests too deeply (more than 64 levels)")
        let deepJSON = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        #expect(Self.refusal { try DocumentText.parse(deepJSON) }.message == "document nests too deeply (more than 64 levels)")
        let shallow = DocumentText.Budget(depth: 3)
        #expect(Self.refusal { try DocumentText.parse("a: {b: {c: {d: 1}}}", budget: shallow) }.message
                == "document nests too deeply (more than 3 levels)")
        #expect(try DocumentText.parse("a: {b: {c: 1}}", budget: shallow).count == 1)
    }

    @Test func aBudgetCanBeSmallerOrLarger() throws {
        let text = "a: [1, 2, 3]\nb: {c: 4}\n"
        // 1 mapping + 1 list + 3 + 1 mapping + 1, plus the two keys a and b and c.
        #expect(Self.refusal { try DocumentText.parse(text, budget: .init(nodes: 5)) }.message
                == "document too large: more than 5 nodes")
        #expect(try DocumentText.parse(text, budget: .init(nodes: 20)).count == 1)
        #expect(Self.refusal { try DocumentText.parse(text, budget: .init(bytes: 10)) }.message
                == "document too large: more than 10 bytes (the text has \(text.utf8.count))")
        let aliased = "x: &x [1, 2, 3, 4]\ny: [*x, *x, *x]\n"
        #expect(Self.refusal { try DocumentText.parse(aliased, budget: .init(nodes: 20)) }.message
                == "document too large: more than 20 nodes after expanding aliases (YAML alias bomb?)")
        #expect(Self.refusal { try DocumentText.parse(aliased, budget: .init(aliases: 2)) }.message
                == "document too large: more than 2 YAML aliases")
        #expect(try DocumentText.parse(aliased, budget: .init(nodes: 40)).first?.at("y")?.arrayValue?.count == 3)
    }

    /// A Workflow of 200 templates (about 60 KB) is nowhere near the budget.
    @Test func aLargeRealWorkflowIsAccepted() throws {
        var text = """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: Workflow
            metadata: {name: big, namespace: default}
            spec:
              entry: entry
              templates:
                - name: entry
                  templateType: Serial
                  deadline: 240s
                  children:

            """
        for index in 0..<199 { text += "        - delay-\(index)\n" }
        for index in 0..<199 {
            text += """
                    - name: delay-\(index)
                      templateType: NetworkChaos
                      deadline: 1m
                      networkChaos:
                        action: delay
                        mode: all
                        selector:
                          namespaces: [default]
                          labelSelectors: {app: "web-\(index)", tier: backend}
                        delay: {latency: 10ms, correlation: "25", jitter: 1ms}
                        direction: to

                """
        }
        #expect(text.utf8.count > 50_000)
        let start = ContinuousClock.now
        let reports = try DocumentLoader().load(text)
        print("200-template Workflow (\(text.utf8.count) bytes) loaded in \(ContinuousClock.now - start)")
        #expect(reports.count == 1)
        #expect(reports.first?.document != nil, "\(reports.first?.diagnostics.items ?? [])")
    }

    /// Anchors and aliases as people use them still work, merge keys too.
    @Test func ordinaryAliasesStillWork() throws {
        let text = """
            base: &selector
              namespaces: [shop]
              labelSelectors: {app: web}
            first: {selector: *selector}
            second:
              selector:
                <<: *selector
                namespaces: [cart]
            """
        let tree = try #require(try DocumentText.parse(text).first)
        #expect(tree.at("first", "selector") == tree.at("base"))
        #expect(tree.at("second", "selector", "namespaces") == .array([.string("cart")]))
        #expect(tree.at("second", "selector", "labelSelectors", "app") == .string("web"))
    }

    /// The scan counts no more nodes than the parser builds and no fewer
    /// aliases than it resolves, on every Chaos Mesh example, every CRD and
    /// text written to trip it (quotes, comments, block and multi-line
    /// scalars); and it is tight enough to refuse large texts early.
    @Test func theScanNeverOvercountsNodesNorUndercountsAliases() throws {
        var texts = try Fixtures.exampleFiles().map { ($0.name, $0.text) }
        for file in try FileManager.default.contentsOfDirectory(atPath: Fixtures.crds.path) where file.hasSuffix(".yaml") {
            texts.append((file, try String(contentsOf: Fixtures.crds.appendingPathComponent(file), encoding: .utf8)))
        }
        texts += [
            ("block scalars", """
                script: |
                  - a, b, [c, d]
                  "quoted: *x
                  # not a comment
                folded: >-
                    {a: 1}

                    more: [text]
                after: [1, 2]
                list:
                  - |
                    - x
                    - y
                  - key: |
                      [1, 2, 3]
                    other: 3

                """),
            ("quotes and comments", """
                a: "one, two, [three]: *four" # five, six, [seven]
                b: 'it''s [a, b]' # *c, [d]
                c: "multi
                  line, [x, y]
                  string"
                d: plain, with [brackets] and *stars*
                e: multi line
                  plain, [scalar]
                  still the same scalar
                f: [flow
                  plain, across lines]
                g: {"json": 1, 'quoted': [2, 3]}
                h: !!str &anchor 12
                i: *anchor
                """),
            ("documents", "---\na: 1\n...\n---\n- [1, 2]\n- {b: 3}\n--- |\n  text\n...\n%YAML 1.1\n---\nz: 1\n"),
        ]
        for (name, text) in texts {
            let scan = YAMLPrescan(text)
            let parser = try Yams.Parser(yaml: text, resolver: .basic)
            var counter = DocumentText.ExpansionCounter(budget: .init(nodes: .max / 2))
            var parsed = 0
            do {
                while let root = try parser.nextRoot() { try counter.add(root); parsed += 1 }
            } catch {
                // A malformed sample is a bug in this test, not in the scan.
                Issue.record("\(name) is not YAML: \(error)")
                continue
            }
            #expect(scan.nodes <= counter.total, "\(name): scan \(scan.nodes), parser \(counter.total)")
            #expect(scan.aliases >= counter.aliasUses, "\(name): scan \(scan.aliases), parser \(counter.aliasUses)")
            #expect(scan.aliasKeyLine == nil, "\(name): key on line \(scan.aliasKeyLine ?? 0)")
            // Block collections and implicit nulls are all it leaves out.
            if counter.total > 100 {
                #expect(Double(scan.nodes) >= 0.4 * Double(counter.total), "\(name): scan \(scan.nodes), parser \(counter.total)")
            }
        }
    }
}
