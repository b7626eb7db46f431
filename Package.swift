// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Tumult",
    platforms: [.macOS(.v14)],
    products: [
        // `tumult`: the small front program (version, handoff to the agent); it
        // becomes `tumult-cli`, the whole program, for everything else.
        .executable(name: "tumult", targets: ["tumult-front"]),
        .executable(name: "tumult-cli", targets: ["tumult"]),
        .library(name: "TumultModel", targets: ["TumultModel"]),
        .executable(name: "tumult-netem", targets: ["tumult-netem"]),
        .executable(name: "tumult-stress", targets: ["tumult-stress"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.20.0"),
    ],
    targets: [
        // Chaos Mesh documents as values: decoding, validation, defaults. No I/O.
        .target(
            name: "TumultModel",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        // What the front program links: the version, the blocking exchange with
        // the local agent's socket, the command handoff. No Foundation.
        .target(name: "TumultHandoff"),
        // `tumult`: starts like `tc`; hands `attack`/`recover` to the running agent, else becomes `tumult-cli`.
        .executableTarget(
            name: "tumult-front",
            dependencies: ["TumultHandoff"],
            path: "Sources/tumult-front",
            // Linked fully statically (glibc too): no dynamic loader, no shared
            // library to map and relocate, so it starts in about 1 ms, faster
            // than `tc`. It needs nothing a static glibc lacks (no NSS, no dlopen).
            linkerSettings: [.unsafeFlags(["-static-executable"])]
        ),
        // The only code that touches the kernel: commands, namespaces, /proc.
        .target(
            name: "TumultSystem",
            dependencies: ["CTumultSystem"]
        ),
        // What Swift's Glibc module leaves out (posix_spawn's closefrom), for TumultSystem.
        .target(
            name: "CTumultSystem",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // libfuse3's low-level API for the IO fault's file system, and the early
        // entry into the target's mount namespace (before Swift starts threads).
        .target(
            name: "CTumultFuse",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("fuse3")]
        ),
        // What a host agent does, as a protocol and its versioned wire types;
        // everything above it reaches a host only through this.
        .target(
            name: "TumultAgent",
            dependencies: ["TumultModel", "TumultHandoff"]
        ),
        // The fleet's certificates: a CA, server and client certificates (`tumult certs`).
        .target(
            name: "TumultCertificates",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The agent protocol over HTTPS with mutual TLS: the routes `tumult daemon`
        // serves (and chaosd's API), and the client the controller reaches remote hosts with.
        .target(
            name: "TumultAgentHTTP",
            dependencies: [
                "TumultAgent", "TumultModel", "TumultHandoff",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Injectors, one folder per fault family: apply one fault to one target, recover it.
        .target(
            name: "TumultFaults",
            dependencies: [
                "TumultModel", "TumultSystem", "CTumultFuse",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The host agent: the journal written before the host changes, recovery,
        // one plug-in per fault family, local pods and machines, leases.
        .target(
            name: "TumultDaemon",
            dependencies: [
                "TumultAgent", "TumultModel", "TumultFaults", "TumultSystem",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Experiments: selection, modes, lifecycle, schedules, the store. Reaches hosts through `HostAgent`.
        .target(
            name: "TumultController",
            dependencies: [
                "TumultModel", "TumultAgent",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Kubernetes mode: a small typed client (kubeconfig, watches, informers,
        // events, leases), the operator that reconciles chaos objects, its
        // validating webhook, and the manifests that deploy it.
        .target(
            name: "TumultKubernetes",
            dependencies: [
                "TumultModel", "TumultAgent", "TumultController", "TumultAgentHTTP", "TumultCertificates",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // An in-process Kubernetes API server speaking the real wire protocol
        // for what Tumult uses; no API server can be installed here. Tests and
        // benchmarks only, never linked into `tumult`.
        .target(
            name: "KubernetesSimulation",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `tumult server`: the REST API over the controller; hosts only through the agent protocol.
        .target(
            name: "TumultServer",
            dependencies: [
                "TumultController",
                "TumultAgent",
                "TumultAgentHTTP",
                "TumultHandoff",
                // malloc_trim after large bodies (glibc's malloc.h; the C shim, not TumultSystem).
                "CTumultSystem",
                .product(name: "Hummingbird", package: "hummingbird"),
                // NIOSSL: the fleet's client TLS configuration.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // NIOCore: per-connection guards and the body-size error.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            // The dashboard's files (index.html, app.css, the ES modules), compiled in as bytes
            // (`PackageResources.app_js` ...): an installed binary serves them with nothing beside it.
            resources: [.embedInCode("Dashboard/Assets")]
        ),
        // The CLI: parsing and printing only.
        .executableTarget(
            name: "tumult",
            dependencies: [
                "TumultModel",
                "TumultHandoff",
                "TumultAgent",
                "TumultAgentHTTP",
                "TumultCertificates",
                "TumultDaemon",
                "TumultFaults",
                "TumultSystem",
                "TumultController",
                "TumultServer",
                "TumultKubernetes",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // The REST client and `--check-url` probes (not URLSession: see APIClient.call).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `swift run -c release tumult-bench` prints the benchmark tables.
        .executableTarget(
            name: "tumult-bench",
            dependencies: ["TumultModel", "TumultSystem", "TumultAgent", "TumultController", "TumultAgentHTTP",
                           "TumultKubernetes", "KubernetesSimulation", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/TumultBenchmarks"
        ),
        // Userspace netem over NFQUEUE (C, Linux only): kernels without sch_netem.
        .executableTarget(
            name: "tumult-netem",
            path: "Sources/tumult-netem",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("netfilter_queue"), .linkedLibrary("m")]
        ),
        // One CPU or memory stress worker (C, Linux only), placed in its target's cgroups.
        .executableTarget(
            name: "tumult-stress",
            path: "Sources/tumult-stress",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .testTarget(
            name: "TumultCertificatesTests",
            dependencies: [
                "TumultCertificates",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TumultAgentHTTPTests",
            dependencies: [
                "TumultAgentHTTP", "TumultAgent", "TumultModel", "TumultCertificates", "TumultHandoff",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "KubernetesSimulationTests",
            dependencies: [
                "KubernetesSimulation",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // The test's own HTTPS webhook.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "TumultKubernetesTests",
            dependencies: [
                "TumultKubernetes", "KubernetesSimulation", "TumultModel", "TumultAgent", "TumultAgentHTTP",
                "TumultCertificates", "TumultController", "TumultDaemon", "TumultSystem", "tumult",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TumultModelTests",
            dependencies: ["TumultModel", "tumult"]
        ),
        .testTarget(
            name: "TumultControllerTests",
            dependencies: [
                "TumultController", "TumultServer", "TumultDaemon", "TumultSystem", "TumultAgent", "tumult", "tumult-netem",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "TumultFaultsTests",
            dependencies: ["TumultFaults", "TumultDaemon", "TumultSystem", "TumultAgent", "TumultAgentHTTP", "TumultCertificates",
                           "TumultKubernetes", "KubernetesSimulation",
                           "tumult", "tumult-netem", "tumult-stress", "tumult-bench"]
        ),
    ]
)
