import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A validating admission webhook over HTTPS on 127.0.0.1 that denies
/// every review with `message` (code 403), using a self-signed
/// certificate made with the openssl CLI.
final class DenyingWebhook: Sendable {
    let channel: any Channel
    /// The PEM certificate, which is also the CA bundle a configuration trusts.
    let certificatePEM: Data
    let reviews = ReviewLog()

    var url: String { "https://127.0.0.1:\(channel.localAddress?.port ?? 0)/validate" }

    init(message: String, directory: TemporaryDirectory) async throws {
        let key = directory.file("webhook.key")
        let certificate = directory.file("webhook.crt")
        let made = try await runCommand([
            "/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", key.path, "-out", certificate.path, "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ], in: directory)
        guard made.status == 0 else { throw WebhookSetupError(description: "openssl failed: \(made.error)") }
        certificatePEM = try Data(contentsOf: certificate)
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate.path).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key.path, format: .pem)))
        let context = try NIOSSLContext(configuration: tls)
        let reviews = self.reviews
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(DenyingHandler(message: message, reviews: reviews))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async {
        try? await channel.close()
    }
}

struct WebhookSetupError: Error, CustomStringConvertible {
    var description: String
}

/// The AdmissionReview requests a webhook received.
final class ReviewLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reviews: [[String: Any]] = []

    func add(_ review: [String: Any]) {
        lock.lock()
        reviews.append(review)
        lock.unlock()
    }

    var all: [[String: Any]] {
        lock.lock()
        defer { lock.unlock() }
        return reviews
    }
}

private final class DenyingHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let message: String
    let reviews: ReviewLog
    var body = ByteBuffer()

    init(message: String, reviews: ReviewLog) {
        self.message = message
        self.reviews = reviews
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            body.clear()
        case var .body(part):
            body.writeBuffer(&part)
        case .end:
            let review = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
            reviews.add(review)
            let uid = (review["request"] as? [String: Any])?["uid"] as? String ?? ""
            let reply: [String: Any] = [
                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": ["uid": uid, "allowed": false,
                             "status": ["code": 403, "reason": "Forbidden", "message": message]],
            ]
            let data = (try? JSONSerialization.data(withJSONObject: reply)) ?? Data()
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(data.count)")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                          promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: data)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
