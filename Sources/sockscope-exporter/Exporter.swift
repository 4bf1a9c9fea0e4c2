import ArgumentParser
import SockscopeCollect
import SockscopeExporterCore
import SockscopeFilter
import SockscopeModel
import SockscopeSystem
#if canImport(Glibc)
import Glibc
#endif

/// The exporter's version (shared with `sockscope --version`).
let exporterVersion = "0.1.0"

/// The default port: outside Prometheus' 9100–9999 exporter block (all taken) and not in
/// /etc/services.
let defaultPort = 10133

@main
struct Exporter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sockscope-exporter",
        abstract: "Serve socket-table metrics (listener queues, states, ephemeral ports, connection counts) to Prometheus.",
        discussion: """
        Metrics are collected when scraped (no background polling) and cached for --min-interval. \
        Collectors: \(MetricsCollector.allCases.map { $0.rawValue + ($0.enabledByDefault ? "" : " (off by default)") }.joined(separator: ", ")); \
        turn one on with --collector.NAME, off with --no-collector.NAME. See sockscope-exporter(1).
        """,
        version: exporterVersion)

    @Option(name: .customLong("web.listen-address"), help: ArgumentHelp(
        "Address to listen on: HOST:PORT, [IPv6]:PORT, or :PORT for every IPv4 address (default :\(defaultPort)).",
        valueName: "address"))
    var listenAddress = ":\(defaultPort)"
    @Option(name: .customLong("web.telemetry-path"), help: ArgumentHelp("Path of the metrics.", valueName: "path"))
    var telemetryPath = "/metrics"
    @Option(name: .customLong("web.config.file"), help: ArgumentHelp(
        "TLS and basic-auth settings, in the exporter-toolkit format (tls_server_config, basic_auth_users).",
        valueName: "file"))
    var webConfigFile: String?
    @Option(name: .customLong("web.max-connections"), help: ArgumentHelp(
        "Most HTTP connections open at once; more wait in the listen backlog (default 1024).", valueName: "n"))
    var maxConnections = 1024
    @Option(name: .customLong("web.idle-timeout"), help: ArgumentHelp(
        "Seconds before an idle HTTP connection is closed (default 60).", valueName: "seconds"))
    var idleTimeout = 60.0
    @Option(name: .customLong("web.scrape-timeout"), help: ArgumentHelp(
        "Longest a scrape waits for its collection before answering 503 (default 10; Prometheus' "
            + "X-Prometheus-Scrape-Timeout-Seconds lowers it).", valueName: "seconds"))
    var scrapeTimeout = 10.0

    @Option(name: .customLong("netns"), help: ArgumentHelp(
        "Also (or only) this network namespace: a name under /run/netns or a path; repeatable.", valueName: "name"))
    var netns: [String] = []
    @Flag(name: .customLong("all-netns"), help: "The exporter's own namespace and every one under /run/netns (listed at each collection).")
    var allNetns = false
    @Option(name: .customLong("filter"), help: ArgumentHelp(
        "Only sockets matching this filter (see sockscope-exporter(1)).", valueName: "expr"))
    var filter: String?
    @Flag(name: .customLong("owners"), help: "Process names (comm) on listener series (scans /proc at each collection).")
    var owners = false
    @Option(name: .customLong("max-series"), help: ArgumentHelp(
        "Most series collected per scrape; the rest are dropped and counted in sockscope_series_dropped_total "
            + "(default 20000; 0: no cap).", valueName: "n"))
    var maxSeries = 20000
    @Option(name: .customLong("min-interval"), help: ArgumentHelp(
        "Seconds a collection answers scrapes before a new one is made (default 1).", valueName: "seconds"))
    var minInterval = 1.0
    @Option(name: .customLong("top"), help: ArgumentHelp(
        "Destinations, processes and ports that get series of their own (default 10).", valueName: "n"))
    var top = 10
    @Option(name: .customLong("source"), help: ArgumentHelp(
        "Where to read sockets: auto (netlink, falling back to /proc), netlink or proc.", valueName: "source"))
    var source: SourceChoice = .auto

    /// `--collector.NAME` / `--no-collector.NAME`, taken out of the arguments before parsing (one
    /// flag per collector would be a property per collector). Written once in `main` before any
    /// other thread exists, read after.
    nonisolated(unsafe) static var collectorSwitches: [(MetricsCollector, Bool)] = []

    static func main() {
        // A fixed mmap threshold: glibc otherwise raises it to the largest block freed so far, so
        // after one scrape the next one's record arrays and tables (megabytes at 100k sockets) come
        // from the heap and stay resident between scrapes, and several threads' arenas each keep
        // their own. Fixed, blocks past it are mapped and unmapped with each collection. Measured at
        // 100k sockets (the same build with MALLOC_MMAP_THRESHOLD_=262144, one paired run per
        // collector set): peak RSS 1–4 MiB lower in each of the six bench cases (75.1 -> 70.9 MiB with
        // the defaults), scrape CPU unchanged within the 10 ms ticks.
        ProcessMemory.fixMmapThreshold(256 << 10)
        ProcessSetup.ignoreBrokenPipe()
        ProcessSetup.reserveStandardDescriptors()
        var rest: [String] = []
        for arg in CommandLine.arguments.dropFirst() {
            for (prefix, on) in [("--collector.", true), ("--no-collector.", false)] where arg.hasPrefix(prefix) {
                let name = String(arg.dropFirst(prefix.count))
                guard let c = MetricsCollector(rawValue: name) else {
                    usageError("unknown collector '\(name)' (known: \(MetricsCollector.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                collectorSwitches.append((c, on))
            }
            if !arg.hasPrefix("--collector.") && !arg.hasPrefix("--no-collector.") { rest.append(arg) }
        }
        let command: Exporter
        do {
            command = try Exporter.parse(rest)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            usageError(String(message(for: error).split(separator: "\n").first ?? "invalid arguments"))
        }
        Glibc.exit(command.execute())
    }

    static func usageError(_ message: String) -> Never {
        FileOutput.standardError("sockscope-exporter: \(message)")
        FileOutput.standardError("See 'sockscope-exporter --help' for more information.")
        Glibc.exit(2)
    }

    func validate() throws {
        guard telemetryPath.hasPrefix("/") else { throw ValidationError("--web.telemetry-path must start with /") }
        guard maxConnections > 0 else { throw ValidationError("--web.max-connections must be positive") }
        guard idleTimeout > 0, idleTimeout <= 86400 else { throw ValidationError("--web.idle-timeout must be in (0, 86400]") }
        guard scrapeTimeout > 0, scrapeTimeout <= 3600 else { throw ValidationError("--web.scrape-timeout must be in (0, 3600]") }
        guard maxSeries >= 0 else { throw ValidationError("--max-series must be 0 or more") }
        guard minInterval >= 0, minInterval <= 3600 else { throw ValidationError("--min-interval must be in [0, 3600]") }
        guard top >= 1, top <= 1000 else { throw ValidationError("--top must be in 1…1000") }
        _ = try ListenAddress(parsing: listenAddress)
    }

    var collectors: Set<MetricsCollector> {
        var set = Set(MetricsCollector.allCases.filter(\.enabledByDefault))
        for (c, on) in Self.collectorSwitches { if on { set.insert(c) } else { set.remove(c) } }
        return set
    }

    /// Builds the configuration and serves until SIGTERM or SIGINT; returns the exit status.
    func execute() -> Int32 {
        let query: Query
        do {
            query = try Self.query(filter: filter)
        } catch {
            Self.usageError("--filter: \(error.message)")
        }
        let web: WebConfig
        do {
            web = try webConfigFile.map { try WebConfig.load(path: $0) } ?? WebConfig()
            _ = try web.tlsConfiguration()
        } catch {
            FileOutput.standardError("sockscope-exporter: \(error)")
            return 2
        }
        for n in netns {
            let path = NetworkNamespace.path(for: n)
            if !Files.exists(path) {
                Self.usageError("--netns \(n): \(path) does not exist")
            }
        }
        let collectors = collectors
        let builder = MetricsBuilder(collectors: collectors, owners: owners, top: top)
        let read = ReadOptions(query: query, source: source, tcpInfo: collectors.contains(.rtt),
                               netstat: collectors.contains(.netstat), ephemeral: collectors.contains(.ephemeral),
                               connections: collectors.contains(.connections))
        let config = ExporterConfig(netns: netns, allNetns: allNetns, read: read, builder: builder,
                                    maxSeries: maxSeries == 0 ? nil : maxSeries, minInterval: minInterval,
                                    version: exporterVersion)
        Limits.raiseOpenFiles()
        let settings = ServerSettings(address: try! ListenAddress(parsing: listenAddress), telemetryPath: telemetryPath,
                                      web: web, maxConnections: maxConnections, idleTimeout: idleTimeout,
                                      scrapeTimeout: scrapeTimeout)
        return MetricsServer.run(settings: settings, service: ScrapeService(config: config))
    }

    /// The one place `--filter` becomes the query every namespace is read with.
    static func query(filter: String?) throws(FilterError) -> Query {
        let services = filter == nil ? ServiceTable() : ServicesParser.load()
        return try ExporterQuery.make(filter: filter, environment: ExporterQuery.environment(services: { services.ports(named: $0) }))
    }
}

extension SourceChoice: ExpressibleByArgument {}

/// `--web.listen-address`.
struct ListenAddress: Sendable {
    var host: String
    var port: Int

    init(parsing text: String) throws {
        let hostPart: Substring, portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ValidationError("--web.listen-address: expected [IPv6]:PORT, got '\(text)'")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ValidationError("--web.listen-address: expected HOST:PORT, got '\(text)'")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard let p = Int(portPart), (0...65535).contains(p) else {
            throw ValidationError("--web.listen-address: bad port in '\(text)'")
        }
        host = hostPart.isEmpty ? "0.0.0.0" : String(hostPart)
        port = p
    }
}

enum Limits {
    /// Raises the soft open-files limit to the hard one: every scrape connection and namespace
    /// thread's netlink sockets take descriptors, and the soft default (1024) is below what
    /// `--web.max-connections` allows.
    static func raiseOpenFiles() {
        var l = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &l) == 0, l.rlim_cur < l.rlim_max else { return }
        l.rlim_cur = min(l.rlim_max, 1 << 20)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &l)
    }
}
