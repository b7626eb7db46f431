/// AzureChaos: stops or restarts an Azure virtual machine, or detaches a
/// data disk from it, through the Azure API.
public struct AzureChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.azureChaos

    public enum Action: String, ChaosEnum {
        case vmStop = "vm-stop"
        case vmRestart = "vm-restart"
        case diskDetach = "disk-detach"
    }

    public var action: Action
    public var duration: GoDuration?
    public var subscriptionID: String
    public var resourceGroupName: String
    public var vmName: String
    /// The data disk to detach (`disk-detach` only).
    public var diskName: String?
    /// The logical unit number of that data disk (`disk-detach` only).
    public var lun: Int?
    /// The Kubernetes secret holding the Azure credentials.
    public var secretName: String?
    public var remoteCluster: String?

    public init(action: Action, subscriptionID: String, resourceGroupName: String, vmName: String) {
        self.action = action
        self.subscriptionID = subscriptionID
        self.resourceGroupName = resourceGroupName
        self.vmName = vmName
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        guard action == .diskDetach else { return }
        if (diskName ?? "").isEmpty && !diagnostics.hasError(touching: path.child("diskName")) {
            diagnostics.error(path.child("diskName"),
                              "required when action is disk-detach (the name of the data disk)")
        }
        if lun == nil && !diagnostics.hasError(touching: path.child("lun")) {
            diagnostics.error(path.child("lun"),
                              "required when action is disk-detach (the LUN of the data disk)")
        }
        if let lun, lun < 0 && !diagnostics.hasError(touching: path.child("lun")) {
            diagnostics.error(path.child("lun"), "\(lun) must not be negative: a LUN is from 0 up")
        }
    }
}
