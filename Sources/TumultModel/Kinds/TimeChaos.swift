// STUB: to be replaced
public struct TimeChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.timeChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
