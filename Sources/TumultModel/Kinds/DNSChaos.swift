// STUB: to be replaced
public struct DNSChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.dnsChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
