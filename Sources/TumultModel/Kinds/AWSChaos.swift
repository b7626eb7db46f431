/// AWSChaos: stops or restarts an EC2 instance, or detaches an EBS volume
/// from it, through the AWS API.
public struct AWSChaosSpec: ChaosSpec {
    public static let kind = ChaosKind.awsChaos

    public enum Action: String, ChaosEnum {
        case ec2Stop = "ec2-stop"
        case ec2Restart = "ec2-restart"
        case detachVolume = "detach-volume"
    }

    public var action: Action
    public var duration: GoDuration?
    /// The Kubernetes secret holding the AWS credentials; default: the
    /// controller's own credentials.
    public var secretName: String?
    /// The AWS API endpoint; only used in tests.
    public var endpoint: String?
    public var awsRegion: String
    public var ec2Instance: String
    /// The EBS volume to detach (`detach-volume` only).
    public var volumeID: String?
    /// The device name the volume is attached as, e.g. `/dev/sdf` (`detach-volume` only).
    public var deviceName: String?
    public var remoteCluster: String?

    public init(action: Action, awsRegion: String, ec2Instance: String) {
        self.action = action
        self.awsRegion = awsRegion
        self.ec2Instance = ec2Instance
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)
        if action == .detachVolume {
            for (field, value, what) in [("volumeID", volumeID, "the ID of the EBS volume"),
                                         ("deviceName", deviceName, "the name of the device")] {
                if (value ?? "").isEmpty && !diagnostics.hasError(touching: path.child(field)) {
                    diagnostics.error(path.child(field), "required when action is detach-volume (\(what))")
                }
            }
        }
    }
}
