import Foundation
import Hummingbird

/// The dashboard's files, compiled into the binary so that an installed
/// `tumult` serves its dashboard with nothing to download or unpack. They
/// live as themselves in `Assets/` (`index.html`, `app.css`, the ES
/// modules), which `Package.swift` embeds with `.embedInCode`: SwiftPM
/// generates `PackageResources.<file_name>` with each file's bytes, so no
/// resource bundle is looked for at run time.
enum DashboardAssets {
    /// One file the dashboard serves, with its validator.
    struct Asset: Sendable {
        let contentType: String
        let body: ByteBuffer
        /// A strong ETag from the content, so a reload costs a 304.
        let etag: String

        init(_ text: String, contentType: String) {
            self.contentType = contentType
            body = ByteBuffer(string: text)
            etag = "\"\(DashboardAssets.hash(text))\""
        }

        /// The asset, a 304 when the client's copy is current, or (HEAD)
        /// the headers alone.
        func response(to request: Request, cacheControl: String, withBody: Bool = true) -> Response {
            var headers: HTTPFields = [.eTag: etag, .cacheControl: cacheControl, .contentType: contentType,
                                       .init("X-Content-Type-Options")!: "nosniff"]
            if Self.matches(request.headers[.ifNoneMatch], etag) {
                return Response(status: .notModified, headers: headers)
            }
            if contentType.hasPrefix("text/html") {
                headers[.init("Content-Security-Policy")!] = DashboardAssets.contentSecurityPolicy
                headers[.init("Referrer-Policy")!] = "no-referrer"
            }
            guard withBody else {
                headers[.contentLength] = String(body.readableBytes)
                return Response(status: .ok, headers: headers)
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }

        /// `If-None-Match` holds `*` or a list of tags, weak ones marked `W/`.
        static func matches(_ header: String?, _ etag: String) -> Bool {
            guard let header else { return false }
            return header.split(separator: ",").contains {
                let tag = $0.trimmingCharacters(in: .whitespaces)
                return tag == "*" || tag == etag || tag == "W/" + etag
            }
        }
    }

    /// Scripts, styles and connections only from this server; no framing
    /// (the emergency stop must not be clickable from another site).
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        + "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// Everything under `/assets/<version>/`.
    static let files: [String: Asset] = {
        var files: [String: Asset] = [:]
        for (name, text) in scripts { files[name] = Asset(text, contentType: "text/javascript; charset=utf-8") }
        files["app.css"] = Asset(appCSS, contentType: "text/css; charset=utf-8")
        return files
    }()

    /// The ES modules, by file name (they import each other relatively).
    static let scripts: [(String, String)] = [
        ("app.js", text(PackageResources.app_js)), ("api.js", text(PackageResources.api_js)),
        ("ui.js", text(PackageResources.ui_js)), ("yaml.js", text(PackageResources.yaml_js)),
        ("views.js", text(PackageResources.views_js)), ("editor.js", text(PackageResources.editor_js)),
    ]

    /// The dashboard's one style sheet (light and dark).
    static let appCSS = text(PackageResources.app_css)

    /// The page at `/`: the shell every view renders into; `{{assets}}`
    /// becomes this build's asset path.
    static let indexHTML = text(PackageResources.index_html)

    /// An embedded file as the UTF-8 text it is.
    static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Changes whenever any asset does, so asset URLs can be cached for good.
    static let version: String = {
        let all = scripts.map { $0.0 + $0.1 }.joined() + appCSS + indexHTML
        return String(hash(all).prefix(12))
    }()

    /// `/`: the page, pointing at this build's assets.
    static let index = Asset(indexHTML.replacingOccurrences(of: "{{assets}}", with: "/assets/\(version)"),
                             contentType: "text/html; charset=utf-8")

    /// FNV-1a, 64 bits, as hex: enough to tell versions apart (not a
    /// security boundary; the assets are public).
    static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
