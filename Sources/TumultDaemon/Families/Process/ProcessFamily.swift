import TumultFaults

/// Signals to processes and frozen pods: PodChaos, chaosd's `process`, PhysicalMachineChaos `process`.
enum ProcessFamily: FaultFamily {
    static func register(into registry: inout FamilyRegistry) {
        registry.register(injector: ProcessFaultInjector())
        registry.register(translator: PodChaosTranslator())
        registry.register(chaosd: "process", ChaosdProcessCommand.self, machineActions: ["process"])
    }
}
