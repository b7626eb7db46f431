// STUB: to be replaced
public struct JVMChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.jvmChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
