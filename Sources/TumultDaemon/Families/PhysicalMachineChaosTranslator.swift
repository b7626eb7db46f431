import Foundation
import TumultAgent
import TumultFaults
import TumultModel

/// PhysicalMachineChaos on this machine: the action's sub-object becomes
/// the body Chaos Mesh would POST to chaosd (its fields at the top level,
/// `action` the part after the first `-`), read by the family that takes
/// that chaosd path — so an action runs exactly as the same request to
/// `POST /api/attack/...` would.
struct PhysicalMachineChaosTranslator: FaultTranslator {
    typealias Spec = PhysicalMachineChaosSpec

    let machineActions: [String: FamilyRegistry.MachineAction]
    let chaosd: [String: any ChaosdCommand.Type]

    func faults(for spec: Spec, target: Pod, peers: [Pod], options: TranslationOptions) throws -> [PlannedFault] {
        guard let route = machineActions[spec.action.rawValue], let type = chaosd[route.family] else {
            throw FaultError(.unsupported, "PhysicalMachineChaos action \(spec.action.rawValue) is not supported by this daemon "
                             + "(supported: \(machineActions.keys.sorted().joined(separator: ", ")))")
        }
        let body = try Self.body(of: spec, action: route.action)
        let command = try ChaosdCommands.decode(type, from: body, kind: route.family)
        try ChaosdHost().verify(command.hostChecks)
        return [try command.planned()]
    }

    /// The chaosd body: the action's sub-object as the document holds it,
    /// plus `action` when there is a sub-action (Chaos Mesh's `ExpInfo`).
    static func body(of spec: Spec, action: String?) throws -> Data {
        guard case .object(let fields)? = try ValueEncoder().encode(spec).objectValue?[spec.action.rawValue] else {
            throw AgentError.field("spec.\(spec.action.rawValue)", "required when action is \(spec.action.rawValue)")
        }
        var body = fields
        if let action { body["action"] = .string(action) }
        if let uid = spec.uid { body["uid"] = .string(uid) }
        return try JSONEncoder().encode(Value.object(body))
    }
}
