import TumultFaults

/// Full disks and disk payloads: chaosd's `disk`, PhysicalMachineChaos `disk-*`.
enum DiskFamily: FaultFamily {
    static func register(into registry: inout FamilyRegistry) {
        registry.register(injector: DiskFaultInjector(detachWorkers: registry.options.detachHelpers))
        registry.register(chaosd: "disk", ChaosdDiskCommand.self,
                          machineActions: ["disk-fill", "disk-write-payload", "disk-read-payload"])
    }
}
