/// An injector whose fault can change while it runs, without undoing it:
/// the toxics of a TCP fault, changed between the test cases of a suite
/// (Toxiproxy's live API) while the target's connections stay open.
public protocol ReconfigurableInjector: FaultInjector {
    /// Makes the running fault that `steps` recorded become `fault`, in
    /// place. Throws `invalidFault` for a change that cannot be made in
    /// place (another target, another port); the fault is then unchanged.
    func reconfigure(_ steps: [UndoStep], to fault: Fault, attack: String) throws
}
