// STUB: to be replaced
public struct BlockChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.blockChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
