import TumultFaults

/// Packet faults: NetworkChaos, chaosd's `network`, PhysicalMachineChaos `network-*`.
enum NetworkFamily: FaultFamily {
    static func register(into registry: inout FamilyRegistry) {
        registry.register(injector: NetworkFaultInjector(detachEngine: registry.options.detachHelpers))
        registry.register(translator: NetworkChaosTranslator())
        registry.register(chaosd: "network", ChaosdNetworkCommand.self,
                          machineActions: ["network-delay", "network-loss", "network-duplicate", "network-corrupt",
                                           "network-partition", "network-bandwidth"])
        registry.register(census: { NetworkCensus.samples($0) })
    }
}
