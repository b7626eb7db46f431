// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Tumult",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tumult", targets: ["tumult"]),
        .library(name: "TumultModel", targets: ["TumultModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        // Chaos Mesh documents as values: decoding, validation, defaults. No I/O.
        .target(
            name: "TumultModel",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        // The CLI: parsing and printing only.
        .executableTarget(
            name: "tumult",
            dependencies: [
                "TumultModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // `swift run -c release tumult-bench` prints the benchmark tables.
        .executableTarget(
            name: "tumult-bench",
            dependencies: ["TumultModel"],
            path: "Benchmarks/TumultBenchmarks"
        ),
        .testTarget(
            name: "TumultModelTests",
            dependencies: ["TumultModel", "tumult"]
        ),
    ]
)
