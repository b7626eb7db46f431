/// GCPChaos: stops or resets a Compute Engine instance, or detaches disks
/// from it, through the GCP API.
public struct GCPChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.gcpChaos

    public enum Action: String, ChaosEnum {
        case nodeStop = "node-stop"
        case nodeReset = "node-reset"
        case diskLoss = "disk-loss"
    }

    public var action: Action
    public var duration: GoDuration?
    /// The Kubernetes secret holding the GCP credentials.
    public var secretName: String?
    public var project: String
    public var zone: String
    public var instance: String
    /// The device names of the disks to detach (`disk-loss` only).
    public var deviceNames: [String]?
    public var remoteCluster: String?

    public init(action: Action, project: String, zone: String, instance: String) {
        self.action = action
        self.project = project
        self.zone = zone
        self.instance = instance
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        if action == .diskLoss && (deviceNames ?? []).isEmpty
            && !diagnostics.hasError(touching: path.child("deviceNames")) {
            diagnostics.error(path.child("deviceNames"),
                              "at least one device name is required when action is disk-loss")
        }
    }
}
