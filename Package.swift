// swift-tools-version:6.0
import PackageDescription

// Library targets hold all logic; `sockscope` only parses arguments and wires them.
//
//   SockscopeModel     plain Sendable values: records, endpoints of every family, protocols, summaries
//   SockscopeSystem    syscalls, libmnl and kernel headers (CMnl, CSockShim); typed Errno
//   SockscopeFilter    the query and its kernel bytecode (Model)
//   SockscopeCollect   sources (netlink per family, /proc) and byte parsers; owner index (System, Filter)
//   SockscopeAnalysis  pure analyses: change tracking, summary, listener health, connection map,
//                      ephemeral pressure (Model only)
//   SockscopeRender    table, JSON, NDJSON, DOT (Model)
//   SockscopeTUI       the live view's pure view model (Model, Filter, Analysis, Render): no C
//   SockscopeTerminal  the thin ncursesw layer that draws it and reads keys (CNcursesw, CCursesShim;
//                      System for the signal pipe and the collector's thread)
//
// C is touched by SockscopeSystem (libmnl, kernel headers, syscalls), SockscopeTerminal (curses)
// and, for what Swift cannot import, the two shims. Analysis, Render and TUI never link libmnl.
let package = Package(
    name: "sockscope",
    products: [
        .executable(name: "sockscope", targets: ["sockscope"]),
        .executable(name: "sockscope-bench", targets: ["sockscope-bench"]),
        .executable(name: "sockscope-floor", targets: ["sockscope-floor"]),
        .executable(name: "sockscope-exporter", targets: ["sockscope-exporter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // The exporter's HTTP stack, TLS, bcrypt (web config basic auth) and YAML (web config file);
        // only `sockscope-exporter` links them.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C: libmnl as a system library, and a shim for what Swift cannot import (macros, tcp_info).
        .systemLibrary(name: "CMnl", path: "Sources/CMnl", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        .target(name: "CSockShim", path: "Sources/CSockShim"),

        .target(name: "SockscopeModel"),
        .target(name: "SockscopeSystem", dependencies: [
            "CMnl", "CSockShim", "SockscopeModel",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .target(name: "SockscopeFilter", dependencies: ["SockscopeModel"]),
        .target(name: "SockscopeCollect", dependencies: ["SockscopeModel", "SockscopeSystem", "SockscopeFilter"]),
        .target(name: "SockscopeAnalysis", dependencies: ["SockscopeModel"]),
        .target(name: "SockscopeRender", dependencies: ["SockscopeModel"]),
        // The live view (-w): a pure view model, and a thin ncursesw layer that only draws it and reads keys.
        // CCursesShim is the one C file for what Swift cannot use from curses.h (macros, globals, ioctl, signals).
        // No pkgConfig: ncursesw.pc's cflags are -D_DEFAULT_SOURCE -D_XOPEN_SOURCE=600, which SwiftPM rejects
        // ("prohibited flag(s)"); the headers are in the default path and only narrow-character calls are used.
        .systemLibrary(name: "CNcursesw", path: "Sources/CNcursesw", providers: [.apt(["libncurses-dev"])]),
        .target(name: "CCursesShim", dependencies: ["CNcursesw"], path: "Sources/CCursesShim"),
        .target(name: "SockscopeTUI", dependencies: ["SockscopeModel", "SockscopeFilter", "SockscopeAnalysis", "SockscopeRender"]),
        .target(name: "SockscopeTerminal", dependencies: [
            "SockscopeModel", "SockscopeSystem", "SockscopeAnalysis", "SockscopeTUI", "CNcursesw", "CCursesShim",
        ]),
        .executableTarget(name: "sockscope", dependencies: [
            "SockscopeModel", "SockscopeSystem", "SockscopeFilter", "SockscopeCollect", "SockscopeAnalysis", "SockscopeRender",
            "SockscopeTUI", "SockscopeTerminal",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The Prometheus exporter: scrape-time collection, per-namespace workers, the series cap and
        // counters live in a library without NIO (unit-tested); the executable adds HTTP and flags.
        .target(name: "SockscopeExporterCore", dependencies: [
            "SockscopeModel", "SockscopeSystem", "SockscopeFilter", "SockscopeCollect", "SockscopeAnalysis", "SockscopeRender",
        ]),
        .executableTarget(name: "sockscope-exporter", dependencies: [
            "SockscopeExporterCore", "SockscopeFilter", "SockscopeModel", "SockscopeRender", "SockscopeSystem",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Yams", package: "Yams"),
        ]),

        // The benchmark: sockscope against ss and netstat on a loopback load, and the live view's refresh cost.
        .executableTarget(name: "sockscope-bench", dependencies: [
            "SockscopeModel", "SockscopeFilter", "SockscopeCollect", "SockscopeAnalysis", "SockscopeRender", "SockscopeTUI",
        ], path: "Sources/sockscope-bench"),
        // The floor the benchmark compares against: the same kernel reads with no decoding (C, no Swift runtime).
        .executableTarget(name: "sockscope-floor", path: "Sources/sockscope-floor"),

        .target(name: "TestSupport", dependencies: ["SockscopeModel"], path: "Tests/TestSupport"),
        .testTarget(name: "SockscopeModelTests", dependencies: ["SockscopeModel", "TestSupport"]),
        .testTarget(name: "SockscopeSystemTests", dependencies: ["SockscopeSystem", "TestSupport"]),
        .testTarget(name: "SockscopeFilterTests", dependencies: ["SockscopeFilter", "TestSupport"]),
        .testTarget(name: "SockscopeCollectTests", dependencies: ["SockscopeCollect", "SockscopeFilter", "SockscopeSystem", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "SockscopeAnalysisTests", dependencies: ["SockscopeAnalysis", "SockscopeFilter", "TestSupport"]),
        .testTarget(name: "SockscopeRenderTests", dependencies: ["SockscopeRender", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "SockscopeTUITests", dependencies: ["SockscopeTUI", "SockscopeAnalysis", "TestSupport"],
                    exclude: ["Golden"]),
        .testTarget(name: "sockscopeTests", dependencies: ["TestSupport"], exclude: ["Helpers", "filter_differential.py"]),
        .testTarget(name: "SockscopeExporterCoreTests", dependencies: [
            "SockscopeExporterCore", "SockscopeCollect", "SockscopeAnalysis", "SockscopeFilter", "SockscopeRender", "TestSupport",
        ]),
        .testTarget(name: "sockscope-exporterTests", dependencies: ["TestSupport"]),
    ]
)

// Fuzz targets: declared only when SOCKSCOPE_FUZZ is set, so `swift build` and `swift test`
// never build them; `.ci/fuzz` builds this product with `-sanitize=fuzzer` in a scratch path of its own.
if Context.environment["SOCKSCOPE_FUZZ"] != nil {
    package.products.append(.executable(name: "sockscope-fuzz", targets: ["sockscope-fuzz"]))
    package.targets.append(.executableTarget(name: "sockscope-fuzz", dependencies: [
        "SockscopeModel", "SockscopeFilter", "SockscopeCollect", "SockscopeRender", "SockscopeExporterCore",
    ], path: "Tests/Fuzz/Targets"))
}
