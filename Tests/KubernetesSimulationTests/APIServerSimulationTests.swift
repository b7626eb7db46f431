import AsyncHTTPClient
import Foundation
import KubernetesSimulation
import NIOCore
import Testing

@Suite("APIServerSimulation", .serialized)
struct APIServerSimulationTests {
    private static let networkChaosPath = "/apis/chaos-mesh.org/v1alpha1/namespaces/chaos-test/networkchaos"

    /// Namespace, CRD and chaos object through the real kubectl: create,
    /// discovery, apply, get, both patch types, re-apply, and delete with
    /// and without a finalizer.
    @Test func kubectlDrivesACustomResource() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await withSimulation { server in
            let kubectl = try Kubectl(server: server.url, directory: directory)
            let namespace = try await kubectl("create", "namespace", "chaos-test")
            #expect(namespace.status == 0, "\(namespace.combined)")

            let crd = try await kubectl("apply", "-f", Fixtures.networkChaosCRD.path)
            #expect(crd.status == 0, "\(crd.combined)")
            #expect(crd.output.contains("customresourcedefinition.apiextensions.k8s.io/networkchaos.chaos-mesh.org created"))
            let conditions = server.object(resource: "customresourcedefinitions", namespace: nil,
                                           name: "networkchaos.chaos-mesh.org")?.value("status", "conditions") as? [[String: Any]]
            #expect(conditions?.contains { $0["type"] as? String == "Established" && $0["status"] as? String == "True" } == true)

            let resources = try await kubectl("api-resources", "--api-group", "chaos-mesh.org")
            #expect(resources.status == 0, "\(resources.combined)")
            #expect(resources.output.contains("networkchaos"))
            #expect(resources.output.contains("chaos-mesh.org/v1alpha1"))

            let applied = try await kubectl("apply", "-n", "chaos-test", "-f", Fixtures.networkDelayExample.path)
            #expect(applied.status == 0, "\(applied.combined)")
            #expect(applied.output.contains("networkchaos.chaos-mesh.org/network-delay-example created"))

            let listed = try await kubectl("get", "networkchaos", "-n", "chaos-test", "-o", "json")
            #expect(listed.status == 0, "\(listed.combined)")
            let list = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any]
            let items = list?["items"] as? [[String: Any]] ?? []
            #expect(items.count == 1)
            #expect(items.first?.value("spec", "action") as? String == "delay")
            #expect(items.first?.value("metadata", "generation") as? Int == 1)

            let table = try await kubectl("get", "networkchaos", "-n", "chaos-test")
            #expect(table.status == 0, "\(table.combined)")
            #expect(table.output.contains("network-delay-example"))

            let merged = try await kubectl("patch", "networkchaos", "network-delay-example", "-n", "chaos-test",
                                           "--type", "merge", "-p", #"{"spec":{"duration":"20s"}}"#)
            #expect(merged.status == 0, "\(merged.combined)")
            let jsonPatched = try await kubectl("patch", "networkchaos", "network-delay-example", "-n", "chaos-test",
                                                "--type", "json",
                                                "-p", #"[{"op":"test","path":"/spec/mode","value":"one"},{"op":"replace","path":"/spec/mode","value":"all"}]"#)
            #expect(jsonPatched.status == 0, "\(jsonPatched.combined)")
            var stored = server.object(resource: "networkchaos", namespace: "chaos-test", name: "network-delay-example")
            #expect(stored?.value("spec", "duration") as? String == "20s")
            #expect(stored?.value("spec", "mode") as? String == "all")
            #expect(stored?.value("metadata", "generation") as? Int == 3)

            let failedTest = try await kubectl("patch", "networkchaos", "network-delay-example", "-n", "chaos-test",
                                               "--type", "json", "-p", #"[{"op":"test","path":"/spec/mode","value":"one"}]"#)
            #expect(failedTest.status != 0)

            let changed = try String(contentsOf: Fixtures.networkDelayExample, encoding: .utf8)
                .replacingOccurrences(of: "latency: \"90ms\"", with: "latency: \"150ms\"")
            let changedFile = directory.file("network-delay-changed.yaml")
            try changed.write(to: changedFile, atomically: true, encoding: .utf8)
            let reapplied = try await kubectl("apply", "-n", "chaos-test", "-f", changedFile.path)
            #expect(reapplied.status == 0, "\(reapplied.combined)")
            #expect(reapplied.output.contains("network-delay-example configured"))
            stored = server.object(resource: "networkchaos", namespace: "chaos-test", name: "network-delay-example")
            #expect(stored?.value("spec", "delay", "latency") as? String == "150ms")

            let deleted = try await kubectl("delete", "networkchaos", "network-delay-example", "-n", "chaos-test")
            #expect(deleted.status == 0, "\(deleted.combined)")
            #expect(deleted.output.contains("deleted"))
            #expect(server.object(resource: "networkchaos", namespace: "chaos-test", name: "network-delay-example") == nil)

            let missing = try await kubectl("get", "networkchaos", "network-delay-example", "-n", "chaos-test")
            #expect(missing.status != 0)
            #expect(missing.error.contains(#"Error from server (NotFound): networkchaos.chaos-mesh.org "network-delay-example" not found"#))

            // With a finalizer the object stays, marked, until the finalizer goes.
            let again = try await kubectl("apply", "-n", "chaos-test", "-f", Fixtures.networkDelayExample.path)
            #expect(again.status == 0, "\(again.combined)")
            let finalizer = try await kubectl("patch", "networkchaos", "network-delay-example", "-n", "chaos-test",
                                              "--type", "merge", "-p", #"{"metadata":{"finalizers":["tumult.io/recover"]}}"#)
            #expect(finalizer.status == 0, "\(finalizer.combined)")
            let marked = try await kubectl("delete", "networkchaos", "network-delay-example", "-n", "chaos-test",
                                           "--wait=false")
            #expect(marked.status == 0, "\(marked.combined)")
            stored = server.object(resource: "networkchaos", namespace: "chaos-test", name: "network-delay-example")
            #expect(stored?.value("metadata", "deletionTimestamp") is String)
            #expect(stored?.value("metadata", "deletionGracePeriodSeconds") as? Int == 0)
            let released = try await kubectl("patch", "networkchaos", "network-delay-example", "-n", "chaos-test",
                                             "--type", "merge", "-p", #"{"metadata":{"finalizers":null}}"#)
            #expect(released.status == 0, "\(released.combined)")
            #expect(server.object(resource: "networkchaos", namespace: "chaos-test", name: "network-delay-example") == nil)

            let noNamespace = try await kubectl("apply", "-n", "nowhere", "-f", Fixtures.networkDelayExample.path)
            #expect(noNamespace.status != 0)
            #expect(noNamespace.error.contains(#"namespaces "nowhere" not found"#))

            let counts = server.requestCounts()
            #expect((counts["patch networkchaos"] ?? 0) >= 4)
            #expect((counts["create customresourcedefinitions"] ?? 0) == 1)
        }
    }

    /// A watch sees ADDED, MODIFIED and DELETED in order, and bookmarks
    /// arrive within two seconds.
    @Test func watchStreamsEventsAndBookmarks() async throws {
        try await withHTTPClient { client in try await withSimulation(.init(bookmarkInterval: .milliseconds(300))) { server in
            try server.put(json: ["apiVersion": "v1", "kind": "Pod",
                                  "metadata": ["name": "before", "namespace": "default", "labels": ["app": "web"]]])
            let start = server.resourceVersion
            var request = HTTPClientRequest(url: "\(server.url.absoluteString)/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(start)&allowWatchBookmarks=true&labelSelector=app%3Dweb&timeoutSeconds=20")
            request.method = .GET
            let response = try await client.execute(request, timeout: .seconds(30))
            #expect(response.status == .ok)
            var reader = WatchReader(response)

            try server.put(json: ["apiVersion": "v1", "kind": "Pod",
                                  "metadata": ["name": "web-1", "namespace": "default", "labels": ["app": "web"]],
                                  "spec": ["nodeName": "node-a"]])
            try server.put(json: ["apiVersion": "v1", "kind": "Pod",
                                  "metadata": ["name": "other", "namespace": "default", "labels": ["app": "db"]]])
            try server.put(json: ["apiVersion": "v1", "kind": "Pod",
                                  "metadata": ["name": "web-1", "namespace": "default", "labels": ["app": "web"]],
                                  "spec": ["nodeName": "node-b"], "status": ["phase": "Running"]])
            #expect(server.deleteNow(resource: "pods", namespace: "default", name: "web-1"))

            var seen: [String] = []
            var bookmark: [String: Any]?
            let began = ContinuousClock.now
            while bookmark == nil || seen.count < 3, ContinuousClock.now - began < .seconds(5) {
                guard let event = try await reader.next() else { break }
                let type = event["type"] as? String ?? ""
                if type == "BOOKMARK" {
                    bookmark = event["object"] as? [String: Any]
                } else {
                    seen.append("\(type) \((event["object"] as? [String: Any])?.value("metadata", "name") as? String ?? "")")
                }
            }
            #expect(seen == ["ADDED web-1", "MODIFIED web-1", "DELETED web-1"])
            #expect(ContinuousClock.now - began < .seconds(2))
            #expect(bookmark?["kind"] as? String == "Pod")
            #expect(bookmark?.value("metadata", "resourceVersion") as? String != nil)
            #expect(bookmark?.keys.sorted() == ["apiVersion", "kind", "metadata"])
            #expect(server.requestCounts()["watch pods"] == 1)
        } }
    }

    /// After compactHistory an open watch gets an ERROR event with a 410
    /// Status, and a new watch from an old resourceVersion gets HTTP 410.
    @Test func compactedHistoryAnswersGone() async throws {
        try await withHTTPClient { client in try await withSimulation { server in
            let old = server.resourceVersion
            let url = "\(server.url.absoluteString)/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=\(old)"
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            var reader = WatchReader(response)
            try server.put(json: ["apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": ["name": "settings", "namespace": "default"], "data": ["a": "1"]])
            let added = try await reader.next()
            #expect(added?["type"] as? String == "ADDED")

            server.compactHistory()
            let error = try await reader.next()
            #expect(error?["type"] as? String == "ERROR")
            #expect((error?["object"] as? [String: Any])?["code"] as? Int == 410)
            #expect(try await reader.next() == nil)

            let gone = try await exchange(client, .GET, url)
            #expect(gone.status == 410)
            #expect(gone.body["kind"] as? String == "Status")
            #expect(gone.body["code"] as? Int == 410)

            let fresh = try await client.execute(
                HTTPClientRequest(url: "\(server.url.absoluteString)/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1"),
                timeout: .seconds(10))
            #expect(fresh.status == .ok)
            var freshReader = WatchReader(fresh)
            #expect(try await freshReader.next()?["type"] as? String == "ADDED")
            #expect(try await freshReader.next() == nil)
        } }
    }

    /// A PUT carrying an outdated resourceVersion is a 409 Conflict Status;
    /// a current one succeeds and bumps generation only for spec changes.
    @Test func stalePutConflicts() async throws {
        try await withHTTPClient { client in try await withSimulation { server in
            let base = "\(server.url.absoluteString)/apis/apps/v1/namespaces/default/deployments"
            let created = try await exchange(client, .POST, base, json: [
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": ["generateName": "web-"], "spec": ["replicas": 1],
            ])
            #expect(created.status == 201)
            let name = created.body.value("metadata", "name") as? String ?? ""
            #expect(name.hasPrefix("web-") && name.count == 9)
            let staleVersion = created.body.value("metadata", "resourceVersion") as? String ?? ""

            var update = created.body
            update["spec"] = ["replicas": 2]
            let first = try await exchange(client, .PUT, "\(base)/\(name)", json: update)
            #expect(first.status == 200)
            #expect(first.body.value("metadata", "generation") as? Int == 2)

            let stale = try await exchange(client, .PUT, "\(base)/\(name)", json: update)
            #expect(stale.status == 409)
            #expect(stale.body["reason"] as? String == "Conflict")
            #expect(stale.body["kind"] as? String == "Status")
            #expect((stale.body["message"] as? String)?.contains("the object has been modified") == true)
            #expect(staleVersion != first.body.value("metadata", "resourceVersion") as? String)

            var status = first.body
            status["status"] = ["readyReplicas": 2]
            status["spec"] = ["replicas": 5]
            let statusWrite = try await exchange(client, .PUT, "\(base)/\(name)/status", json: status)
            #expect(statusWrite.status == 200)
            #expect(statusWrite.body.value("status", "readyReplicas") as? Int == 2)
            #expect(statusWrite.body.value("spec", "replicas") as? Int == 2)
            #expect(statusWrite.body.value("metadata", "generation") as? Int == 2)

            let duplicate = try await exchange(client, .POST, base, json: [
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": name],
            ])
            #expect(duplicate.status == 409)
            #expect(duplicate.body["reason"] as? String == "AlreadyExists")
        } }
    }

    /// A ValidatingWebhookConfiguration's HTTPS webhook denies: kubectl
    /// apply fails with the webhook's message.
    @Test func admissionWebhookDenies() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let webhook = try await DenyingWebhook(message: "chaos is frozen this week", directory: directory)
        do {
            try await withSimulation { server in
                let kubectl = try Kubectl(server: server.url, directory: directory)
                let crd = try await kubectl("apply", "-f", Fixtures.networkChaosCRD.path)
                #expect(crd.status == 0, "\(crd.combined)")
                try server.put(json: [
                    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                    "metadata": ["name": "tumult"],
                    "webhooks": [[
                        "name": "vnetworkchaos.tumult.io",
                        "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail",
                        "clientConfig": ["url": webhook.url,
                                         "caBundle": webhook.certificatePEM.base64EncodedString()],
                        "rules": [["apiGroups": ["chaos-mesh.org"], "apiVersions": ["v1alpha1"],
                                   "operations": ["CREATE", "UPDATE"], "resources": ["networkchaos"]]],
                    ]],
                ])
                let denied = try await kubectl("apply", "-f", Fixtures.networkDelayExample.path)
                #expect(denied.status != 0)
                #expect(denied.error.contains(#"admission webhook "vnetworkchaos.tumult.io" denied the request: chaos is frozen this week"#),
                        "\(denied.combined)")
                #expect(server.objects(resource: "networkchaos").isEmpty)
                let review = webhook.reviews.all.first?["request"] as? [String: Any]
                #expect(review?["operation"] as? String == "CREATE")
                #expect(review?["namespace"] as? String == "default")
                #expect(review?.value("resource", "resource") as? String == "networkchaos")

                // Other resources are not reviewed.
                let namespace = try await kubectl("create", "namespace", "unreviewed")
                #expect(namespace.status == 0, "\(namespace.combined)")
            }
        } catch {
            await webhook.stop()
            throw error
        }
        await webhook.stop()
    }
}
