import SockscopeAnalysis
import SockscopeCollect
import SockscopeModel
import SockscopeRender

/// A group of metrics that can be turned on and off (`--collector.NAME` / `--no-collector.NAME`).
public enum MetricsCollector: String, Sendable, Hashable, CaseIterable, Comparable {
    /// `sockscope_sockets`.
    case sockets
    /// `sockscope_listener_*`.
    case listeners
    /// `sockscope_listen_overflows_total`, `sockscope_listen_drops_total` (/proc/net/netstat).
    case netstat
    /// `sockscope_connections_opened_total`, `sockscope_connections_closed_total`.
    case connections
    /// `sockscope_ephemeral_ports_in_use`, `sockscope_ephemeral_ports_range`.
    case ephemeral
    /// `sockscope_tcp_rtt_seconds` (asks the kernel for tcp_info).
    case rtt
    /// `sockscope_process_sockets` (scans /proc for owners).
    case process

    /// Off by default: the owner scan reads every process's descriptors.
    public var enabledByDefault: Bool { self != .process }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// Turns readings into metric families. Pure: every input is a value, so tests feed records.
///
/// No label is ever per connection (4-tuple) or per process id: labels are namespaces, protocols,
/// families, states, listener bindings, a bounded set of remote ports and destinations, and process
/// names, each bounded by `top` or by what listens.
public struct MetricsBuilder: Sendable {
    public var collectors: Set<MetricsCollector>
    /// Process names (`comm`) on listener series.
    public var owners: Bool
    /// How many destinations, processes and RTT ports get series of their own.
    public var top: Int

    public init(collectors: Set<MetricsCollector>, owners: Bool, top: Int) {
        self.collectors = collectors; self.owners = owners; self.top = top
    }

    /// RTT bucket bounds in seconds: 100 µs (loopback, same rack) to 2.5 s (a congested path).
    public static let rttBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25, 0.5, 1, 2.5]

    /// Whether records need owners.
    public var needsOwners: Bool { collectors.contains(.process) || (owners && collectors.contains(.listeners)) }

    /// The collected families, most important first: under `--max-series` the tail is what is dropped.
    public func families(_ readings: [NamespaceReading]) -> [MetricFamily] {
        var out: [MetricFamily] = []
        if collectors.contains(.sockets) { out.append(sockets(readings)) }
        if collectors.contains(.listeners) { out.append(contentsOf: listeners(readings)) }
        if collectors.contains(.netstat) { out.append(contentsOf: netstat(readings)) }
        if collectors.contains(.connections) { out.append(contentsOf: connections(readings)) }
        if collectors.contains(.ephemeral) { out.append(contentsOf: ephemeral(readings)) }
        if collectors.contains(.rtt) { out.append(rtt(readings)) }
        if collectors.contains(.process) { out.append(processes(readings)) }
        return out
    }

    /// The state label: the kernel's name in lower case (`established`, `time_wait`, `unconn`).
    static func stateLabel(_ s: SocketState, _ p: TransportProtocol) -> String { s.kernelName(for: p).lowercased() }

    static let tcpStates: [SocketState] = [.established, .synSent, .synRecv, .finWait1, .finWait2, .timeWait, .close,
                                           .closeWait, .lastAck, .listen, .closing]
    static let udpStates: [SocketState] = [.established, .close]
    /// What the exporter reads (its query's protocols and families): the 2 x 2 that `slot` indexes.
    /// Not `allCases`, which also names UNIX, packet and netlink sockets and the other inet protocols.
    static let protocols: [TransportProtocol] = [.tcp, .udp]
    static let families: [AddressFamily] = AddressFamily.ip

    func sockets(_ readings: [NamespaceReading]) -> MetricFamily {
        var f = MetricFamily("sockscope_sockets", .gauge,
                             help: "Sockets by network namespace, address family, protocol and state, at scrape time.")
        for r in readings {
            // Indexed by (proto, family, state): 2 x 2 x 16 counters, one pass over the records.
            var counts = [Int](repeating: 0, count: 64)
            func slot(_ p: TransportProtocol, _ fam: AddressFamily, _ s: SocketState) -> Int {
                (p == .tcp ? 0 : 32) + (fam == .inet ? 0 : 16) + Int(s == .newSynRecv ? SocketState.synRecv.rawValue : s.rawValue) & 15
            }
            // Through the buffer: a `for` over the records copies each one, retaining its boxes (perf, 100k sockets).
            r.records.withUnsafeBufferPointer { b in
                for i in b.indices {
                    let (p, fam, s) = (b[i].proto, b[i].family, b[i].state)
                    if Self.protocols.contains(p) && Self.families.contains(fam) { counts[slot(p, fam, s)] += 1 }
                }
            }
            for fam in Self.families {
                for p in Self.protocols {
                    // Every state of every protocol, zeros too: a series that comes and goes is harder to alert on.
                    for s in p == .tcp ? Self.tcpStates : Self.udpStates {
                        f.samples.append(MetricSample([
                            MetricLabel("netns", r.label), MetricLabel("family", fam.rawValue),
                            MetricLabel("proto", p.rawValue), MetricLabel("state", Self.stateLabel(s, p)),
                        ], Double(counts[slot(p, fam, s)])))
                    }
                }
            }
        }
        return f
    }

    struct ListenerKey: Hashable, Comparable {
        var netns: String, port: UInt16, address: IPAddress, comm: String?
        static func < (a: Self, b: Self) -> Bool {
            (a.netns, a.port, a.address, a.comm ?? "") < (b.netns, b.port, b.address, b.comm ?? "")
        }
    }

    struct ListenerValues { var queue = 0.0, backlog = 0.0, connections = 0.0, peers = 0.0 }

    func listeners(_ readings: [NamespaceReading]) -> [MetricFamily] {
        var queue = MetricFamily("sockscope_listener_queue", .gauge,
                                 help: "Connections in a TCP listener's accept queue (established, not yet accepted).")
        var backlog = MetricFamily("sockscope_listener_backlog", .gauge,
                                   help: "A TCP listener's accept queue limit (the listen() backlog, capped by net.core.somaxconn).")
        var conns = MetricFamily("sockscope_listener_connections", .gauge,
                                 help: "Established TCP connections on a listener's address and port.")
        var peers = MetricFamily("sockscope_listener_peers", .gauge,
                                 help: "Distinct remote addresses among a listener's established connections.")
        for r in readings {
            // SO_REUSEPORT groups (several sockets on one binding) are summed into one series.
            var byKey: [ListenerKey: ListenerValues] = [:]
            for s in ListenerAnalysis.aggregate(r.records) {
                let l = r.records[s.index]
                let comm = owners ? (ConnectionMapperName.comm(l) ?? "") : nil
                let k = ListenerKey(netns: r.label, port: l.local.port, address: l.local.address, comm: comm)
                var v = byKey[k] ?? ListenerValues()
                v.queue += Double(l.recvQueue)
                v.backlog += Double(l.sendQueue)
                v.connections += Double(s.established)
                v.peers += Double(s.peers)
                byKey[k] = v
            }
            for k in byKey.keys.sorted() {
                let v = byKey[k]!
                var labels = [MetricLabel("netns", k.netns), MetricLabel("proto", "tcp"),
                              MetricLabel("address", k.address.description), MetricLabel("port", String(k.port))]
                if let c = k.comm { labels.append(MetricLabel("comm", c)) }
                queue.samples.append(MetricSample(labels, v.queue))
                // /proc does not report backlogs: no series rather than a 0 that reads as "full".
                if r.backlogKnown { backlog.samples.append(MetricSample(labels, v.backlog)) }
                conns.samples.append(MetricSample(labels, v.connections))
                peers.samples.append(MetricSample(labels, v.peers))
            }
        }
        return [queue, backlog, conns, peers]
    }

    func netstat(_ readings: [NamespaceReading]) -> [MetricFamily] {
        var overflows = MetricFamily("sockscope_listen_overflows", .counter,
                                     help: "Times a TCP accept queue was full (TcpExt ListenOverflows, /proc/net/netstat).")
        var drops = MetricFamily("sockscope_listen_drops", .counter,
                                 help: "Connection requests dropped at a listener, overflows included (TcpExt ListenDrops).")
        for r in readings {
            guard let c = r.listenCounters else { continue }
            overflows.samples.append(MetricSample([MetricLabel("netns", r.label)], Double(c.overflows)))
            drops.samples.append(MetricSample([MetricLabel("netns", r.label)], Double(c.drops)))
        }
        return [overflows, drops]
    }

    func connections(_ readings: [NamespaceReading]) -> [MetricFamily] {
        var opened = MetricFamily("sockscope_connections_opened", .counter,
                                  help: "Connections opened since the exporter started (port: the listener's for inbound, "
                                      + "the remote one for outbound; ports past the first few per direction count as other).")
        var closed = MetricFamily("sockscope_connections_closed", .counter,
                                  help: "Connections closed since the exporter started (same labels as opened).")
        for r in readings {
            for k in r.connections.keys.sorted() {
                let c = r.connections[k]!
                let labels = [MetricLabel("netns", r.label), MetricLabel("proto", k.proto.rawValue),
                              MetricLabel("direction", k.direction.rawValue), MetricLabel("port", k.port)]
                opened.samples.append(MetricSample(labels, Double(c.opened)))
                closed.samples.append(MetricSample(labels, Double(c.closed)))
            }
        }
        return [opened, closed]
    }

    func ephemeral(_ readings: [NamespaceReading]) -> [MetricFamily] {
        var inUse = MetricFamily("sockscope_ephemeral_ports_in_use", .gauge,
                                 help: "Local ports from the ephemeral range in use towards a destination (address and port), "
                                     + "from its busiest source address; the busiest destinations, the rest summed as other.")
        var range = MetricFamily("sockscope_ephemeral_ports_range", .gauge,
                                 help: "Ports in the ephemeral range (net.ipv4.ip_local_port_range).")
        for r in readings {
            guard let er = r.ephemeralRange else { continue }
            range.samples.append(MetricSample([MetricLabel("netns", r.label)], Double(er.size)))
            let report = EphemeralPressure.report(r.records, range: er, servers: r.serving)
            var rest: [TransportProtocol: Int] = [:]
            for (i, d) in report.destinations.enumerated() {
                if i < top {
                    inUse.samples.append(MetricSample([
                        MetricLabel("netns", r.label), MetricLabel("proto", d.proto.rawValue),
                        MetricLabel("source", d.localAddress.description), MetricLabel("destination", d.remote.address.description),
                        MetricLabel("port", String(d.remote.port)),
                    ], Double(d.localPorts)))
                } else {
                    rest[d.proto, default: 0] += d.localPorts
                }
            }
            for p in Self.protocols {
                inUse.samples.append(MetricSample([
                    MetricLabel("netns", r.label), MetricLabel("proto", p.rawValue), MetricLabel("source", "other"),
                    MetricLabel("destination", "other"), MetricLabel("port", "other"),
                ], Double(rest[p] ?? 0)))
            }
        }
        return [inUse, range]
    }

    func rtt(_ readings: [NamespaceReading]) -> MetricFamily {
        let bounds = Self.rttBuckets
        var f = MetricFamily("sockscope_tcp_rtt_seconds", .gaugeHistogram(buckets: bounds),
                             help: "Smoothed RTT of the established inbound TCP connections per listener port, at scrape time "
                                 + "(the busiest ports).", unit: "seconds")
        for r in readings {
            let serving = r.serving ?? ServerBindings(r.records)
            // Per port, its buckets' offset in `flat` (a port's counts were copied on every update
            // when each was an array in a dictionary: measured, one allocation per connection).
            var byPort: [UInt16: Int] = [:]
            var flat: [UInt64] = []
            // Per port, in the order of `flat`'s blocks.
            var sums: [Double] = []
            // The last port's buckets: connections come in runs of one listener's.
            var last: (port: UInt16, base: Int)? = nil
            r.records.withUnsafeBufferPointer { b in
                for i in b.indices where b[i].proto == .tcp && b[i].state == .established {
                    let local = b[i].local
                    // The serving check first: its port bitmap rejects most connections without a lookup.
                    guard serving.serves(.tcp, local),
                          // From the dump's messages (`RTTTable`), or a record that carries tcp_info.
                          let rttUs = r.rtts?.rttUs(cookie: b[i].cookie ?? 0) ?? b[i].tcpInfo?.rttUs else { continue }
                    let seconds = Double(rttUs) / 1_000_000
                    let base: Int
                    if let l = last, l.port == local.port {
                        base = l.base
                    } else if let known = byPort[local.port] {
                        base = known
                    } else {
                        base = flat.count
                        byPort[local.port] = base
                        flat.append(contentsOf: repeatElement(0, count: bounds.count + 1))
                        sums.append(0)
                    }
                    last = (local.port, base)
                    // Non-cumulative here (last slot: above every bound); made cumulative below.
                    let slot = bounds.firstIndex { seconds <= $0 } ?? bounds.count
                    flat[base + slot] += 1
                    sums[base / (bounds.count + 1)] += seconds
                }
            }
            func counts(_ port: UInt16) -> ArraySlice<UInt64> { flat[byPort[port]!..<(byPort[port]! + bounds.count + 1)] }
            let busiest = byPort.keys.map { ($0, counts($0).reduce(0, +)) }
                .sorted { ($1.1, $0.0) < ($0.1, $1.0) }.prefix(top).map(\.0).sorted()
            for port in busiest {
                let raw = counts(port)
                var cumulative: [UInt64] = []
                var running: UInt64 = 0
                for c in raw.dropLast() { running += c; cumulative.append(running) }
                f.samples.append(MetricSample([MetricLabel("netns", r.label), MetricLabel("port", String(port))],
                                              histogram: cumulative, count: running + raw.last!, sum: sums[byPort[port]! / (bounds.count + 1)]))
            }
        }
        return f
    }

    func processes(_ readings: [NamespaceReading]) -> MetricFamily {
        var f = MetricFamily("sockscope_process_sockets", .gauge,
                             help: "Sockets held by processes of a name (comm), by family and state: the processes holding the most.")
        for r in readings {
            struct K: Hashable { var comm: String; var family: AddressFamily; var state: String }
            var counts: [K: Int] = [:]
            var totals: [String: Int] = [:]
            for rec in r.records {
                guard let owners = rec.processes, !owners.isEmpty else { continue }
                // A socket shared by processes of one name counts once for that name.
                var names = Set<String>()
                for o in owners { names.insert(MetricsWriter.labelValue(bytes: o.rawName)) }
                for n in names {
                    counts[K(comm: n, family: rec.family, state: Self.stateLabel(rec.state, rec.proto)), default: 0] += 1
                    totals[n, default: 0] += 1
                }
            }
            let chosen = Set(totals.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(top).map(\.key))
            for (k, v) in counts.sorted(by: { ($0.key.comm, $0.key.family, $0.key.state) < ($1.key.comm, $1.key.family, $1.key.state) })
            where chosen.contains(k.comm) {
                f.samples.append(MetricSample([
                    MetricLabel("netns", r.label), MetricLabel("comm", k.comm), MetricLabel("family", k.family.rawValue),
                    MetricLabel("state", k.state),
                ], Double(v)))
            }
        }
        return f
    }
}

/// The process name shown for a socket: its lowest pid's name, as a label value.
enum ConnectionMapperName {
    static func comm(_ r: SocketRecord) -> String? {
        guard let owners = r.processes, let first = owners.min() else { return nil }
        return MetricsWriter.labelValue(bytes: first.rawName)
    }
}
