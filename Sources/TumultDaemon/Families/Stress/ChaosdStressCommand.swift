import Foundation
import TumultAgent
import TumultFaults
import TumultModel
import TumultSystem

/// `POST /api/attack/stress`.
struct ChaosdStressCommand: ChaosdCommand {
    var action: String
    var load: ChaosdNumber?
    var workers: ChaosdNumber?
    var size: String?
    var options: [String]?
    var netns: String?
    var pid: ChaosdNumber?

    /// Where the workers go; valid once `planned()` succeeded.
    var target: StressFault.Target {
        switch try? Self.namespace(netns: netns, pid: pid) {
        case .named(let name)?: .networkNamespace(name)
        case .process(let pid)?: .process(pid)
        default: .host
        }
    }

    var targetDescription: String { target.description }

    var hostChecks: [ChaosdHost.Check] {
        var checks = Self.checks(of: (try? Self.namespace(netns: netns, pid: pid)) ?? .host)
        if action != "cpu", let size, let bytes = try? MemorySize(parsing: size), case .bytes(let count)? = bytes.amount {
            checks.append(.memory(field: "size", text: size, bytes: count))
        }
        return checks
    }

    func planned() throws(AgentError) -> PlannedFault {
        _ = try Self.namespace(netns: netns, pid: pid)
        var fault: StressFault
        switch action {
        case "cpu":
            fault = StressFault(action: .cpu, target: target)
            fault.load = try Self.integer("load", load, in: 0...100) ?? 100
        case "mem", "memory":
            fault = StressFault(action: .memory, target: target)
            guard let size = try Self.parse("size", size, { try MemorySize(parsing: $0) }) else {
                throw Self.invalid("size", "required for mem (e.g. \"256MB\" or \"25%\")")
            }
            switch size.amount {
            case .bytes(let bytes)? where bytes > 0: fault.size = .bytes(bytes)
            case .percent(let percent)? where percent > 0: fault.size = .percent(Double(percent))
            case .bytes?, .percent?: throw Self.invalid("size", "\"\(size.text)\" must be above 0")
            case nil: throw Self.invalid("size", "\"\(size.text)\" is not a size")
            }
        default:
            throw Self.invalid("action", "\"\(action)\" is not cpu or mem")
        }
        fault.workers = try Self.integer("workers", workers, in: 1...8192) ?? 1
        fault.stressNGOptions = options ?? []
        return PlannedFault(fault, injector: StressFaultInjector(), action: "stress \(fault.action.rawValue)", summary: fault.summary)
    }
}

