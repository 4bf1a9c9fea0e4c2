import Foundation
import SockscopeAnalysis
import SockscopeCollect
import SockscopeExporterCore
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem
import Synchronization
import Testing
import TestSupport

/// Reads the sockets on `port` (either end) from the kernel, as the exporter does.
func dump(port: UInt16, tcpInfo: Bool = false) throws -> [SocketRecord] {
    var q = ExporterQuery.everything
    q.ports = PortFilter(either: PortSpec(ranges: [port...port]))
    return try SocketCollector(options: CollectOptions(tcpInfo: tcpInfo)).collect(q).records
}

func reading(_ records: [SocketRecord], counters: ConnectionCounters? = nil) -> NamespaceReading {
    NamespaceReading(label: "host", records: records, backlogKnown: true, listenCounters: ListenCounters(overflows: 3, drops: 4),
                     ephemeralRange: EphemeralRange(low: 32768, high: 60999), connections: counters?.counts ?? [:])
}

func sample(_ f: MetricFamily, _ labels: [String: String]) -> Double? {
    for s in f.samples where labels.allSatisfy({ k, v in s.labels.contains { $0.name == k && $0.value == v } }) {
        if case .number(let v) = s.value { return v }
    }
    return nil
}

/// Both ends of a loopback connection as the kernel lists them: the client's local endpoint is
/// one end's local and the other's remote.
func openEnds(of pair: (TestSocket, TestSocket), port: UInt16) throws -> [SocketRecord] {
    let client = pair.0.local
    return try dump(port: port).filter {
        ConnectionCounters.isOpenConnection($0) && ($0.local == client || $0.remote == client)
    }
}

/// Waits (at most 2 s) until no dump shows one of `ends` as an open connection: a closed
/// loopback pair can linger a moment in FIN_WAIT or LAST_ACK.
func waitUntilClosed(_ ends: [SocketRecord], port: UInt16) throws {
    let cookies = Set(ends.compactMap(\.cookie))
    for _ in 0..<200 {
        if try dump(port: port).allSatisfy({ !(cookies.contains($0.cookie ?? 0) && ConnectionCounters.isOpenConnection($0)) }) {
            return
        }
        usleep(10_000)
    }
    Issue.record("closed connections were still open after 2 s")
}

@Suite struct ConnectionCounterTests {
    /// Real connections open and close between dumps: the counters follow, never go down, and the
    /// baseline is not counted as opened.
    @Test func monotonicWhileConnectionsComeAndGo() throws {
        let listener = try Loopback.tcpListener(backlog: 64)
        let port = listener.local.port
        var pairs: [(TestSocket, TestSocket)] = try (0..<2).map { _ in try Loopback.tcpPair(listener) }
        var counters = ConnectionCounters(topPorts: 10)
        counters.update(live: try dump(port: port), destroyed: [], now: 0)
        #expect(counters.counts.isEmpty, "the baseline is not counted")

        var previous: [ConnectionCounters.Key: ConnectionCounters.Counts] = [:]
        var expectedOpened: UInt64 = 0, expectedClosed: UInt64 = 0
        var rng = SplitMix64(seed: 15)
        for round in 1...12 {
            let opens = Int(rng.next() % 3), closes = min(pairs.count, Int(rng.next() % 3))
            pairs.removeFirst(closes)
            for _ in 0..<opens { pairs.append(try Loopback.tcpPair(listener)) }
            expectedOpened += UInt64(opens)
            expectedClosed += UInt64(closes)
            // A closed pair leaves TIME_WAIT (or FIN_WAIT) behind on one side: not an open connection.
            counters.update(live: try dump(port: port), destroyed: [], now: Double(round))
            let inbound = ConnectionCounters.Key(proto: .tcp, direction: .inbound, port: String(port))
            let outbound = ConnectionCounters.Key(proto: .tcp, direction: .outbound, port: String(port))
            #expect(counters.counts[inbound]?.opened ?? 0 == expectedOpened, "round \(round)")
            #expect(counters.counts[outbound]?.opened ?? 0 == expectedOpened, "round \(round)")
            #expect(counters.counts[inbound]?.closed ?? 0 == expectedClosed, "round \(round)")
            #expect(counters.counts[outbound]?.closed ?? 0 == expectedClosed, "round \(round)")
            for (k, c) in previous {
                let now = counters.counts[k]
                #expect(now != nil, "a series never disappears")
                #expect(now!.opened >= c.opened && now!.closed >= c.closed)
            }
            previous = counters.counts
        }
    }

    /// A connection opened and closed between two dumps is counted from its destroy message; the
    /// late message of one the diff already closed is not counted again.
    @Test func destroyMessages() throws {
        let listener = try Loopback.tcpListener()
        let port = listener.local.port
        var pair: (TestSocket, TestSocket)? = try Loopback.tcpPair(listener)
        var counters = ConnectionCounters(topPorts: 10)
        counters.update(live: try dump(port: port), destroyed: [], now: 0)
        let before = try dump(port: port).filter { ConnectionCounters.isOpenConnection($0) }
        #expect(before.count == 2)

        // The short-lived connection: seen only in the destroy messages.
        var short: (TestSocket, TestSocket)? = try Loopback.tcpPair(listener)
        let shortRecords = try openEnds(of: short!, port: port)
        #expect(shortRecords.count == 2)
        pair = nil
        _ = pair
        counters.update(live: try dump(port: port).filter { r in !shortRecords.contains { $0.cookie == r.cookie } },
                        destroyed: shortRecords, now: 1)
        let inbound = ConnectionCounters.Key(proto: .tcp, direction: .inbound, port: String(port))
        #expect(counters.counts[inbound] == ConnectionCounters.Counts(opened: 1, closed: 2))

        // The baseline pair's messages arrive late: already closed by the diff, not counted again.
        short = nil
        _ = short
        counters.update(live: try dump(port: port), destroyed: before, now: 2)
        #expect(counters.counts[inbound] == ConnectionCounters.Counts(opened: 1, closed: 2))
    }

    /// A destroy message seen twice (folded between scrapes, then again at the next dump, or twice
    /// in one batch) closes its connection once; one the dump never saw counts opened and closed once.
    @Test func repeatedDestroyMessagesCountOnce() throws {
        let listener = try Loopback.tcpListener()
        let port = listener.local.port
        var counters = ConnectionCounters(topPorts: 10)
        counters.update(live: try dump(port: port), destroyed: [], now: 0)
        var seen: (TestSocket, TestSocket)? = try Loopback.tcpPair(listener)
        let live = try dump(port: port)
        counters.update(live: live, destroyed: [], now: 1)
        let inbound = ConnectionCounters.Key(proto: .tcp, direction: .inbound, port: String(port))
        let outbound = ConnectionCounters.Key(proto: .tcp, direction: .outbound, port: String(port))
        #expect(counters.counts[inbound] == ConnectionCounters.Counts(opened: 1, closed: 0))
        let ends = live.filter { ConnectionCounters.isOpenConnection($0) }
        #expect(ends.count == 2)

        // Never in a dump: opened and closed between them.
        var unseen: (TestSocket, TestSocket)? = try Loopback.tcpPair(listener)
        let unseenEnds = try openEnds(of: unseen!, port: port)
        #expect(unseenEnds.count == 2)
        seen = nil
        unseen = nil
        _ = (seen, unseen)
        try waitUntilClosed(ends + unseenEnds, port: port)
        let serving = ServerBindings(live)
        counters.fold(destroyed: ends + unseenEnds, serving: serving)
        let afterFold = counters.counts
        #expect(afterFold[inbound] == ConnectionCounters.Counts(opened: 2, closed: 2))
        #expect(afterFold[outbound] == ConnectionCounters.Counts(opened: 2, closed: 2))
        counters.update(live: try dump(port: port), destroyed: ends + unseenEnds + ends, now: 2)
        #expect(counters.counts == afterFold)
        counters.update(live: try dump(port: port), destroyed: [], now: 3)
        #expect(counters.counts == afterFold)
    }

    /// Outbound remote ports keep their series once given; past `topPorts` they count as other.
    @Test func stickyPorts() throws {
        let listeners = try (0..<3).map { _ in try Loopback.tcpListener() }
        // The client ends alone (their listeners left out) are outbound connections to three ports.
        var counters = ConnectionCounters(topPorts: 2)
        counters.update(live: [], destroyed: [], now: 0)
        var clients: [SocketRecord] = []
        var keep: [(TestSocket, TestSocket)] = []
        for l in listeners {
            let p = try Loopback.tcpPair(l)
            keep.append(p)
            clients += try dump(port: l.local.port).filter { $0.local == p.0.local }
        }
        counters.update(live: clients, destroyed: [], now: 1)
        let ports = Set(counters.counts.keys.filter { $0.direction == .outbound }.map(\.port))
        let all = Set(listeners.map { String($0.local.port) })
        // Two of the three ports got their own series (which two depends on the order seen), the third is other.
        #expect(ports.count == 3 && ports.contains("other") && ports.subtracting(["other"]).isSubset(of: all))
        // And they stay: a fourth connection to the first two ports' listener keeps its series.
        let named = ports.subtracting(["other"])
        counters.update(live: clients + (try dump(port: listeners[0].local.port).filter { $0.local == keep[0].0.local }),
                        destroyed: [], now: 1.5)
        #expect(Set(counters.counts.keys.filter { $0.direction == .outbound }.map(\.port)).subtracting(["other"]) == named)
        counters.update(live: [], destroyed: [], now: 2)
        #expect(counters.counts.values.reduce(0) { $0 + $1.closed } == 3)
    }
}

@Suite struct MetricsBuilderTests {
    /// A listener of backlog 2 that never accepts, and two clients: queue 2, backlog 2, two
    /// connections from one peer; the socket gauges agree with the records.
    @Test func listenerSeries() throws {
        let listener = try Loopback.tcpListener(backlog: 2)
        let port = listener.local.port
        let clients = try (0..<2).map { _ in try Loopback.tcpConnect("127.0.0.1", port) }
        var records: [SocketRecord] = []
        // The handshake completes in the kernel; poll (bounded) until both are in the queue.
        for _ in 0..<200 {
            records = try dump(port: port)
            if records.first(where: { $0.state == .listen })?.recvQueue == 2 { break }
            usleep(10_000)
        }
        let builder = MetricsBuilder(collectors: Set(MetricsCollector.allCases), owners: false, top: 10)
        let fams = Dictionary(uniqueKeysWithValues: builder.families([reading(records)]).map { ($0.name, $0) })
        let l = ["netns": "host", "proto": "tcp", "address": "127.0.0.1", "port": String(port)]
        #expect(sample(fams["sockscope_listener_queue"]!, l) == 2)
        #expect(sample(fams["sockscope_listener_backlog"]!, l) == 2)
        #expect(sample(fams["sockscope_listener_connections"]!, l) == 2)
        #expect(sample(fams["sockscope_listener_peers"]!, l) == 1)
        #expect(sample(fams["sockscope_sockets"]!, ["family": "inet", "proto": "tcp", "state": "listen"]) == 1)
        #expect(sample(fams["sockscope_sockets"]!, ["family": "inet", "proto": "tcp", "state": "established"]) == 4)
        #expect(sample(fams["sockscope_sockets"]!, ["family": "inet6", "proto": "udp", "state": "unconn"]) == 0)
        // What the exporter reads, every state with zeros: 2 families x (11 TCP + 2 UDP states), nothing else.
        let socketSeries = fams["sockscope_sockets"]!.samples
        #expect(socketSeries.count == 26)
        #expect(Set(socketSeries.flatMap { $0.labels.filter { $0.name == "family" || $0.name == "proto" }.map(\.value) })
            == ["inet", "inet6", "tcp", "udp"])
        #expect(sample(fams["sockscope_listen_overflows"]!, ["netns": "host"]) == 3)
        #expect(sample(fams["sockscope_ephemeral_ports_range"]!, ["netns": "host"]) == 28232)
        // The two clients' ports are drawn from the range, towards 127.0.0.1:port.
        #expect(sample(fams["sockscope_ephemeral_ports_in_use"]!, ["destination": "127.0.0.1", "port": String(port)]) == 2)
        #expect(sample(fams["sockscope_ephemeral_ports_in_use"]!, ["destination": "other", "proto": "tcp"]) == 0)
        // One `other` series per protocol read (tcp, udp), none for protocols the exporter does not read.
        #expect(fams["sockscope_ephemeral_ports_in_use"]!.samples.filter { $0.labels.contains(MetricLabel("destination", "other")) }.count == 2)
        // The cap keeps the order: the most important families survive.
        var set = MetricSet(maxSeries: 10)
        for f in builder.families([reading(records)]) { set.add(f) }
        #expect(set.series == 10 && set.dropped > 0)
        #expect(set.families.first?.name == "sockscope_sockets" && set.families.first?.samples.count == 10)
        _ = clients
    }

    /// RTT histogram: accepted connections on the listener's port, from tcp_info.
    @Test func rttHistogram() throws {
        let listener = try Loopback.tcpListener()
        let pairs = try (0..<3).map { _ in try Loopback.tcpPair(listener) }
        let records = try dump(port: listener.local.port, tcpInfo: true)
        let builder = MetricsBuilder(collectors: [.rtt], owners: false, top: 10)
        let f = try #require(builder.families([reading(records)]).first)
        #expect(f.samples.count == 1)
        guard case .histogram(let cumulative, let count, let sum) = f.samples[0].value else {
            Issue.record("not a histogram")
            return
        }
        #expect(count == 3)
        #expect(cumulative.count == MetricsBuilder.rttBuckets.count)
        #expect(zip(cumulative, cumulative.dropFirst()).allSatisfy { $0 <= $1 } && cumulative.last! <= count)
        // Loopback RTTs are well under a second.
        #expect(sum < 3 && cumulative[MetricsBuilder.rttBuckets.firstIndex(of: 1)!] == 3)
        _ = pairs
    }
}

@Suite struct RTTTableTests {
    /// The exporter's path: the dump asks for tcp_info without decoding it, the table reads each
    /// message's RTT in place, and the histogram of records without tcpInfo agrees with the one
    /// from decoded records.
    @Test func rttFromMessagesMatchesDecodedRecords() throws {
        let listener = try Loopback.tcpListener()
        let pairs = try (0..<3).map { _ in try Loopback.tcpPair(listener) }
        let table = Mutex(RTTTable())
        var options = CollectOptions(tcpInfo: false)
        options.messageObserver = { p in table.withLock { $0.add(message: p) } }
        options.observedTCPExtensions = InetDiag.extInfo
        var q = ExporterQuery.everything
        q.ports = PortFilter(either: PortSpec(ranges: [listener.local.port...listener.local.port]))
        let records = try SocketCollector(options: options).collect(q).records
        #expect(records.allSatisfy { $0.tcpInfo == nil })
        let rtts = table.withLock { $0 }
        let established = records.filter { $0.state == .established }
        #expect(established.count == 6)
        #expect(established.allSatisfy { rtts.rttUs(cookie: $0.cookie ?? 0) != nil })
        var r = reading(records)
        r.rtts = rtts
        let f = try #require(MetricsBuilder(collectors: [.rtt], owners: false, top: 10).families([r]).first)
        guard case .histogram(_, let count, let sum) = try #require(f.samples.first).value else {
            Issue.record("not a histogram")
            return
        }
        #expect(count == 3 && sum < 3)
        _ = pairs
    }

    /// Open addressing through growth: every key kept, absent ones and cookie 0 not found.
    @Test func growsAndFinds() {
        var t = RTTTable(capacity: 1)
        for k in UInt64(1)...5000 { t.set(cookie: k &* 0x1_0001, rttUs: UInt32(k)) }
        t.set(cookie: 0, rttUs: 9)
        #expect(t.count == 5000)
        #expect((UInt64(1)...5000).allSatisfy { t.rttUs(cookie: $0 &* 0x1_0001) == UInt32($0) })
        #expect(t.rttUs(cookie: 0) == nil && t.rttUs(cookie: 7) == nil)
        t.set(cookie: 0x1_0001, rttUs: 42)
        #expect(t.count == 5000 && t.rttUs(cookie: 0x1_0001) == 42)
    }
}

@Suite struct ExporterQueryTests {
    @Test func filtersInTheFilterLanguage() throws {
        #expect(try ExporterQuery.make(filter: nil) == ExporterQuery.everything)
        let services = FilterEnvironment(services: { $0 == "https" ? [443] : [] })
        let q = try ExporterQuery.make(filter: "state established state listening ( dport >= :8000 and dport <= :8100 ) or sport = :https",
                                       environment: services)
        #expect(q.states.contains(.established) && q.states.contains(.listen) && !q.states.contains(.timeWait))
        let lo = IPAddress(ipv4: 0x7F00_0001)
        func rec(_ l: UInt16, _ r: UInt16) -> SocketRecord {
            SocketRecord(proto: .tcp, family: .inet, state: .established, local: Endpoint(address: lo, port: l),
                         remote: Endpoint(address: lo, port: r))
        }
        #expect(q.matchesPredicate(rec(40000, 8050)) && q.matchesPredicate(rec(443, 40000)))
        #expect(!q.matchesPredicate(rec(40000, 80)))
        let host = try ExporterQuery.make(filter: "dst 10.0.0.0/8")
        #expect(host.states == ExporterQuery.everything.states && !host.matchesPredicate(rec(1, 2)))
        #expect(throws: FilterError.self) { try ExporterQuery.make(filter: "state") }
        #expect(throws: FilterError.self) { try ExporterQuery.make(filter: "sport = :nosuchservice") }
        #expect(throws: FilterError.self) { try ExporterQuery.make(filter: "   ") }
    }
}

@Suite struct ScrapeServiceTests {
    static func config(minInterval: Double, netns: [String] = []) -> ExporterConfig {
        var q = ExporterQuery.everything
        q.protocols = [.tcp]
        let read = ReadOptions(query: q, tcpInfo: false, netstat: true, ephemeral: true, connections: true)
        return ExporterConfig(netns: netns, read: read,
                              builder: MetricsBuilder(collectors: [.sockets, .listeners, .netstat], owners: false, top: 10),
                              minInterval: minInterval, destroyEvents: false, version: "test")
    }

    /// 64 concurrent scrapes share one collection, and get the same payload.
    @Test func concurrentScrapesShareOneCollection() async throws {
        let service = ScrapeService(config: Self.config(minInterval: 3600))
        defer { service.shutdown() }
        let payloads = await withTaskGroup(of: [UInt8]?.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    if case .metrics(let m) = await service.scrape(timeout: 60) { return m.payload(.prometheusText) }
                    return nil
                }
            }
            var out: [[UInt8]?] = []
            for await p in group { out.append(p) }
            return out
        }
        #expect(payloads.count == 64 && payloads.allSatisfy { $0 != nil })
        #expect(Set(payloads.compactMap { $0 }).count == 1)
        #expect(service.collections == 1)
        let text = String(decoding: payloads[0]!, as: UTF8.self)
        #expect(text.contains("sockscope_collections_total 1\n"))
        #expect(text.contains("sockscope_netns_up{netns=\"host\"} 1\n"))
    }

    /// A collection that cannot finish by the deadline answers unavailable (with the reason), never
    /// a part; it goes on, and the next scrape gets its result. No dump finishes in a microsecond.
    @Test func pastTheDeadline() async throws {
        let service = ScrapeService(config: Self.config(minInterval: 3600))
        defer { service.shutdown() }
        let first = await service.scrape(timeout: 0.000001)
        guard case .unavailable(let reason) = first else {
            Issue.record("expected 503 before the collection could finish")
            return
        }
        #expect(reason.contains("still running"))
        let second = await service.scrape(timeout: 30)
        guard case .metrics(let m) = second else {
            Issue.record("expected metrics after the collection ended")
            return
        }
        let text = String(decoding: m.payload(.openMetrics), as: UTF8.self)
        #expect(text.contains("sockscope_sockets{"))
        #expect(text.hasSuffix("# EOF\n"))
        #expect(service.collections == 1, "the late scrape was served by the collection the first one started")
    }

    /// A FIFO given as a namespace is refused at once (not a namespace; nothing blocks on it).
    @Test func aFIFONamespaceIsDownAtOnce() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-fifo-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("slow").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let service = ScrapeService(config: Self.config(minInterval: 3600, netns: [fifo]))
        defer { service.shutdown() }
        guard case .metrics(let m) = await service.scrape(timeout: 30) else {
            Issue.record("expected metrics: the namespace is reported down, not waited for")
            return
        }
        let text = String(decoding: m.payload(.openMetrics), as: UTF8.self)
        #expect(text.contains("sockscope_netns_up{netns=\"\(fifo)\"} 0\n"))
    }
}

/// A small deterministic generator, so a failing round can be replayed.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
