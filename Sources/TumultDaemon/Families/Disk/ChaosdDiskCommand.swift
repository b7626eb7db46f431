import Foundation
import TumultAgent
import TumultFaults
import TumultModel
import TumultSystem

/// `POST /api/attack/disk`.
struct ChaosdDiskCommand: ChaosdCommand {
    var action: String
    var size: String?
    var path: String?
    var percent: String?
    var payloadProcessNum: ChaosdNumber?
    var fillByFallocate: Bool?

    enum CodingKeys: String, CodingKey {
        case action, size, path, percent
        case payloadProcessNum = "payload-process-num", fillByFallocate = "fill-by-fallocate"
    }

    var directory: String { (path?.isEmpty == false ? path : nil) ?? "/tmp" }
    var targetDescription: String { directory }
    var hostChecks: [ChaosdHost.Check] { [.directory(field: "path", path: directory)] }

    func planned() throws(AgentError) -> PlannedFault {
        if let problem = HostNames.problem(withPath: directory) { throw Self.invalid("path", problem) }
        var fault: DiskFault
        switch action {
        case "fill":
            fault = DiskFault(action: .fill, directory: directory)
            fault.size = try Self.parse("size", size) { try ChaosdSize(parsing: $0).bytes }
            fault.percent = try Self.parse("percent", percent) { try Percentage(parsing: $0).value }
            fault.fillByFallocate = fillByFallocate ?? true
            guard fault.size != nil || fault.percent != nil else { throw Self.invalid("size", "size or percent is required for fill") }
            guard fault.size == nil || fault.percent == nil else { throw Self.invalid("percent", "give size or percent, not both") }
            if fault.size == 0 { throw Self.invalid("size", "\"\(size ?? "")\" must be above 0") }
            if fault.percent == 0 { throw Self.invalid("percent", "\"\(percent ?? "")\" must be above 0") }
        case "write-payload", "read-payload":
            fault = DiskFault(action: .payload, directory: directory)
            fault.mode = action == "read-payload" ? .read : .write
            guard let bytes = try Self.parse("size", size, { try ChaosdSize(parsing: $0).bytes }) else {
                throw Self.invalid("size", "required for \(action)")
            }
            guard bytes > 0 else { throw Self.invalid("size", "\"\(size ?? "")\" must be above 0") }
            if percent?.isEmpty == false { throw Self.invalid("percent", "\(action) takes a size, not a percent") }
            fault.size = bytes
            fault.processes = try Self.integer("payload-process-num", payloadProcessNum, in: 1...255) ?? 1
        default:
            throw Self.invalid("action", "\"\(action)\" is not fill, write-payload or read-payload")
        }
        return PlannedFault(fault, injector: DiskFaultInjector(), action: "disk \(action)", summary: fault.summary)
    }
}

