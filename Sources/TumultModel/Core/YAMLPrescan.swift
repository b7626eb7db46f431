/// What a single pass over YAML text shows before any parser builds a tree:
/// how many aliases it may use, how many nodes it is sure to build, and
/// whether a mapping key may hold an alias.
///
/// The last matters because Yams compares every key of a mapping with the
/// others in full: a key that aliases a bomb (`? *bomb : 1`, `*bomb : 1`,
/// `[*bomb]: 1`) is expanded there, inside Yams, before any budget can be
/// counted — 40 seconds of CPU for a 400-byte text. So the alias count and
/// the key check err on the side of seeing too much: they read the raw
/// bytes and ignore quoting, which can only over-count. The node count is
/// the other way round: it follows quotes, comments and block scalars, and
/// counts only tokens that are surely nodes, so that it never refuses a
/// document that is within its budget.
struct YAMLPrescan {
    /// Tokens that may be aliases (`*name` where a token may start). Never
    /// fewer than the document really has.
    private(set) var aliases = 0
    /// Tokens that may be anchors (`&name` where a token may start). Never
    /// fewer than the document really has.
    private(set) var anchors = 0
    /// A line whose mapping key is, or holds, something that may be an
    /// alias, or that uses an explicit key (`?`), in a text that may hold
    /// aliases and anchors. Nil when no key can hold an alias.
    private(set) var aliasKeyLine: Int?
    /// Scalars, aliases and flow collections the text surely holds. Never
    /// more than the parser will build (it adds block collections and
    /// implicit nulls).
    private(set) var nodes = 0

    init(_ text: String) {
        let scanned = text.utf8.withContiguousStorageIfAvailable { Self.scan($0) }
            ?? Array(text.utf8).withUnsafeBufferPointer { Self.scan($0) }
        self = scanned
    }

    private init() {}

    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> YAMLPrescan {
        var result = YAMLPrescan()
        result.scanAliases(bytes)
        var counter = NodeCounter(bytes: bytes)
        result.nodes = counter.count()
        return result
    }

    // MARK: Aliases and keys, by raw bytes

    /// libyaml starts a token only after a blank, a line break, a flow
    /// indicator, a key or value indicator, or a byte-order mark (whose last
    /// byte is 0xBF); an alias is `*` followed by a letter, digit, `_` or `-`.
    static func mayStartToken(after byte: UInt8) -> Bool {
        switch byte {
        case .space, .tab, .newline, .carriageReturn, .openBracket, .openBrace, .comma, .colon, .question, 0xBF: true
        default: false
        }
    }

    static func isAnchorCharacter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_") || byte == .dash
    }

    private mutating func scanAliases(_ bytes: UnsafeBufferPointer<UInt8>) {
        var line = 1
        var aliasOnLine = false
        var aliasKey: Int?
        var collectionKey: Int?
        var explicitKey: Int?
        func colonFollows(_ start: Int) -> Bool {
            var index = start
            while index < bytes.count, bytes[index] == .space || bytes[index] == .tab { index += 1 }
            return index < bytes.count && bytes[index] == .colon
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let tokenMayStart = index == 0 || Self.mayStartToken(after: bytes[index - 1])
            switch byte {
            case .newline:
                line += 1
                aliasOnLine = false
            case .asterisk where tokenMayStart && index + 1 < bytes.count && Self.isAnchorCharacter(bytes[index + 1]):
                aliases += 1
                aliasOnLine = true
                var end = index + 1
                while end < bytes.count, Self.isAnchorCharacter(bytes[end]) { end += 1 }
                // `*name :` — the alias is a key.
                if aliasKey == nil, colonFollows(end) { aliasKey = line }
                index = end
                continue
            case .ampersand where tokenMayStart && index + 1 < bytes.count && Self.isAnchorCharacter(bytes[index + 1]):
                anchors += 1
            case .closeBracket where aliasOnLine, .closeBrace where aliasOnLine:
                // `[*name]: ` — a flow collection key holding an alias; such
                // a key cannot span lines.
                if collectionKey == nil, colonFollows(index + 1) { collectionKey = line }
            case .question where tokenMayStart:
                // `? ` — an explicit key, which may span lines and hold anything.
                if explicitKey == nil { explicitKey = line }
            default:
                break
            }
            index += 1
        }
        // An alias expands only to an anchor: without one (a CRD whose
        // descriptions hold `? ` and `*word`) no key can hold a bomb.
        if aliases > 0 && anchors > 0 {
            aliasKeyLine = [aliasKey, collectionKey, explicitKey].compactMap { $0 }.min()
        }
    }
}

extension YAMLPrescan {
    /// Counts the tokens of YAML text that are surely nodes, following
    /// libyaml's scanner closely enough to skip what is not a token: quoted
    /// and block scalars, comments, the inside of plain scalars and their
    /// continuation lines. Where it cannot tell, it counts less.
    struct NodeCounter {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var nodes = 0
        var flowLevel = 0
        // The current line, for block scalars and multi-line plain scalars.
        var lineStart = 0
        var firstTokenColumn: Int?
        var lastEntryColumn: Int?
        var sawValueIndicator = false
        /// A plain scalar ran to the end of a block-context line: more
        /// indented lines continue it.
        var plainParentColumn: Int?

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        var column: Int { index - lineStart }

        func byte(at offset: Int) -> UInt8? {
            offset < bytes.count ? bytes[offset] : nil
        }

        func isBlankOrEnd(at offset: Int) -> Bool {
            guard let byte = byte(at: offset) else { return true }
            return byte == .space || byte == .tab || byte == .newline || byte == .carriageReturn
        }

        static func isFlowIndicator(_ byte: UInt8) -> Bool {
            byte == .comma || byte == .openBracket || byte == .closeBracket || byte == .openBrace || byte == .closeBrace
        }

        /// The column a block scalar's or a plain scalar's continuation lines
        /// must be indented beyond: the key's on `key: |`, the entry's on `- |`.
        var parentColumn: Int {
            if sawValueIndicator, let firstTokenColumn { return firstTokenColumn }
            return lastEntryColumn ?? -1
        }

        mutating func count() -> Int {
            beginLine()
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case .space, .tab, .carriageReturn:
                    index += 1
                case .newline:
                    index += 1
                    beginLine()
                case .hash:
                    skipToEndOfLine()
                case .doubleQuote, .singleQuote:
                    startToken()
                    nodes += 1
                    skipQuoted(byte)
                case .asterisk:
                    startToken()
                    nodes += 1
                    index += 1
                    while let next = self.byte(at: index), YAMLPrescan.isAnchorCharacter(next) { index += 1 }
                case .ampersand, .exclamation:
                    // Properties of the node that follows: not nodes themselves.
                    startToken()
                    index += 1
                    while let next = self.byte(at: index), !isBlankOrEnd(at: index),
                          !(flowLevel > 0 && Self.isFlowIndicator(next)) { index += 1 }
                case .openBracket, .openBrace:
                    startToken()
                    nodes += 1
                    flowLevel += 1
                    index += 1
                case .closeBracket, .closeBrace:
                    flowLevel = max(0, flowLevel - 1)
                    index += 1
                case .comma where flowLevel > 0:
                    index += 1
                case .dash where flowLevel == 0 && isBlankOrEnd(at: index + 1):
                    lastEntryColumn = column
                    index += 1
                case .question where flowLevel > 0 || isBlankOrEnd(at: index + 1):
                    index += 1
                case .colon where flowLevel > 0 || isBlankOrEnd(at: index + 1):
                    sawValueIndicator = true
                    index += 1
                case .pipe where flowLevel == 0, .greaterThan where flowLevel == 0:
                    nodes += 1
                    skipBlockScalar()
                case .percent where column == 0 && flowLevel == 0:
                    skipToEndOfLine()
                default:
                    startToken()
                    nodes += 1
                    skipPlain()
                }
            }
            return nodes
        }

        mutating func startToken() {
            if firstTokenColumn == nil { firstTokenColumn = column }
        }

        mutating func skipToEndOfLine() {
            while let byte = byte(at: index), byte != .newline { index += 1 }
        }

        /// At the start of a line: indentation, document markers, and the
        /// continuation of a plain scalar from the line before.
        mutating func beginLine() {
            lineStart = index
            firstTokenColumn = nil
            lastEntryColumn = nil
            sawValueIndicator = false
            while true {
                var end = index
                while byte(at: end) == .space { end += 1 }
                let indent = end - index
                let first = byte(at: end)
                let empty = first == nil || first == .newline || first == .carriageReturn
                if indent == 0, isDocumentMarker(at: end) {
                    plainParentColumn = nil
                    flowLevel = 0
                    index = end + 3
                    return
                }
                if let parent = plainParentColumn, flowLevel == 0 {
                    if empty, first != nil {
                        index = end
                        skipToEndOfLine()
                        index += 1
                        lineStart = index
                        continue
                    }
                    plainParentColumn = nil
                    if indent > parent, first != .hash {
                        index = end
                        skipPlain()
                        return
                    }
                }
                return
            }
        }

        func isDocumentMarker(at offset: Int) -> Bool {
            guard let first = byte(at: offset), first == .dash || first == .dot else { return false }
            return byte(at: offset + 1) == first && byte(at: offset + 2) == first && isBlankOrEnd(at: offset + 3)
        }

        mutating func skipQuoted(_ quote: UInt8) {
            index += 1
            while let byte = byte(at: index) {
                index += 1
                if byte == .newline {
                    lineStart = index
                } else if quote == .doubleQuote, byte == .backslash {
                    if self.byte(at: index) == .newline { lineStart = index + 1 }
                    index += 1
                } else if byte == quote {
                    if quote == .singleQuote, self.byte(at: index) == .singleQuote {
                        index += 1
                    } else {
                        return
                    }
                }
            }
        }

        /// A plain scalar ends at `: `, ` #`, or (in a flow collection) a
        /// flow indicator; in block context it may go on over more indented
        /// lines, in flow context over any.
        mutating func skipPlain() {
            while let byte = byte(at: index) {
                switch byte {
                case .newline where flowLevel > 0:
                    index += 1
                    lineStart = index
                case .newline:
                    plainParentColumn = parentColumn
                    return
                case .colon where isBlankOrEnd(at: index + 1)
                        || (flowLevel > 0 && self.byte(at: index + 1).map(Self.isFlowIndicator) == true):
                    return
                case .hash where index > 0 && (bytes[index - 1] == .space || bytes[index - 1] == .tab
                                               || bytes[index - 1] == .newline):
                    return
                case _ where flowLevel > 0 && Self.isFlowIndicator(byte):
                    return
                default:
                    index += 1
                }
            }
        }

        /// `|` or `>`: the header, then every line that is empty or indented
        /// beyond the parent's column.
        mutating func skipBlockScalar() {
            let parent = parentColumn
            skipToEndOfLine()
            while index < bytes.count {
                index += 1 // the line break
                var end = index
                while byte(at: end) == .space { end += 1 }
                let first = byte(at: end)
                let empty = first == nil || first == .newline || first == .carriageReturn
                guard empty || end - index > parent, !(end == index && isDocumentMarker(at: end)) else {
                    // Not part of the scalar: the next line starts afresh.
                    beginLine()
                    return
                }
                lineStart = index
                index = end
                skipToEndOfLine()
            }
        }
    }
}

private extension UInt8 {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let question = UInt8(ascii: "?")
    static let asterisk = UInt8(ascii: "*")
    static let ampersand = UInt8(ascii: "&")
    static let exclamation = UInt8(ascii: "!")
    static let dash = UInt8(ascii: "-")
    static let dot = UInt8(ascii: ".")
    static let hash = UInt8(ascii: "#")
    static let pipe = UInt8(ascii: "|")
    static let greaterThan = UInt8(ascii: ">")
    static let percent = UInt8(ascii: "%")
    static let doubleQuote = UInt8(ascii: "\"")
    static let singleQuote = UInt8(ascii: "'")
    static let backslash = UInt8(ascii: "\\")
}
