import Yams

extension DocumentText {
    /// How much work one text may ask of the parser. Every limit is checked
    /// before the work it bounds is done: the byte count first, then what a
    /// scan of the text shows (aliases, nodes, keys), then the nodes that
    /// aliases would expand to, counted on the parsed tree without expanding
    /// them. A 470-byte alias bomb or a megabyte flow list is refused in
    /// milliseconds instead of taking seconds and hundreds of megabytes.
    ///
    /// The defaults sit far above any real Chaos Mesh document (a Workflow
    /// with 200 templates is about 60 KB and 10,000 nodes).
    public struct Budget: Sendable, Equatable {
        /// The most UTF-8 bytes of text.
        public var bytes: Int
        /// The most nodes (scalars, lists and objects) counted with every
        /// YAML alias expanded where it is used.
        public var nodes: Int
        /// The most YAML aliases (`*name`).
        public var aliases: Int
        /// The deepest nesting of lists and objects.
        public var depth: Int

        public init(bytes: Int = 1 << 20, nodes: Int = 100_000, aliases: Int = 5_000,
                    depth: Int = DocumentText.maximumDepth) {
            self.bytes = bytes
            self.nodes = nodes
            self.aliases = aliases
            self.depth = depth
        }

        /// What `tumult`, the server and every `DocumentLoader` use.
        public static let standard = Budget()

        func refuseBytes(_ count: Int) -> ParseError {
            ParseError("document too large: more than \(bytes) bytes (the text has \(count))")
        }

        func refuseNodes(expandingAliases: Bool) -> ParseError {
            ParseError(expandingAliases
                       ? "document too large: more than \(nodes) nodes after expanding aliases (YAML alias bomb?)"
                       : "document too large: more than \(nodes) nodes")
        }

        func refuseAliases() -> ParseError {
            ParseError("document too large: more than \(aliases) YAML aliases")
        }

        func refuseDepth() -> ParseError {
            ParseError("document nests too deeply (more than \(depth) levels)")
        }
    }

    /// Counts the nodes of Yams trees as if every alias were expanded, without
    /// expanding them: Yams shares an anchored node wherever it is aliased, so
    /// each anchored node is walked once and its size reused at each alias.
    /// The work is linear in the text however many nodes the aliases name.
    struct ExpansionCounter {
        let budget: Budget
        private(set) var total = 0
        private(set) var aliasUses = 0
        private var sizes: [AnchoredNode: Int] = [:]

        /// One definition of an anchor: names may be reused, positions not.
        private struct AnchoredNode: Hashable {
            var name: String
            var line: Int
            var column: Int
        }

        init(budget: Budget) {
            self.budget = budget
        }

        /// Adds one document's root; throws as soon as the running count
        /// passes the budget.
        mutating func add(_ root: Node) throws {
            total += try size(of: root)
            if total > budget.nodes { throw budget.refuseNodes(expandingAliases: aliasUses > 0) }
        }

        private mutating func size(of node: Node) throws -> Int {
            let key = node.anchor.map {
                AnchoredNode(name: $0.rawValue, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
            }
            if let key, let known = sizes[key] {
                aliasUses += 1
                return known
            }
            var count = 1
            switch node {
            case .scalar, .alias:
                break
            case .sequence(let sequence):
                for child in sequence {
                    count += try size(of: child)
                    try check(count)
                }
            case .mapping(let mapping):
                for (name, value) in mapping {
                    count += try size(of: name) + size(of: value)
                    try check(count)
                }
            }
            if let key { sizes[key] = count }
            return count
        }

        private func check(_ count: Int) throws {
            if total + count > budget.nodes { throw budget.refuseNodes(expandingAliases: aliasUses > 0) }
        }
    }
}
