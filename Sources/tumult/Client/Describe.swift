import ArgumentParser
import Foundation
import TumultModel

/// `tumult describe KIND/NAME`: everything the server knows of one
/// experiment, schedule, workflow or status check, as `kubectl describe`
/// lays it out; with `--kubeconfig`, the cluster's object with its status
/// and Events.
struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show an experiment's, a schedule's, a workflow's or a status check's status, records, spec and events.",
        discussion: """
            KIND is a Chaos Mesh kind in any case (networkchaos, podchaos, ...), schedule, workflow or statuscheck. \
            A workflow's nodes print as a tree under their parents.
            """
    )

    @OptionGroup var objects: ObjectArguments
    @OptionGroup var server: ServerOptions
    @OptionGroup var cluster: ClusterOptions

    func validate() throws {
        try cluster.check(against: server)
        if cluster.kubeconfig != nil, let reference = objects.references.first(where: \.needsServer) {
            throw ValidationError("--kubeconfig: \(reference.kindName)s are read through `tumult server` only "
                                  + "(`kubectl describe \(reference.kindName)s.chaos-mesh.org \(reference.name)` describes a cluster's).")
        }
    }

    func run() async throws {
        try await cluster.withSource(server: server) { client in
            var first = true
            try await objects.forEach(client: client) { reference, uid in
                let text = try await Self.describe(reference, uid: uid, client: client, now: Date())
                if !first { print("") }
                first = false
                print(text, terminator: "")
            }
        }
    }

    /// The description of one object found by its uid, with its events.
    static func describe(_ reference: ObjectReference, uid: String, client: some ObjectSource, now: Date) async throws -> String {
        switch reference.kind {
        case .workflow:
            let detail = try await client.workflow(uid: uid).item
            let events = try await client.events(namespace: nil, name: nil, objectID: uid, limit: Printing.workflowEventsShown)
            return Printing.describe(detail, events: events.map(\.item), now: now)
        case .statusCheck:
            let detail = try await client.statusCheck(uid: uid).item
            let events = try await client.events(namespace: nil, name: nil, objectID: uid, limit: Printing.workflowEventsShown)
            return Printing.describe(detail, events: events.map(\.item), now: now)
        case .experiment, .schedule:
            let detail = try await client.detail(reference.collection, uid: uid).item
            let events = try await client.events(namespace: nil, name: nil, objectID: uid, limit: nil)
            return Printing.describe(detail, events: events.map(\.item), now: now)
        }
    }
}
