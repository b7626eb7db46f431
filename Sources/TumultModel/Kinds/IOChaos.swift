// STUB: to be replaced
public struct IOChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.ioChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
