// STUB: to be replaced
public struct AWSChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.awsChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
