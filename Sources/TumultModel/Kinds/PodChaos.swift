// STUB: to be replaced
public struct PodChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.podChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
