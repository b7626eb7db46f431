// STUB: to be replaced
public struct KernelChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.kernelChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
