import TumultFaults

/// Skewed clocks through a patched vDSO: TimeChaos, chaosd's `clock` attack
/// and PhysicalMachineChaos `clock`.
enum TimeFamily: FaultFamily {
    static func register(into registry: inout FamilyRegistry) {
        registry.register(injector: TimeFaultInjector())
        registry.register(translator: TimeChaosTranslator())
        registry.register(chaosd: "clock", ChaosdClockCommand.self, machineActions: ["clock"])
    }
}
