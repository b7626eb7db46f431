/// What the controller wants an experiment to be doing (`status.experiment.desiredPhase`).
public enum DesiredPhase: String, ChaosEnum {
    case run = "Run"
    case stop = "Stop"
}
