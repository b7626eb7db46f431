import Foundation

/// A fault family the crash soak kills Tumult in, and how each of the two
/// ways it runs one makes it: the `tumult attack` command line, and the
/// Chaos Mesh experiment (or, for what no experiment kind does here, the
/// chaosd request) posted to `tumult server`.
enum CrashFamily: String, CaseIterable, Sendable {
    case delay, partition, bandwidth
    case stressCPU = "stress-cpu"
    case processStop = "process-stop"
    case processFreeze = "process-freeze"
    case dnsError = "dns-error"
    case diskFill = "disk-fill"
    case diskPayload = "disk-payload"
    case ioLatency = "io-latency"
    case timeSkew = "time-skew"
    case tcpLatency = "tcp-latency"

    /// The families run when none are named (`disk-payload` only on request).
    static let standard: [CrashFamily] = [.delay, .partition, .bandwidth, .stressCPU, .processStop, .processFreeze, .dnsError, .diskFill,
                                          .ioLatency, .timeSkew, .tcpLatency]

    /// The Kubernetes-style namespace of the soak's pods and experiments.
    static let namespace = "crash-soak"

    /// `tumult attack ...` without `--duration` (the caller adds it for a foreground attack).
    func attackArguments(_ bed: CrashTestbed) -> [String] {
        switch self {
        case .delay:
            ["attack", "network", "delay", "--netns", bed.a, "--latency", "50ms", "--network-backend", "auto"]
        case .partition:
            ["attack", "network", "partition", "--netns", bed.a, "--direction", "both", "--ip", bed.addressB,
             "--network-backend", "auto"]
        case .bandwidth:
            ["attack", "network", "bandwidth", "--netns", bed.a, "--rate", "1mbit", "--limit", "20000", "--buffer", "10000",
             "--network-backend", "auto"]
        case .stressCPU:
            ["attack", "stress", "cpu", "--netns", bed.a, "--workers", "1", "--load", "20"]
        case .processStop:
            ["attack", "process", "stop", "--pid", String(bed.targetPID)]
        case .processFreeze:
            ["attack", "process", "freeze", "--pid", String(bed.targetPID)]
        case .dnsError:
            ["attack", "dns", "error", "--netns", bed.a, "--patterns", "soak.example"]
        case .diskFill:
            ["attack", "disk", "fill", "--path", bed.disk, "--size", "8MiB"]
        case .diskPayload:
            ["attack", "disk", "payload", "--path", bed.disk, "--mode", "write", "--size", "4M", "--process-num", "1"]
        case .ioLatency:
            ["attack", "io", "latency", "--pid", String(bed.targetPID), "--volume-path", bed.disk, "--delay", "10ms"]
        case .timeSkew:
            ["attack", "time", "--pid", String(bed.targetPID), "--offset", "-10m"]
        case .tcpLatency:
            ["attack", "tcp", "latency", "--netns", bed.a, "--port", "7", "--latency", "50"]
        }
    }

    /// Whether `tumult server` runs it as an experiment (else as a chaosd attack).
    var runsAsExperiment: Bool {
        switch self {
        case .processStop, .diskFill, .diskPayload: false
        default: true
        }
    }

    /// The experiment document for `tumult server`, aimed at the bed's
    /// target pod; nil for the families that go through chaosd's API.
    func experiment(named name: String, _ bed: CrashTestbed, duration: String) -> String? {
        let head = { (kind: String) in
            """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: \(kind)
            metadata: {name: \(name), namespace: \(Self.namespace)}
            spec:
              mode: all
              selector: {pods: {\(Self.namespace): [\(bed.a)]}}
              duration: \(duration)

            """
        }
        switch self {
        case .delay:
            return head("NetworkChaos") + "  action: delay\n  delay: {latency: 50ms}\n"
        case .partition:
            return head("NetworkChaos") + "  action: partition\n  direction: to\n  externalTargets: [\"\(bed.addressB)\"]\n"
        case .bandwidth:
            return head("NetworkChaos") + "  action: bandwidth\n  bandwidth: {rate: 1mbps, limit: 20000, buffer: 10000}\n"
        case .stressCPU:
            return head("StressChaos") + "  stressors: {cpu: {workers: 1, load: 20}}\n"
        case .processFreeze:
            return head("PodChaos") + "  action: pod-failure\n"
        case .dnsError:
            return head("DNSChaos") + "  action: error\n  patterns: [soak.example]\n"
        case .ioLatency:
            return head("IOChaos") + "  action: latency\n  volumePath: \(bed.disk)\n  delay: 10ms\n"
        case .timeSkew:
            return head("TimeChaos") + "  timeOffset: -10m\n"
        case .tcpLatency:
            // Tumult's own kind, of its own API group.
            return head("TCPChaos").replacingOccurrences(of: "chaos-mesh.org/v1alpha1", with: "tumult.dev/v1alpha1")
                + "  port: 7\n  toxics: [{type: latency, attributes: {latency: 50}}]\n"
        case .processStop, .diskFill, .diskPayload:
            return nil
        }
    }

    /// chaosd's `POST /api/attack/KIND` and its JSON body, for the families no experiment kind runs here.
    func chaosdAttack(_ bed: CrashTestbed) -> (kind: String, body: String)? {
        switch self {
        case .processStop:
            ("process", #"{"action": "stop", "process": "\#(bed.targetPID)"}"#)
        case .diskFill:
            ("disk", #"{"action": "fill", "path": "\#(bed.disk)", "size": "8MiB"}"#)
        case .diskPayload:
            ("disk", #"{"action": "write-payload", "path": "\#(bed.disk)", "size": "4M", "payload-process-num": 1}"#)
        default:
            nil
        }
    }
}
