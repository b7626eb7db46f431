import TumultFaults

/// File-system faults through Tumult's FUSE layer: IOChaos.
enum IOFamily: FaultFamily {
    static func register(into registry: inout FamilyRegistry) {
        registry.register(injector: IOFaultInjector())
        registry.register(translator: IOChaosTranslator())
    }
}
