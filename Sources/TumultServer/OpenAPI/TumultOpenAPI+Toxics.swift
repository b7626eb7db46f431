/// The live toxics of a running TCPChaos (`ToxicRoutes`), Toxiproxy's API
/// under `/api/tcpchaos/{namespace}/{name}/toxics`.
extension TumultOpenAPI {
    static var toxics: [Route] {
        let base = "/api/tcpchaos/{namespace}/{name}/toxics"
        let experiment = [path("namespace", "The TCPChaos's namespace."), path("name", "The TCPChaos's name.")]
        let one = experiment + [path("toxic", "The toxic's name (given, or Toxiproxy's default TYPE_STREAM).")]
        let toxic = JSONSchema.ref("Toxic")
        let shown = "The toxic with every value in effect: name, stream, toxicity and each attribute its type reads (0 when not given)."
        let body = { (description: String) in
            OpenAPIDocument.RequestBody(description: description, required: true, content: [
                "application/json": .init(schema: toxic), "application/yaml": .init(schema: toxic),
            ])
        }
        return [
            (base, "get", operation("listToxics", "The toxics of a TCPChaos", tag: .toxics, parameters: experiment,
                                    answers: [200: json(.array(of: toxic), "Its toxics, in the order they apply.")],
                                    errors: [404, 409])),
            (base, "post", operation("addToxic", "Add a toxic to a running TCPChaos", tag: .toxics, description: """
                Appends the toxic to spec.toxics and changes the running proxies in place: their connections keep going. \
                409 when a toxic of that name exists; 400 names the field of a bad toxic (spec.toxics[2].attributes.latency).
                """, parameters: experiment, body: body("One toxic; its name defaults to TYPE_STREAM."),
                answers: [200: json(toxic, shown, headers: ["Warning": warningHeader])], errors: [400, 404, 409], write: true)),
            ("\(base)/{toxic}", "get", operation("getToxic", "One toxic of a TCPChaos", tag: .toxics, parameters: one,
                                                 answers: [200: json(toxic, shown)], errors: [404, 409])),
            ("\(base)/{toxic}", "post", operation("updateToxic", "Update a toxic in place", tag: .toxics, description: """
                Toxiproxy's update: toxicity and stream given replace those, attributes merge key by key (null removes one); \
                the name and type stay. The running proxies change in place.
                """, parameters: one, body: body("The fields to change."),
                answers: [200: json(toxic, shown, headers: ["Warning": warningHeader])], errors: [400, 404, 409], write: true)),
            ("\(base)/{toxic}", "delete", operation("removeToxic", "Remove a toxic", tag: .toxics,
                                                    description: "Removes it from spec.toxics; the running proxies change in place.",
                                                    parameters: one, answers: [204: .init(description: "Removed.")],
                                                    errors: [404, 409], write: true)),
        ]
    }
}
