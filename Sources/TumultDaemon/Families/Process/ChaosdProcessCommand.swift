import Foundation
import TumultAgent
import TumultFaults
import TumultModel
import TumultSystem

/// `POST /api/attack/process`: `process` is a name or a pid.
struct ChaosdProcessCommand: ChaosdCommand {
    /// `kill` or `stop`; absent in what Chaos Mesh sends (its `process`
    /// action has no sub-action): then SIGSTOP stops and any other signal kills.
    var action: String?
    var process: String?
    var signal: ChaosdNumber?
    var netns: String?

    /// The text of `process` when it is a number (a pid, however wrong).
    var pidText: Int64? {
        guard let process, !process.isEmpty else { return nil }
        let digits = process.hasPrefix("-") ? process.dropFirst() : Substring(process)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int64(process) ?? (process.hasPrefix("-") ? Int64.min : Int64.max)
    }

    func checkedTarget() throws(AgentError) -> ProcessTarget {
        switch (process.flatMap { $0.isEmpty ? nil : $0 }, netns) {
        case (_?, _?): throw Self.invalid("netns", "give process or netns, not both")
        case (let process?, nil):
            if let pid = pidText { return .pid(try Self.process("process", pid)) }
            return .name(process)
        case (nil, let netns?): return .networkNamespace(try Self.networkNamespace("netns", netns))
        case (nil, nil): throw Self.invalid("process", "required: a process name or pid (or netns)")
        }
    }

    var target: ProcessTarget? { try? checkedTarget() }

    var targetDescription: String { target?.description ?? "" }

    var hostChecks: [ChaosdHost.Check] {
        switch target {
        case .pid(let pid)?: [.process(field: "process", pid: pid)]
        case .networkNamespace(let name)?:
            [.networkNamespace(field: "netns", name: name), .processes(field: "netns", target: .networkNamespace(name))]
        case .name(let name)?: [.processes(field: "process", target: .name(name))]
        default: []
        }
    }

    func planned() throws(AgentError) -> PlannedFault {
        let target = try checkedTarget()
        var fault: ProcessFault
        let action = self.action.flatMap { $0.isEmpty ? nil : $0 }
            ?? ((try? Self.integer("signal", signal, in: Int32(1)...64)) == SIGSTOP ? "stop" : "kill")
        switch action {
        case "kill":
            fault = ProcessFault(action: .kill, target: target)
            fault.signal = try Self.integer("signal", signal, in: Int32(1)...64) ?? SIGKILL
        case "stop": fault = ProcessFault(action: .stop, target: target)
        default: throw Self.invalid("action", "\"\(action)\" is not kill or stop")
        }
        return PlannedFault(fault, injector: ProcessFaultInjector(), action: "process \(action)", summary: fault.summary)
    }
}

