import Hummingbird

/// `GET /api/openapi.json`: the OpenAPI description of the whole API
/// (`TumultOpenAPI`), encoded once.
struct OpenAPIRoutes: Sendable {
    static let path = "/api/openapi.json"

    func register(on router: Router<BasicRequestContext>) {
        router.get(RouterPath(Self.path)) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: TumultOpenAPI.json)))
        }
    }
}
