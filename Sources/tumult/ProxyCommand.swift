import ArgumentParser
import Foundation
import TumultFaults

/// `tumult proxy`: the transparent proxy of a TCP or HTTP fault, started
/// by the injector inside the target's network namespace. Hidden: not for users.
struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Relay a fault's redirected TCP connections through its toxics and HTTP rules.",
        shouldDisplay: false
    )

    nonisolated(unsafe) static var terminated: Int32 = 0
    nonisolated(unsafe) static var reload: Int32 = 0
    nonisolated(unsafe) static var drainRequested: Int32 = 0

    @Option(help: ArgumentHelp("The port to take redirected connections on (all addresses).", valueName: "port"))
    var listen: Int

    @Option(name: .customLong("config"), help: ArgumentHelp("The configuration file (read again on SIGHUP).", valueName: "path"))
    var configuration: String

    @Option(help: ArgumentHelp("Where to write the generation in force and the counters.", valueName: "path"))
    var state: String?

    @Option(name: .customLong("drain-seconds"), help: "On SIGTERM, how long open connections may finish.")
    var drainSeconds: Double = 3

    @Flag(name: .customLong("die-with-parent"), help: "Exit when the process that started this one exits.")
    var dieWithParent = false

    func run() throws {
        let parent = getppid()
        signal(SIGTERM) { _ in ProxyCommand.terminated = 1 }
        signal(SIGINT) { _ in ProxyCommand.terminated = 1 }
        signal(SIGHUP) { _ in ProxyCommand.reload = 1 }
        signal(SIGUSR1) { _ in ProxyCommand.drainRequested = 1 }
        signal(SIGPIPE, SIG_IGN)
        let proxy = try TransparentProxy(TransparentProxy.Options(listenPort: listen, configurationPath: configuration,
                                                                  statePath: state))
        HelperReady.announce(proxy.families.joined(separator: " "))
        var ticks = 0
        while Self.terminated == 0 {
            if dieWithParent && getppid() != parent {
                proxy.shutdown()
                return
            }
            if Self.reload != 0 {
                Self.reload = 0
                try? proxy.reload()
            }
            if Self.drainRequested != 0 && !proxy.isDraining { proxy.beginDrain() }
            usleep(20_000)
            ticks += 1
            // Recovery waits on the open count while draining: then it is written every tick.
            if ticks % 25 == 0 || proxy.isDraining { proxy.writeState() }
        }
        // Recovery drained first (SIGUSR1) and then removed the redirect:
        // what is still open cannot be finished any more.
        if !proxy.isDraining { proxy.drain(timeout: drainSeconds) }
        proxy.shutdown()
    }
}
