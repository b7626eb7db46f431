import Foundation
import Hummingbird
import TumultController
import TumultModel

/// Toxiproxy's live toxics API over a running TCPChaos, so that a test
/// suite changes toxics between its test cases without restarting
/// anything: list, add, read, update and remove a toxic by name. Each
/// change edits the experiment's `spec.toxics`, is validated as the whole
/// document would be (problems named by their field path), and reaches the
/// targets through the controller's `reconfigure`: the proxies are told
/// the new toxics and their connections keep going.
///
/// Answers are Toxiproxy's shape (`name`, `type`, `stream`, `toxicity`,
/// `attributes`) with every value in effect filled in: a toxic's name, its
/// stream and toxicity defaults, and each attribute its type reads (0 when
/// not given, as Toxiproxy shows them).
struct ToxicRoutes: Sendable {
    let parts: ServerParts
    var experiments: any ExperimentService { parts.experiments }
    /// One change at a time: each reads the document, edits its toxics and
    /// reconfigures, so two at once would lose one of them.
    let edits = AsyncGate(slots: 1)

    /// A toxic is a few fields; nothing larger is one.
    static let bodyLimit = 64 << 10
    static let collection = "/api/tcpchaos/:namespace/:name/toxics"
    static let member = collection + "/:toxic"

    func register(on router: Router<BasicRequestContext>) {
        router.get(RouterPath(Self.collection)) { _, context in
            let (namespace, name) = try Self.experimentName(context)
            let record = try await tcpChaos(namespace, name)
            return JSONResponse.make(Self.toxics(of: record.document).map(\.effective))
        }
        router.post(RouterPath(Self.collection)) { request, context in
            let (namespace, name) = try Self.experimentName(context)
            let body = try await Self.toxicBody(request)
            return try await edits.run { try await add(body, to: namespace, name) }
        }
        router.get(RouterPath(Self.member)) { _, context in
            let (namespace, name) = try Self.experimentName(context)
            let toxic = try context.parameters.require("toxic")
            let record = try await tcpChaos(namespace, name)
            let toxics = Self.toxics(of: record.document)
            return JSONResponse.make(toxics[try Self.position(of: toxic, in: toxics, namespace, name)].effective)
        }
        router.post(RouterPath(Self.member)) { request, context in
            let (namespace, name) = try Self.experimentName(context)
            let toxic = try context.parameters.require("toxic")
            let body = try await Self.toxicBody(request)
            return try await edits.run { try await update(toxic, with: body, in: namespace, name) }
        }
        router.delete(RouterPath(Self.member)) { _, context in
            let (namespace, name) = try Self.experimentName(context)
            let toxic = try context.parameters.require("toxic")
            return try await edits.run { try await remove(toxic, from: namespace, name) }
        }
    }

    // MARK: Changes

    /// Adds a toxic at the end of the chain; its name (given, or
    /// Toxiproxy's `TYPE_STREAM`) must be new. The default name is written
    /// into the document, so that a later update of its stream keeps it.
    func add(_ body: Value.Object, to namespace: String, _ name: String) async throws -> Response {
        var toxic = body
        let existing = Self.toxics(of: try await tcpChaos(namespace, name).document).map(\.effectiveName)
        let given = body["name"]?.stringValue ?? Self.decode(body)?.effectiveName
        if let given {
            if existing.contains(given) {
                throw APIError(.conflict, "Conflict", "toxic \(given) already exists on TCPChaos \(namespace)/\(name)")
            }
            toxic["name"] = .string(given)
        }
        let (toxics, warnings) = try await change(namespace, name) { values in values.append(.object(toxic)) }
        return APIRoutes.addingWarningHeaders(warnings, to: JSONResponse.make(toxics[toxics.count - 1].effective))
    }

    /// Toxiproxy's update: `toxicity` and `stream` given replace those,
    /// `attributes` merge key by key (null removes one); the name and type stay.
    func update(_ toxicName: String, with body: Value.Object, in namespace: String, _ name: String) async throws -> Response {
        let current = Self.toxics(of: try await tcpChaos(namespace, name).document)
        let position = try Self.position(of: toxicName, in: current, namespace, name)
        if let given = body["name"], given != .string(toxicName) {
            throw APIError(.badRequest, "ValidationError", "name: a toxic's name cannot change (remove it and add another)",
                           errors: [.init(path: "name", message: "a toxic's name cannot change (remove it and add another)")])
        }
        if let given = body["type"], given != .string(current[position].type.rawValue) {
            throw APIError(.badRequest, "ValidationError", "type: a toxic's type cannot change (remove it and add another)",
                           errors: [.init(path: "type", message: "a toxic's type cannot change (remove it and add another)")])
        }
        let (toxics, warnings) = try await change(namespace, name) { values in
            var toxic = values[position].objectValue ?? Value.Object()
            toxic["name"] = .string(toxicName)
            for (key, value) in body.pairs where key != "name" && key != "type" {
                if key == "attributes", case .object(let given) = value {
                    var attributes = toxic["attributes"]?.objectValue ?? Value.Object()
                    for (attribute, setting) in given.pairs { attributes[attribute] = setting == .null ? nil : setting }
                    toxic["attributes"] = .object(attributes)
                } else {
                    toxic[key] = value == .null ? nil : value
                }
            }
            values[position] = .object(toxic)
        }
        return APIRoutes.addingWarningHeaders(warnings, to: JSONResponse.make(toxics[position].effective))
    }

    func remove(_ toxicName: String, from namespace: String, _ name: String) async throws -> Response {
        let current = Self.toxics(of: try await tcpChaos(namespace, name).document)
        let position = try Self.position(of: toxicName, in: current, namespace, name)
        let (_, warnings) = try await change(namespace, name) { values in values.remove(at: position) }
        return APIRoutes.addingWarningHeaders(warnings, to: Response(status: .noContent))
    }

    /// Edits the experiment's toxics as written (`spec.toxics`), checks the
    /// whole document so edited (unknown fields are errors), then gives it
    /// to the running experiment. Returns the new toxics, and the warnings:
    /// the document's, and each target whose faults could not change in
    /// place and were injected again (its connections were cut).
    private func change(_ namespace: String, _ name: String,
                        _ edit: (inout [Value]) -> Void) async throws -> (toxics: [Toxic], warnings: [APIError.FieldError]) {
        let record = try await tcpChaos(namespace, name)
        var tree = try record.document.encoded()
        var values = Self.toxicValues(of: tree)
        edit(&values)
        Self.setToxicValues(values, in: &tree)
        let report = DocumentLoader().check(tree)
        // Errors refuse the change, and so does an unknown field (a misspelt
        // attribute would otherwise be dropped silently); other warnings
        // (no toxics left, say) travel back as Warning headers.
        let unknown = report.diagnostics.warnings.filter { $0.message.hasPrefix("unknown field") }
        guard let document = report.document, unknown.isEmpty else {
            let errors = (report.diagnostics.errors + unknown).map { APIError.FieldError(path: $0.path.description, message: $0.message) }
            let first = errors.first.map { "\($0.path): \($0.message)" } ?? "the toxics do not make a valid TCPChaos"
            throw APIError(.badRequest, "ValidationError", "invalid toxic: \(first)", errors: errors)
        }
        let outcome = try await experiments.reconfigure(record.uid, to: document)
        var warnings = report.diagnostics.warnings.map { APIError.FieldError(path: $0.path.description, message: $0.message) }
        for (target, why) in outcome.reinjected.sorted(by: { $0.key < $1.key }) {
            warnings.append(.init(path: target, message: "could not change in place (\(why)): recovered and injected again"))
        }
        return (Self.toxics(of: document), warnings)
    }

    // MARK: Reading

    /// The live TCPChaos `namespace/name`: 404 when there is none, 409
    /// when the name belongs to an experiment of another kind (no toxics).
    func tcpChaos(_ namespace: String, _ name: String) async throws -> ExperimentRecord {
        let named = await experiments.allExperiments().filter { !$0.isDeleted && $0.namespace == namespace && $0.name == name }
        if let record = named.first(where: { $0.kind == .tcpChaos }) { return record }
        if let other = named.first {
            throw APIError(.conflict, "Conflict", "\(namespace)/\(name) is a \(other.kind.rawValue), not a TCPChaos: only a TCPChaos has toxics")
        }
        throw APIError(.notFound, "NotFound", "no TCPChaos \(namespace)/\(name)")
    }

    static func experimentName(_ context: BasicRequestContext) throws -> (namespace: String, name: String) {
        (try context.parameters.require("namespace"), try context.parameters.require("name"))
    }

    static func toxics(of document: ChaosDocument) -> [Toxic] {
        (document.spec as? TCPChaosSpec)?.toxics ?? []
    }

    static func position(of toxic: String, in toxics: [Toxic], _ namespace: String, _ name: String) throws -> Int {
        guard let position = toxics.firstIndex(where: { $0.effectiveName == toxic }) else {
            throw APIError(.notFound, "NotFound", "no toxic \(toxic) on TCPChaos \(namespace)/\(name)")
        }
        return position
    }

    /// The body: one toxic, a JSON (or YAML) object.
    static func toxicBody(_ request: Request) async throws -> Value.Object {
        try TypedBody.require(request)
        let text = String(buffer: try await request.body.collect(upTo: bodyLimit))
        let values: [Value]
        do {
            values = try DocumentText.parse(text)
        } catch {
            throw APIError(.badRequest, "ValidationError", "the body is not JSON or YAML: \(error)")
        }
        guard values.count == 1, let object = values[0].objectValue else {
            throw APIError(.badRequest, "ValidationError", "the body must be one toxic: an object with type, and stream, toxicity, attributes, name")
        }
        return object
    }

    /// The toxic a body describes, when it reads as one (for its default name).
    static func decode(_ object: Value.Object) -> Toxic? {
        guard let data = try? JSONEncoder().encode(Value.object(object)) else { return nil }
        return try? JSONDecoder().decode(Toxic.self, from: data)
    }

    static func toxicValues(of tree: Value) -> [Value] {
        guard case .array(let values)? = tree.objectValue?["spec"]?.objectValue?["toxics"] else { return [] }
        return values
    }

    static func setToxicValues(_ values: [Value], in tree: inout Value) {
        guard var top = tree.objectValue else { return }
        var spec = top["spec"]?.objectValue ?? Value.Object()
        spec["toxics"] = .array(values)
        top["spec"] = .object(spec)
        tree = .object(top)
    }
}

extension Toxic {
    /// The toxic with every value in effect written out, as Toxiproxy
    /// shows it: its name, stream and toxicity, and each attribute its
    /// type reads (0 when not given).
    var effective: Toxic {
        var filled = self
        filled.name = effectiveName
        filled.stream = effectiveStream
        filled.toxicity = effectiveToxicity
        var attributes = values
        let names = Self.attributeNames(of: type)
        for name in names.required + names.optional {
            switch name {
            case "latency": attributes.latency = attributes.latency ?? 0
            case "jitter": attributes.jitter = attributes.jitter ?? 0
            case "rate": attributes.rate = attributes.rate ?? 0
            case "delay": attributes.delay = attributes.delay ?? 0
            case "timeout": attributes.timeout = attributes.timeout ?? 0
            case "average_size": attributes.averageSize = attributes.averageSize ?? 0
            case "size_variation": attributes.sizeVariation = attributes.sizeVariation ?? 0
            case "bytes": attributes.bytes = attributes.bytes ?? 0
            default: continue
            }
        }
        filled.attributes = attributes
        return filled
    }
}
