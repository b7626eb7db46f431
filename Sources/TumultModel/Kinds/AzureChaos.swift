// STUB: to be replaced
public struct AzureChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.azureChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
