import ArgumentParser
import Foundation
import TumultModel

/// `tumult describe KIND/NAME`: everything the server knows of one
/// experiment or schedule, as `kubectl describe` lays it out; with
/// `--kubeconfig`, the cluster's object with its status and Events.
struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an experiment's or a schedule's status, per-target records, spec and events.",
        discussion: "KIND is a Chaos Mesh kind in any case (networkchaos, podchaos, ...) or schedule."
    )

    @OptionGroup var objects: ObjectArguments
    @OptionGroup var server: ServerOptions
    @OptionGroup var cluster: ClusterOptions

    func validate() throws {
        try cluster.check(against: server)
    }

    func run() async throws {
        try await cluster.withSource(server: server) { client in
            var first = true
            try await objects.forEach(client: client) { reference, uid in
                let detail = try await client.detail(reference.collection, uid: uid).item
                let events = try await client.events(namespace: nil, name: nil, objectID: uid, limit: nil).map(\.item)
                if !first { print("") }
                first = false
                print(Printing.describe(detail, events: events, now: Date()), terminator: "")
            }
        }
    }
}
