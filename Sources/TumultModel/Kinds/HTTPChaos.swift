// STUB: to be replaced
public struct HTTPChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.httpChaos
    public var duration: GoDuration?
    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {}
}
