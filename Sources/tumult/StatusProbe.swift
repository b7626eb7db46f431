import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TumultModel

/// A steady-state check over HTTP: Chaos Mesh's StatusCheck (`http.url`,
/// method, headers, body, `criteria.statusCode`, timeout, interval,
/// failure and success thresholds), or `--check-url` with its defaults.
struct StatusProbe: Sendable {
    var url: URL
    var method = "GET"
    var headers: [String: [String]] = [:]
    var body: String?
    var statusCodes: ClosedRange<Int> = 200...399
    var timeout: TimeInterval = 1
    var interval: TimeInterval = 1
    var failureThreshold = 3
    var successThreshold = 1

    init(url: URL) {
        self.url = url
    }

    /// From a StatusCheck document; nil when it is not an HTTP check.
    init?(_ spec: StatusCheckSpec) {
        guard let http = spec.http, let url = URL(string: http.url) else { return nil }
        self.url = url
        method = http.method?.rawValue ?? "GET"
        headers = http.headers ?? [:]
        body = http.body
        statusCodes = http.criteria.statusCode.range
        timeout = TimeInterval(spec.timeoutSeconds ?? 1)
        interval = TimeInterval(spec.intervalSeconds ?? 10)
        failureThreshold = spec.failureThreshold ?? 3
        successThreshold = spec.successThreshold ?? 1
    }

    /// One probe: nil when it passed, else why not.
    func probe() async -> String? {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        for (name, values) in headers {
            for value in values { request.headers.add(name: name, value: value) }
        }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            // The criteria are the status code; the body is read (and dropped) so the connection is reusable.
            for try await _ in response.body {}
            let status = Int(response.status.code)
            return statusCodes.contains(status) ? nil : "status \(status), expected \(statusCodes.lowerBound)-\(statusCodes.upperBound)"
        } catch {
            return "\(error)"
        }
    }
}

extension StatusCodeRange {
    /// `"200"` or `"200-400"` as a range.
    var range: ClosedRange<Int> {
        let parts = text.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard let low = parts.first else { return 200...200 }
        return low...max(low, parts.count > 1 ? parts[1] : low)
    }
}
