import TumultFaults

/// CPU and memory pressure: StressChaos, chaosd's `stress`, PhysicalMachineChaos `stress-*`.
enum StressFamily: FaultFamily {
    static func register(into registry: inout FamilyRegistry) {
        registry.register(injector: StressFaultInjector(detachWorkers: registry.options.detachHelpers))
        registry.register(translator: StressChaosTranslator())
        registry.register(chaosd: "stress", ChaosdStressCommand.self, machineActions: ["stress-cpu", "stress-mem"])
    }
}
