// STUB: to be replaced
public struct PhysicalMachineSpec: ChaosSpec {
    public static let kind = ChaosKind.physicalMachine
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
