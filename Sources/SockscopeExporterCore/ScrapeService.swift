import Dispatch
import SockscopeCollect
import SockscopeModel
import SockscopeRender
import SockscopeSystem
import Synchronization

/// Everything a collection needs, fixed at start-up.
public struct ExporterConfig: Sendable {
    /// `--netns` names (or paths); empty with `all` false means the exporter's own namespace.
    public var netns: [String]
    public var allNetns: Bool
    public var read: ReadOptions
    public var builder: MetricsBuilder
    /// `--max-series`; nil for no cap.
    public var maxSeries: Int?
    /// `--min-interval`: a collection younger than this answers every scrape.
    public var minInterval: Double
    /// Join the sock_diag destroy groups (needs CAP_NET_ADMIN; falls back to dump differences).
    public var destroyEvents: Bool
    public var version: String
    /// Where `--all-netns` lists namespaces.
    public var runNetnsDirectory: String

    public init(netns: [String] = [], allNetns: Bool = false, read: ReadOptions, builder: MetricsBuilder,
                maxSeries: Int? = nil, minInterval: Double = 1, destroyEvents: Bool = true, version: String,
                runNetnsDirectory: String = "/run/netns") {
        self.netns = netns; self.allNetns = allNetns; self.read = read; self.builder = builder
        self.maxSeries = maxSeries; self.minInterval = minInterval; self.destroyEvents = destroyEvents
        self.version = version; self.runNetnsDirectory = runNetnsDirectory
    }
}

/// A finished collection: its families, written lazily once per format.
public final class CollectedMetrics: Sendable {
    public let families: [MetricFamily]
    /// Monotonic time the collection finished.
    public let finished: Double
    private let rendered = Mutex<[ExpositionFormat: [UInt8]]>([:])

    init(families: [MetricFamily], finished: Double) { self.families = families; self.finished = finished }

    /// The payload in `format` (written on first use, then shared by every scrape).
    public func payload(_ format: ExpositionFormat) -> [UInt8] {
        if let p = rendered.withLock({ $0[format] }) { return p }
        let p = MetricsWriter.write(families, format: format)
        rendered.withLock { $0[format] = p }
        return p
    }
}

/// The answer to a scrape.
public enum ScrapeOutcome: Sendable {
    case metrics(CollectedMetrics)
    /// No complete payload by the deadline: the HTTP layer answers 503 with this reason.
    case unavailable(String)
}

/// Serves scrapes from collections made at scrape time: no background polling. A collection
/// younger than `minInterval` answers at once; concurrent scrapes wait for the one collection in
/// flight; a scrape whose deadline passes gets `.unavailable`, never a part of a payload (the
/// collection goes on and serves the next scrape).
public final class ScrapeService: Sendable {
    public let config: ExporterConfig

    struct Waiter { var id: UInt64; var continuation: CheckedContinuation<ScrapeOutcome, Never> }
    struct State {
        var cached: CollectedMetrics?
        var inFlight: [Waiter]?
        var nextWaiter: UInt64 = 0
        var workers: [String: (worker: NamespaceWorker, identity: UInt64?)] = [:]
        var collections: UInt64 = 0
        var seriesDropped: UInt64 = 0
        var collectionStarted = 0.0
    }
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "sockscope-exporter.collect")

    public init(config: ExporterConfig) { self.config = config }

    /// Collections made so far.
    public var collections: UInt64 { state.withLock { $0.collections } }

    /// The metrics for a scrape that must be answered within `timeout` seconds.
    public func scrape(timeout: Double) async -> ScrapeOutcome {
        let now = Clock.monotonic()
        let cached: CollectedMetrics? = state.withLock { s in
            guard let c = s.cached, now - c.finished < config.minInterval else { return nil }
            return c
        }
        if let cached { return .metrics(cached) }
        return await withCheckedContinuation { (c: CheckedContinuation<ScrapeOutcome, Never>) in
            let (id, start) = state.withLock { s -> (UInt64, Bool) in
                let id = s.nextWaiter
                s.nextWaiter += 1
                let fresh = s.inFlight == nil
                s.inFlight = (s.inFlight ?? []) + [Waiter(id: id, continuation: c)]
                if fresh { s.collectionStarted = Clock.monotonic() }
                return (id, fresh)
            }
            if start { queue.async { self.collect() } }
            DispatchQueue.global().asyncAfter(deadline: .now() + max(0, timeout)) {
                let (waiter, started) = self.state.withLock { s -> (Waiter?, Double) in
                    guard let i = s.inFlight?.firstIndex(where: { $0.id == id }) else { return (nil, 0) }
                    return (s.inFlight!.remove(at: i), s.collectionStarted)
                }
                let running = Clock.monotonic() - started
                waiter?.continuation.resume(returning: .unavailable(
                    "collection still running after \(MetricsWriter.number((running * 1000).rounded() / 1000)) s "
                        + "(scrape deadline \(MetricsWriter.number(timeout)) s); it will serve the next scrape"))
            }
        }
    }

    /// How long a collection waits for a namespace's thread before calling that namespace down
    /// (a dump that hangs must not hold every later scrape).
    static let namespaceTimeout = 60.0

    /// One collection: every namespace read on its own thread, owners scanned alongside, then the
    /// families built and capped. Runs on `queue`, one at a time.
    private func collect() {
        let started = Clock.monotonic()
        let targets = NamespaceTarget.resolve(names: config.netns, all: config.allNetns,
                                              runDirectory: config.runNetnsDirectory)
        let workers = workersFor(targets)
        let ownerJob = config.builder.needsOwners ? BackgroundJob { OwnerScanner(procRoot: "/proc", cgroups: false).scan() } : nil
        let results = Mutex<[String: Result<NamespaceReading, CollectFailure>]>([:])
        let group = DispatchGroup()
        for (target, worker) in workers {
            switch worker {
            case .failure(let e):
                results.withLock { $0[target.label] = .failure(e) }
            case .success(let w):
                group.enter()
                let options = config.read
                w.submit { ns in
                    let r: Result<NamespaceReading, CollectFailure>
                    do throws(CollectFailure) { r = .success(try ns.read(options)) } catch { r = .failure(error) }
                    results.withLock { $0[target.label] = r }
                    group.leave()
                }
            }
        }
        let complete = group.wait(timeout: .now() + Self.namespaceTimeout) == .success
        let owners = ownerJob?.wait()
        var readings: [NamespaceReading] = []
        var up: [(String, Bool)] = []
        let all = results.withLock { $0 }
        for t in targets {
            switch all[t.label] {
            case .success(var r)?:
                if let owners {
                    for i in r.records.indices { r.records[i].processes = owners.owners(of: r.records[i].inode) }
                }
                for n in r.notices { FileOutput.standardError("sockscope-exporter: \(n)") }
                readings.append(r)
                up.append((t.label, true))
            case .failure(let e)?:
                FileOutput.standardError("sockscope-exporter: \(e)")
                up.append((t.label, false))
            case nil:
                if !complete {
                    FileOutput.standardError("sockscope-exporter: netns \(t.label): no answer within \(Int(Self.namespaceTimeout)) s")
                }
                up.append((t.label, false))
            }
        }
        var set = MetricSet(maxSeries: config.maxSeries)
        for f in config.builder.families(readings) { set.add(f) }
        let finished = Clock.monotonic()
        let (collections, dropped) = state.withLock { s -> (UInt64, UInt64) in
            s.collections += 1
            s.seriesDropped += UInt64(set.dropped)
            return (s.collections, s.seriesDropped)
        }
        var families = set.families
        families.append(contentsOf: Self.selfFamilies(up: up, duration: finished - started, series: set.series,
                                                      dropped: dropped, collections: collections, version: config.version))
        let metrics = CollectedMetrics(families: families, finished: finished)
        let waiters = state.withLock { s -> [Waiter] in
            s.cached = metrics
            let w = s.inFlight ?? []
            s.inFlight = nil
            return w
        }
        for w in waiters { w.continuation.resume(returning: .metrics(metrics)) }
    }

    /// The exporter's own series, outside the cap. `series` counts the collected ones; the total
    /// written into `sockscope_scrape_series` includes these.
    static func selfFamilies(up: [(String, Bool)], duration: Double, series: Int, dropped: UInt64, collections: UInt64,
                             version: String) -> [MetricFamily] {
        var fams: [MetricFamily] = [
            MetricFamily("sockscope_netns_up", .gauge,
                         help: "1 when the namespace was read completely, 0 when it could not be (its series are absent).",
                         samples: up.map { MetricSample([MetricLabel("netns", $0.0)], $0.1 ? 1 : 0) }),
            MetricFamily("sockscope_scrape_duration_seconds", .gauge,
                         help: "Seconds the collection behind this payload took.", unit: "seconds",
                         samples: [MetricSample([], duration)]),
            MetricFamily("sockscope_series_dropped", .counter,
                         help: "Series left out by --max-series, summed over collections.",
                         samples: [MetricSample([], Double(dropped))]),
            MetricFamily("sockscope_collections", .counter,
                         help: "Collections made (scrapes within --min-interval of one share it).",
                         samples: [MetricSample([], Double(collections))]),
            MetricFamily("sockscope_build", .info, help: "The exporter's version.",
                         samples: [MetricSample([MetricLabel("version", version)], 1)]),
        ]
        let own = fams.reduce(0) { $0 + $1.seriesCount } + 1
        fams.insert(MetricFamily("sockscope_scrape_series", .gauge, help: "Series in this payload, these included.",
                                 samples: [MetricSample([], Double(series + own))]), at: 2)
        return fams
    }

    /// Workers for `targets`, started as needed; ones for namespaces no longer listed are stopped
    /// (a thread left in a deleted namespace would keep it alive), and one whose name now points at
    /// another namespace is replaced.
    private func workersFor(_ targets: [NamespaceTarget]) -> [(NamespaceTarget, Result<NamespaceWorker, CollectFailure>)] {
        var out: [(NamespaceTarget, Result<NamespaceWorker, CollectFailure>)] = []
        var stale: [NamespaceWorker] = []
        var current = state.withLock { $0.workers }
        let wanted = Set(targets.map(\.label))
        for (label, w) in current where !wanted.contains(label) {
            stale.append(w.worker)
            current.removeValue(forKey: label)
        }
        for t in targets {
            let identity = t.path.flatMap { NamespaceTarget.inode($0) }
            if let w = current[t.label], w.identity == identity {
                out.append((t, .success(w.worker)))
                continue
            }
            if let w = current.removeValue(forKey: t.label) { stale.append(w.worker) }
            do {
                let w = try NamespaceWorker(t, destroyEvents: config.destroyEvents && config.read.connections,
                                            topPorts: config.builder.top)
                current[t.label] = (w, identity)
                out.append((t, .success(w)))
            } catch {
                out.append((t, .failure(error)))
            }
        }
        state.withLock { $0.workers = current }
        for w in stale { w.stop() }
        return out
    }

    /// Stops every namespace thread.
    public func shutdown() {
        let ws = state.withLock { s -> [NamespaceWorker] in
            let w = s.workers.values.map(\.worker)
            s.workers = [:]
            return w
        }
        for w in ws { w.stop() }
    }
}
