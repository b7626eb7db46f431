// STUB: to be replaced
public struct PhysicalMachineChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.physicalMachineChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
