// STUB: to be replaced
public struct GCPChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.gcpChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
