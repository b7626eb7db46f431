import Foundation
import TumultAgent
import TumultFaults
import TumultModel
import TumultSystem

/// One chaosd attack request body: decoded from chaosd's JSON (kebab-case
/// keys, numbers as strings) and turned into the fault it asks for. Tumult
/// adds `netns` (a named network namespace) and `pid` to aim an attack at
/// a target instead of the whole host.
///
/// A body is checked as a document is: every field by what it is, names
/// that reach the host by `HostNames`, each problem a 400 naming its field,
/// all before anything is journaled.
protocol ChaosdCommand: Decodable, Sendable {
    /// The fault, with every field checked; nothing is asked of the host.
    func planned() throws(AgentError) -> PlannedFault
    /// What must be on the host for the fault to apply (asked by
    /// `ChaosdHost` after `planned()` succeeded).
    var hostChecks: [ChaosdHost.Check] { get }
    /// What the journal names as the target.
    var targetDescription: String { get }
}

extension ChaosdCommand {
    static func invalid(_ path: String, _ message: String) -> AgentError {
        AgentError.field(path, message)
    }

    static func parse<T>(_ path: String, _ text: String?, _ parser: (String) throws -> T) throws(AgentError) -> T? {
        guard let text, !text.isEmpty else { return nil }
        do { return try parser(text) } catch { throw invalid(path, String(describing: error)) }
    }

    static func numbers<T: FixedWidthInteger>(_ path: String, _ text: String?) throws(AgentError) -> [T] {
        guard let text, !text.isEmpty else { return [] }
        var values: [T] = []
        for part in text.split(separator: ",") {
            guard let value = T(part.trimmingCharacters(in: .whitespaces)) else {
                throw invalid(path, "\"\(text)\" is not a comma-separated list of numbers")
            }
            values.append(value)
        }
        return values
    }

    /// A whole number of `range`, or nil when the field is absent.
    static func integer<T: FixedWidthInteger>(_ path: String, _ number: ChaosdNumber?,
                                              in range: ClosedRange<T>) throws(AgentError) -> T? {
        guard let number else { return nil }
        guard number.value.isFinite, number.value.rounded() == number.value else {
            throw invalid(path, "\(number) is not a whole number")
        }
        guard let value = T(exactly: number.value), range.contains(value) else {
            throw invalid(path, "\(number) is out of range: from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A network namespace name checked as one.
    static func networkNamespace(_ path: String, _ name: String) throws(AgentError) -> String {
        if let problem = HostNames.problem(withNetworkNamespace: name) { throw invalid(path, problem) }
        return name
    }

    /// A pid checked as one Tumult may act on (not init, not this server).
    static func process(_ path: String, _ pid: Int64) throws(AgentError) -> Int32 {
        if let problem = HostNames.problem(withPID: pid, tumult: getpid()) { throw invalid(path, problem) }
        return Int32(pid)
    }

    static func process(_ path: String, _ number: ChaosdNumber) throws(AgentError) -> Int32 {
        guard number.value.rounded() == number.value, number.value.isFinite, abs(number.value) < 1e18 else {
            throw invalid(path, "\(number) is not a process id (a number from 1 to \(HostNames.maximumPID))")
        }
        return try process(path, Int64(number.value))
    }

    /// The namespace of `netns` or of `pid` (not both), or the host's.
    static func namespace(netns: String?, pid: ChaosdNumber?) throws(AgentError) -> NetworkNamespace {
        switch (netns, pid) {
        case (let netns?, nil): .named(try networkNamespace("netns", netns))
        case (nil, let pid?): .process(try process("pid", pid))
        case (nil, nil): .host
        case (_?, _?): throw invalid("pid", "give netns or pid, not both")
        }
    }

    /// What must exist for a fault in `namespace`.
    static func checks(of namespace: NetworkNamespace) -> [ChaosdHost.Check] {
        switch namespace {
        case .host: []
        case .named(let name): [.networkNamespace(field: "netns", name: name)]
        case .process(let pid): [.process(field: "pid", pid: pid)]
        }
    }
}

/// A number in a chaosd body, read as a Double and then checked against
/// its field's range: Foundation's decoder answers a number that does not
/// fit the field's integer type (`"limit": -1`) with "not valid JSON" and
/// no field path.
struct ChaosdNumber: Decodable, Sendable, Hashable, CustomStringConvertible {
    var value: Double

    init(_ value: Double) {
        self.value = value
    }

    init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(Double.self)
    }

    var description: String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}


/// Reading chaosd bodies; the families register which type reads which path.
enum ChaosdCommands {
    /// Decodes a body as `type`; every problem is a 400 naming its field,
    /// and only a body that is not JSON at all says so.
    static func decode(_ type: any ChaosdCommand.Type, from data: Data, kind: String) throws(AgentError) -> any ChaosdCommand {
        func invalid(_ path: [any CodingKey], _ message: String) -> AgentError {
            let field = path.map(\.stringValue).joined(separator: ".")
            guard !field.isEmpty else {
                return AgentError(.invalid, "the body is not a chaosd \(kind) command: \(message)")
            }
            return AgentError.field(field, message)
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw invalid(context.codingPath + [key], "required field is missing")
        } catch let DecodingError.valueNotFound(_, context) {
            throw invalid(context.codingPath, "must not be null")
        } catch let DecodingError.typeMismatch(_, context) {
            throw invalid(context.codingPath, context.codingPath.isEmpty ? "it is not a JSON object" : context.debugDescription)
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw invalid(context.codingPath, context.debugDescription)
        } catch {
            throw AgentError(.invalid, "the body is not valid JSON")
        }
    }
}
