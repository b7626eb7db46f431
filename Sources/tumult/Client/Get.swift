import ArgumentParser
import Foundation
import TumultModel

/// `tumult get`: lists what the server holds, as `kubectl get` does.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "List experiments, schedules, workflows, status checks, events, pods, machines or archives held by `tumult server`.",
        discussion: """
            Without -n or -A, experiments, schedules, workflows, status checks, events and archives of the \
            default namespace are listed (pods and machines: every namespace). -w prints the list, then every \
            change until Ctrl-C.
            """
    )

    /// What `get` lists; singular spellings are accepted too.
    enum Resource: String, CaseIterable, ExpressibleByArgument {
        case experiments, schedules, workflows, statuschecks, events, pods, machines, archives

        init?(argument: String) {
            let lowered = argument.lowercased()
            guard let match = Self.allCases.first(where: { lowered == $0.rawValue || lowered + "s" == $0.rawValue }) else {
                return nil
            }
            self = match
        }
    }

    enum OutputFormat: String, CaseIterable, ExpressibleByArgument {
        case json, yaml, wide
    }

    @Argument(help: ArgumentHelp("What to list: experiments, schedules, workflows, statuschecks, events, pods, machines or archives.",
                                 valueName: "resource"))
    var resource: Resource

    @Argument(help: ArgumentHelp("Only the object with this name (events: of the object with this name).", valueName: "name"))
    var name: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("The namespace to list (default: default; pods: all).", valueName: "namespace"))
    var namespace: String?

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "List every namespace.")
    var allNamespaces = false

    @Option(name: .shortAndLong, help: "Output format: json or yaml (the server's objects), or wide (more columns).")
    var output: OutputFormat?

    @Flag(name: .shortAndLong, help: "After listing, poll every second and print what changed, until Ctrl-C.")
    var watch = false

    @Option(name: .customLong("watch-timeout"),
            help: ArgumentHelp("Stop watching after this long (e.g. 30s, 5m) instead of at Ctrl-C.", valueName: "duration"))
    var watchTimeout: String?

    @OptionGroup var server: ServerOptions
    @OptionGroup var cluster: ClusterOptions

    func validate() throws {
        try cluster.check(against: server)
        if cluster.kubeconfig != nil && (resource == .archives || resource == .machines) {
            throw ValidationError("--kubeconfig: \(resource.rawValue) are `tumult server`'s; a cluster has neither (`kubectl get nodes` lists its machines).")
        }
        if cluster.kubeconfig != nil && (resource == .workflows || resource == .statuschecks) {
            throw ValidationError("--kubeconfig: \(resource.rawValue) are read through `tumult server` only "
                                  + "(`kubectl get \(resource.rawValue).chaos-mesh.org` lists a cluster's).")
        }
        if namespace != nil && allNamespaces { throw ValidationError("Give -n NAMESPACE or -A, not both.") }
        if let watchTimeout {
            guard watch else { throw ValidationError("--watch-timeout only applies with -w.") }
            guard let parsed = try? GoDuration(parsing: watchTimeout), parsed.nanoseconds > 0 else {
                throw ValidationError("--watch-timeout: \"\(watchTimeout)\" is not a positive duration (e.g. 30s, 5m).")
            }
        }
    }

    /// The namespace to ask for; nil asks for all of them.
    var namespaceFilter: String? {
        if allNamespaces { return nil }
        if resource == .pods || resource == .machines { return namespace }
        return namespace ?? "default"
    }

    var columns: ListingColumns {
        ListingColumns(allNamespaces: namespaceFilter == nil && resource != .pods && resource != .machines, wide: output == .wide)
    }

    func run() async throws {
        try await cluster.withSource(server: server) { client in try await show(client: client) }
    }

    func show(client: some ObjectSource) async throws {
        if watch {
            try await watchListing(client: client)
            return
        }
        let listing = try await fetch(client: client, now: Date())
        switch output {
        case .json, .yaml:
            // One named object prints as itself, like `kubectl get KIND NAME -o json`.
            let documents = listing.entries.map(\.json)
            let value = name != nil && documents.count == 1 ? documents[0] : .array(documents)
            print(output == .json ? Printing.json(value) : try Printing.yaml(value), terminator: "")
        case .wide, nil:
            if listing.entries.isEmpty {
                printError(namespaceFilter.map { "No resources found in \($0) namespace." } ?? "No resources found.")
            } else {
                print(listing.table.render(), terminator: "")
            }
        }
    }

    /// Prints the list, then every entry that changes, once a second.
    func watchListing(client: some ObjectSource) async throws {
        let deadline = watchTimeout.flatMap { try? GoDuration(parsing: $0) }.map { Date().addingTimeInterval($0.seconds) }
        var state = WatchState()
        var widths: [Int] = []
        var headerPrinted = false
        var firstDocument = true
        while true {
            let listing = try await fetch(client: client, now: Date())
            let changed = state.changes(in: listing)
            switch output {
            case .json, .yaml:
                for entry in changed {
                    if output == .json {
                        print(Printing.json(entry.json), terminator: "")
                    } else {
                        if !firstDocument { print("---") }
                        print(try Printing.yaml(entry.json), terminator: "")
                    }
                    firstDocument = false
                }
            case .wide, nil:
                let rows = changed.map(\.cells)
                if !headerPrinted {
                    widths = TextTable.widths(of: [listing.headers] + rows)
                    print(TextTable.line(listing.headers, widths: widths))
                    headerPrinted = true
                }
                // Later rows keep the first widths, growing only when a cell needs it.
                for row in rows {
                    widths = TextTable.widths(widths, fitting: row)
                    print(TextTable.line(row, widths: widths))
                }
            }
            fflush(nil)
            let pause = deadline.map { min(1, $0.timeIntervalSinceNow) } ?? 1
            if pause <= 0 { return }
            try await Task.sleep(for: .seconds(pause))
            if let deadline, deadline.timeIntervalSinceNow <= 0 { return }
        }
    }

    /// One poll of the server, as a listing. With a NAME and `-o json|yaml`,
    /// experiments, schedules, workflows, status checks and archives carry
    /// their full detail.
    func fetch(client: some ObjectSource, now: Date) async throws -> Listing {
        let namespace = namespaceFilter
        let wantsDetail = name != nil && (output == .json || output == .yaml)
        var listing: Listing
        switch resource {
        case .experiments, .schedules:
            let collection: ObjectCollection = resource == .experiments ? .experiments : .schedules
            var items = try await client.list(collection, namespace: namespace, name: name, kind: nil)
            items = items.filter { named($0.item.name) && inNamespace($0.item.namespace) }
            if wantsDetail { items = try await withDetail(items, collection: collection, client: client) }
            listing = resource == .experiments
                ? Printing.experiments(items, columns: columns, now: now)
                : Printing.schedules(items, columns: columns, now: now)
        case .archives:
            var items = try await client.archives(namespace: namespace, name: name)
            items = items.filter { named($0.item.name) && inNamespace($0.item.namespace) }
            if wantsDetail { items = try await withDetail(items, collection: .archives, client: client) }
            listing = Printing.archives(items, columns: columns, now: now)
        case .workflows:
            var items = try await client.workflows(namespace: namespace, status: nil)
            items = items.filter { named($0.item.name) && inNamespace($0.item.namespace) }
            if wantsDetail { items = try await withDetail(items, fetching: { try await client.workflow(uid: $0).json }) }
            listing = Printing.workflows(items, columns: columns, now: now)
        case .statuschecks:
            var items = try await client.statusChecks(namespace: namespace)
            items = items.filter { named($0.item.name) && inNamespace($0.item.namespace) }
            if wantsDetail { items = try await withDetail(items, fetching: { try await client.statusCheck(uid: $0).json }) }
            listing = Printing.statusChecks(items, columns: columns, now: now)
        case .events:
            let items = try await client.events(namespace: namespace, name: name, objectID: nil, limit: nil)
                .filter { named($0.item.name ?? "") && inNamespace($0.item.namespace ?? "") }
            listing = Printing.events(items, columns: columns, now: now)
        case .pods:
            let items = try await client.pods().filter { named($0.item.name) && inNamespace($0.item.namespace) }
            listing = Printing.pods(items, columns: columns)
        case .machines:
            let items = try await client.machines().filter { named($0.item.name) && inNamespace($0.item.namespace) }
            listing = Printing.machines(items, columns: columns)
        }
        if let name, listing.entries.isEmpty, resource != .events {
            let place = namespace.map { " in namespace \"\($0)\"" } ?? ""
            throw ClientError.notFound("\(resource.rawValue) \"\(name)\" not found\(place)")
        }
        return listing
    }

    /// The items with the JSON of their detail (`GET /api/.../:uid`), which
    /// is what `-o json|yaml` prints for a named object.
    func withDetail<Item>(_ items: [Received<Item>], collection: ObjectCollection,
                          client: some ObjectSource) async throws -> [Received<Item>] where Item: Identified {
        try await withDetail(items, fetching: { uid in try await client.detail(collection, uid: uid).json })
    }

    /// The items with the JSON `detail` gives for each uid.
    func withDetail<Item>(_ items: [Received<Item>],
                          fetching detail: (String) async throws -> Value) async throws -> [Received<Item>] where Item: Identified {
        var detailed: [Received<Item>] = []
        for received in items {
            detailed.append(Received(item: received.item, json: try await detail(received.item.uid)))
        }
        return detailed
    }

    /// The server's filters may match loosely; the CLI's match exactly.
    func named(_ candidate: String) -> Bool { name.map { $0 == candidate } ?? true }
    func inNamespace(_ candidate: String) -> Bool { namespaceFilter.map { $0 == candidate } ?? true }
}

/// Objects the server keeps under a uid.
protocol Identified {
    var uid: String { get }
}

extension ExperimentItem: Identified {}
extension ArchiveItem: Identified {}
