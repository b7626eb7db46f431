import Foundation
import TumultAgent
import TumultFaults
import TumultModel

/// `POST /api/attack/clock` (chaosd's clock attack, PhysicalMachineChaos
/// `clock`): `pid`, `time-offset` (a Go duration), `clock-ids-slice`
/// (comma-separated clock names; default CLOCK_REALTIME).
struct ChaosdClockCommand: ChaosdCommand {
    var pid: ChaosdNumber?
    var timeOffset: String?
    var clockIdsSlice: String?

    enum CodingKeys: String, CodingKey {
        case pid
        case timeOffset = "time-offset", clockIdsSlice = "clock-ids-slice"
    }

    var targetDescription: String { pid.map { "pid \($0)" } ?? "no process" }

    var hostChecks: [ChaosdHost.Check] {
        guard let pid, let value = Int32(exactly: pid.value) else { return [] }
        return [.process(field: "pid", pid: value)]
    }

    func planned() throws(AgentError) -> PlannedFault {
        guard let pid else { throw Self.invalid("pid", "required: the process whose clocks to shift") }
        let process = try Self.process("pid", pid)
        guard let offset = try Self.parse("time-offset", timeOffset, { try GoDuration(parsing: $0) }) else {
            throw Self.invalid("time-offset", "required: how far to shift the clocks (e.g. -10m)")
        }
        guard offset.nanoseconds != 0 else { throw Self.invalid("time-offset", "\"\(offset)\" shifts nothing") }
        let clocks = try Self.clocks(clockIdsSlice)
        let fault = TimeFault(target: .pid(process), offsetNanoseconds: offset.nanoseconds, clocks: clocks)
        return PlannedFault(fault, injector: TimeFaultInjector(), action: "time skew",
                            summary: "time skew \(fault.summary) of pid \(process)")
    }

    /// Clock names separated by commas; none: CLOCK_REALTIME.
    static func clocks(_ text: String?) throws(AgentError) -> [ClockID] {
        let names = (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var clocks: [ClockID] = []
        for name in names {
            guard let clock = ClockID(rawValue: name) else {
                throw invalid("clock-ids-slice", "\"\(name)\" is not a clock (one of \(ClockID.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            clocks.append(clock)
        }
        return clocks.isEmpty ? [.realtime] : clocks
    }
}
