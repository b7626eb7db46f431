// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Tumult",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tumult", targets: ["tumult"]),
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
    ],
    targets: [
        // Chaos Mesh documents as values: decoding, validation, defaults. No I/O.
        .target(
            name: "TumultModel",
            dependencies: [.product(name: "Yams", package: "Yams")]
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
        // Injectors, one folder per fault family: apply one fault to one target, recover it.
        .target(
            name: "TumultFaults",
            dependencies: [
                "TumultModel", "TumultSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The host agent: the journal written before the host changes, recovery, the injector registry.
        .target(
            name: "TumultDaemon",
            dependencies: [
                "TumultFaults", "TumultSystem",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Experiments: selection, modes, lifecycle, schedules, the store. Talks to hosts through `ChaosDaemon`.
        .target(
            name: "TumultController",
            dependencies: [
                "TumultModel",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // `tumult server`: the REST API over the controller, wired to the local host agent.
        .target(
            name: "TumultServer",
            dependencies: [
                "TumultController",
                "TumultDaemon",
                "TumultFaults",
                .product(name: "Hummingbird", package: "hummingbird"),
                // NIOCore: per-connection guards and the body-size error.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The CLI: parsing and printing only.
        .executableTarget(
            name: "tumult",
            dependencies: [
                "TumultModel",
                "TumultDaemon",
                "TumultFaults",
                "TumultSystem",
                "TumultController",
                "TumultServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `swift run -c release tumult-bench` prints the benchmark tables.
        .executableTarget(
            name: "tumult-bench",
            dependencies: ["TumultModel", "TumultSystem", "TumultController"],
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
            name: "TumultModelTests",
            dependencies: ["TumultModel", "tumult"]
        ),
        .testTarget(
            name: "TumultControllerTests",
            dependencies: [
                "TumultController", "TumultServer", "TumultDaemon", "TumultSystem", "tumult", "tumult-netem",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "TumultFaultsTests",
            dependencies: ["TumultFaults", "TumultDaemon", "TumultSystem", "tumult", "tumult-netem", "tumult-stress", "tumult-bench"]
        ),
    ]
)
