import Foundation
import Testing
import TumultModel

/// Feeds the loader mutated documents: deleted keys, swapped types, random
/// bytes, deep nesting, huge numbers, truncation. Every one must be answered
/// with a verdict: no crash, no hang, and "invalid" always says why.
@Suite struct RobustnessTests {
    static let mutationCount = 10_000

    @Test func tenThousandMutatedDocumentsAllGetAVerdict() throws {
        var seeds: [Value] = []
        for (_, text) in try Fixtures.exampleFiles() {
            seeds += try DocumentText.parse(text)
        }
        #expect(seeds.count > 40)
        var random = SplitMix64(seed: 0x7475_6D75_6C74)
        var outcomes = (valid: 0, invalid: 0, skipped: 0, unparsable: 0)
        let loader = DocumentLoader()
        for round in 0..<Self.mutationCount {
            var tree = seeds[Int(random.next() % UInt64(seeds.count))]
            let mutations = 1 + Int(random.next() % 3)
            for _ in 0..<mutations { tree = Self.mutate(tree, &random) }
            let text: String
            if round % 2 == 0 {
                text = Self.mutateText((try? DocumentText.yaml([tree])) ?? "", &random)
            } else {
                text = round % 4 == 1 ? DocumentText.json([tree]) : ((try? DocumentText.yaml([tree])) ?? "")
            }
            do {
                for report in try loader.load(text) {
                    switch report.outcome {
                    case .valid: outcomes.valid += 1
                    case .skipped: outcomes.skipped += 1
                    case .invalid:
                        outcomes.invalid += 1
                        #expect(report.diagnostics.hasErrors, "invalid without a reason: \(text)")
                    }
                }
            } catch is DocumentText.ParseError {
                outcomes.unparsable += 1
            }
        }
        // The mutations must really exercise every verdict.
        #expect(outcomes.valid > 100)
        #expect(outcomes.invalid > 1_000)
        #expect(outcomes.unparsable > 100)
    }

    static func mutate(_ value: Value, _ random: inout SplitMix64) -> Value {
        guard case .object(var object) = value, !object.isEmpty else { return replacement(random.next(), &random) }
        let keys = object.keys
        let key = keys[Int(random.next() % UInt64(keys.count))]
        let child = object[key]!
        switch random.next() % 6 {
        case 0:
            object[key] = nil
        case 1:
            object[key] = replacement(random.next(), &random)
        case 2, 3:
            if case .object = child {
                object[key] = mutate(child, &random)
            } else if case .array(var items) = child, !items.isEmpty {
                let position = Int(random.next() % UInt64(items.count))
                items[position] = mutate(items[position], &random)
                object[key] = .array(items)
            } else {
                object[key] = replacement(random.next(), &random)
            }
        case 4:
            var nested = child
            for _ in 0..<(1 + Int(random.next() % 100)) { nested = .array([nested]) }
            object[key] = nested
        default:
            object["x-\(random.next() % 1000)"] = replacement(random.next(), &random)
        }
        return .object(object)
    }

    static func replacement(_ choice: UInt64, _ random: inout SplitMix64) -> Value {
        switch choice % 11 {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .integer(Int.max)
        case 3: return .integer(Int.min)
        case 4: return .double(1e308)
        case 5: return .double(-0.0)
        case 6: return .string(String(repeating: "9", count: 400))
        case 7: return .string(randomText(&random))
        case 8: return .array([.string("a"), .integer(1), .object(Value.Object())])
        case 9: return .object(Value.Object([("k", .string(randomText(&random)))]))
        default: return .string(["90xs", "-1h", "101", "@every 0s", "1e9", "0x10", "", " "][Int(random.next() % 8)])
        }
    }

    static func randomText(_ random: inout SplitMix64) -> String {
        let length = Int(random.next() % 40)
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length {
            let code = UInt32(random.next() % 0x3000)
            scalars.append(Unicode.Scalar(code) ?? "?")
        }
        return String(scalars)
    }

    static func mutateText(_ text: String, _ random: inout SplitMix64) -> String {
        var bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return text }
        switch random.next() % 5 {
        case 0:
            bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
        case 1:
            for _ in 0..<(1 + Int(random.next() % 8)) {
                let position = Int(random.next() % UInt64(bytes.count))
                bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
            }
        case 2:
            let position = Int(random.next() % UInt64(bytes.count))
            bytes.insert(contentsOf: Array("99999999999999999999999999999".utf8), at: position)
        case 3:
            bytes += Array("\n---\n".utf8) + Array(text.utf8)
        default:
            let position = Int(random.next() % UInt64(bytes.count))
            bytes.insert(contentsOf: Array(String(repeating: "[", count: 300).utf8), at: position)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

