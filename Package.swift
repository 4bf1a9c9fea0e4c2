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
//   SockscopeTerminal  the thin ncursesw layer that draws it and reads keys (CNcursesw, CCursesShim)
//
// C is touched by SockscopeSystem (libmnl, kernel headers, syscalls), SockscopeTerminal (curses)
// and, for what Swift cannot import, the two shims. Analysis, Render, TUI and Terminal never link libmnl.
let package = Package(
    name: "sockscope",
    products: [
        .executable(name: "sockscope", targets: ["sockscope"]),
        .executable(name: "sockscope-bench", targets: ["sockscope-bench"]),
        .executable(name: "sockscope-floor", targets: ["sockscope-floor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
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
            "SockscopeModel", "SockscopeAnalysis", "SockscopeTUI", "CNcursesw", "CCursesShim",
        ]),
        .executableTarget(name: "sockscope", dependencies: [
            "SockscopeModel", "SockscopeSystem", "SockscopeFilter", "SockscopeCollect", "SockscopeAnalysis", "SockscopeRender",
            "SockscopeTUI", "SockscopeTerminal",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The benchmark: sockscope against ss and netstat on a loopback load, and the live view's refresh cost.
        .executableTarget(name: "sockscope-bench", dependencies: [
            "SockscopeModel", "SockscopeFilter", "SockscopeCollect", "SockscopeAnalysis", "SockscopeTUI",
        ], path: "Sources/sockscope-bench"),
        // The floor the benchmark compares against: the same kernel reads with no decoding (C, no Swift runtime).
        .executableTarget(name: "sockscope-floor", path: "Sources/sockscope-floor"),

        .target(name: "TestSupport", dependencies: ["SockscopeModel"], path: "Tests/TestSupport"),
        .testTarget(name: "SockscopeModelTests", dependencies: ["SockscopeModel"]),
        .testTarget(name: "SockscopeSystemTests", dependencies: ["SockscopeSystem", "TestSupport"]),
        .testTarget(name: "SockscopeFilterTests", dependencies: ["SockscopeFilter", "TestSupport"]),
        .testTarget(name: "SockscopeCollectTests", dependencies: ["SockscopeCollect", "SockscopeFilter", "SockscopeSystem", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "SockscopeAnalysisTests", dependencies: ["SockscopeAnalysis", "SockscopeFilter", "TestSupport"]),
        .testTarget(name: "SockscopeRenderTests", dependencies: ["SockscopeRender", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "SockscopeTUITests", dependencies: ["SockscopeTUI", "SockscopeAnalysis", "TestSupport"],
                    exclude: ["Golden"]),
        .testTarget(name: "sockscopeTests", dependencies: ["TestSupport"], exclude: ["Helpers", "filter_differential.py"]),
    ]
)

// Fuzz targets: declared only when SOCKSCOPE_FUZZ is set, so `swift build` and `swift test`
// never build them; `.ci/fuzz` builds this product with `-sanitize=fuzzer` in a scratch path of its own.
if Context.environment["SOCKSCOPE_FUZZ"] != nil {
    package.products.append(.executable(name: "sockscope-fuzz", targets: ["sockscope-fuzz"]))
    package.targets.append(.executableTarget(name: "sockscope-fuzz", dependencies: [
        "SockscopeModel", "SockscopeFilter", "SockscopeCollect",
    ], path: "Tests/Fuzz/Targets"))
}
