// STUB: to be replaced
public struct StressChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.stressChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
