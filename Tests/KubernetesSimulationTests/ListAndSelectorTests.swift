import AsyncHTTPClient
import Foundation
import KubernetesSimulation
import Testing

extension APIServerSimulationTests {
    /// Label and field selectors, and paging with limit and continue, over HTTP.
    @Test func listFiltersAndPages() async throws {
        try await withHTTPClient { client in try await withSimulation { server in
            for index in 0..<7 {
                try server.put(json: [
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": ["name": "pod-\(index)", "namespace": "default",
                                 "labels": ["tier": index % 2 == 0 ? "web" : "db", "index": "\(index)"]],
                    "spec": ["nodeName": index < 3 ? "node-a" : "node-b"],
                    "status": ["phase": index == 0 ? "Pending" : "Running"],
                ])
            }
            let base = "\(server.url.absoluteString)/api/v1/namespaces/default/pods"
            func names(_ query: String) async throws -> [String] {
                let list = try await exchange(client, .GET, "\(base)?\(query)")
                return (list.body["items"] as? [[String: Any]] ?? []).compactMap { $0.value("metadata", "name") as? String }
            }
            #expect(try await names("labelSelector=tier%3Dweb") == ["pod-0", "pod-2", "pod-4", "pod-6"])
            #expect(try await names("labelSelector=tier!%3Dweb,index%20in%20(1,3,4)") == ["pod-1", "pod-3"])
            #expect(try await names("labelSelector=index%20notin%20(0,1,2,3,4),!missing,tier") == ["pod-5", "pod-6"])
            #expect(try await names("fieldSelector=spec.nodeName%3Dnode-a,status.phase!%3DPending") == ["pod-1", "pod-2"])
            #expect(try await names("fieldSelector=metadata.name%3D%3Dpod-4") == ["pod-4"])

            var collected: [String] = []
            var token = ""
            repeat {
                let page = try await exchange(client, .GET, "\(base)?limit=3&continue=\(token)")
                collected += (page.body["items"] as? [[String: Any]] ?? []).compactMap { $0.value("metadata", "name") as? String }
                token = page.body.value("metadata", "continue") as? String ?? ""
                token = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            } while !token.isEmpty
            #expect(collected == (0..<7).map { "pod-\($0)" })

            let missing = try await exchange(client, .GET, "\(base)/nope")
            #expect(missing.status == 404)
            #expect(missing.body["message"] as? String == #"pods "nope" not found"#)
            #expect(missing.body.value("details", "kind") as? String == "pods")

            let strategic = try await exchange(client, .PATCH, "\(base)/pod-1", json: [
                "spec": ["containers": [["name": "main", "image": "nginx"], ["name": "side", "image": "busybox"]]],
            ], contentType: "application/strategic-merge-patch+json")
            #expect(strategic.status == 200)
            let merged = try await exchange(client, .PATCH, "\(base)/pod-1", json: [
                "spec": ["containers": [["name": "side", "image": "alpine"]]],
            ], contentType: "application/strategic-merge-patch+json")
            let containers = merged.body.value("spec", "containers") as? [[String: Any]] ?? []
            #expect(containers.map { $0["image"] as? String ?? "" } == ["nginx", "alpine"])

            let apply = try await exchange(client, .PATCH, "\(base)/pod-1", json: ["spec": [:]],
                                           contentType: "application/apply-patch+yaml")
            #expect(apply.status == 415)
            #expect(server.requestCounts()["list pods"] == 8)
        } }
    }
}
