import SockscopeAnalysis
import SockscopeModel

/// Which local sockets serve: TCP listeners and bound, unconnected UDP sockets, by protocol,
/// address (IPv4-mapped as IPv4) and port. A connection whose local end is one of them was accepted
/// (inbound); any other was opened from here (outbound).
public struct ServingSockets: Sendable {
    struct Key: FlatKey {
        var proto: TransportProtocol, address: PackedAddress, port: UInt16
        init(proto: TransportProtocol, address: IPAddress, port: UInt16) {
            self.proto = proto; self.address = PackedAddress(address); self.port = port
        }
        @inline(__always) func hash(_ seed: UInt64) -> UInt64 {
            flatMix(flatMix(flatMix(seed, address.high), address.low),
                    protocolOrdinal(proto) << 24 | (address.isIPv6 ? 1 << 16 : 0) | UInt64(port))
        }
    }
    /// A flat table rather than a `Set`: SipHash of the struct was most of each lookup (perf, 100k sockets).
    var keys = FlatTable<Key>()
    /// One bit per port that some serving socket is bound to: most connections' local port is
    /// none of them, and this answers those without hashing (measured at 100k sockets: the three
    /// `Set` lookups per connection were most of the RTT histogram's cost).
    var ports = [UInt64](repeating: 0, count: 1024)

    public init(_ records: [SocketRecord]) {
        for r in records where r.local.port != 0 {
            if (r.proto == .tcp && r.state == .listen) || (r.proto == .udp && r.state == .close && r.remote.port == 0) {
                _ = keys.position(of: Key(proto: r.proto, address: r.local.address.unmapped, port: r.local.port))
                ports[Int(r.local.port >> 6)] |= 1 << UInt64(r.local.port & 63)
            }
        }
    }

    /// True when a serving socket is bound where `endpoint` is, exactly or by wildcard (an IPv4
    /// address also reaches a dual-stack `::` socket).
    public func serves(_ proto: TransportProtocol, _ endpoint: SocketEndpoint) -> Bool {
        guard keys.count > 0, let endpoint = endpoint.inet,
              ports[Int(endpoint.port >> 6)] & (1 << UInt64(endpoint.port & 63)) != 0 else { return false }
        let a = endpoint.address.unmapped
        if keys.find(Key(proto: proto, address: a, port: endpoint.port)) != nil { return true }
        if !a.isIPv6 && keys.find(Key(proto: proto, address: .anyIPv4, port: endpoint.port)) != nil { return true }
        return keys.find(Key(proto: proto, address: .anyIPv6, port: endpoint.port)) != nil
    }
}

/// Connections opened and closed in one namespace since the exporter started, from what the
/// kernel reports destroyed (the sock_diag destroy groups) and from the difference between two
/// dumps: a connection that opens and closes between two scrapes is seen through its destroy
/// message; one whose message was lost (or with no destroy groups: not root) through the diff.
///
/// Counts only grow. Every label set, once it exists, is kept for the exporter's lifetime: a
/// series that disappeared and came back would read as a counter reset. So the `port` label is
/// sticky — the first `topPorts` distinct ports per direction get a series of their own, later
/// ones count under `other` — rather than a top-K that changes with every scrape.
///
/// Sockets present at the first dump are the baseline: they are not counted as opened (no one
/// saw them open), but their closing is counted.
public struct ConnectionCounters: Sendable {
    public enum Direction: String, Sendable, Hashable, CaseIterable, Comparable {
        case inbound, outbound
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    /// One series' labels (besides `netns`).
    public struct Key: Sendable, Hashable, Comparable {
        public var proto: TransportProtocol
        public var direction: Direction
        /// The listener's port (inbound) or the remote port (outbound), or `other`.
        public var port: String
        public init(proto: TransportProtocol, direction: Direction, port: String) {
            self.proto = proto; self.direction = direction; self.port = port
        }
        public static func < (a: Self, b: Self) -> Bool {
            (a.proto, a.direction, a.port.count, a.port) < (b.proto, b.direction, b.port.count, b.port)
        }
    }

    public struct Counts: Sendable, Hashable {
        public var opened: UInt64 = 0
        public var closed: UInt64 = 0
        public init(opened: UInt64 = 0, closed: UInt64 = 0) { self.opened = opened; self.closed = closed }
    }

    public private(set) var counts: [Key: Counts] = [:]
    /// Every series' key once, by the number `known` stores for it.
    var series: [Key] = []
    var seriesNumber: [Key: Int32] = [:]
    /// Open connections seen in the last dump (or since opened by a destroy message), by socket
    /// id: the number of their series, -1 once closed by a destroy message. A flat table: with
    /// `Dictionary`s of ids, hashing 100k ids three times per dump (SipHash) was most of this
    /// function's cost (perf, 100k sockets).
    var known = FlatTable<SocketID>()
    /// Connections counted closed by the diff, by id and when: a destroy message for one of them
    /// that arrives late must not count it again.
    var closedByDiff: [UInt64: Double] = [:]
    var ports: [Direction: Set<UInt16>] = [:]
    public let topPorts: Int
    public private(set) var baselined = false
    /// How long `closedByDiff` entries are kept (destroy messages arrive within milliseconds).
    static let lateMessageWindow = 30.0

    public init(topPorts: Int) { self.topPorts = topPorts }

    /// A socket id as a flat-table key.
    struct SocketID: FlatKey {
        var id: UInt64
        @inline(__always) func hash(_ seed: UInt64) -> UInt64 { flatMix(seed, id) }
    }

    /// The socket's identity for the lifetime of the socket: the cookie, or (read from /proc, no
    /// cookie) the inode; nil for neither.
    static func id(_ r: SocketRecord) -> UInt64? {
        if let c = r.cookie, c != 0 { return c }
        return r.inode != 0 ? r.inode | 1 << 63 : nil
    }

    /// A connection that is still open: TCP from SYN_SENT until it leaves for TIME_WAIT or CLOSE
    /// (a TIME_WAIT entry keeps the cookie of the socket it replaced: counting it would count that
    /// connection twice), or a connected UDP socket. Request sockets (SYN_RECV) are not yet one.
    public static func isOpenConnection(_ r: SocketRecord) -> Bool {
        guard r.remote.port != 0, !r.remote.address.isUnspecified, r.local.port != 0 else { return false }
        switch r.state {
        case .listen, .timeWait, .close, .synRecv, .newSynRecv, .boundInactive: return false
        default: return true
        }
    }

    mutating func key(_ r: SocketRecord, _ serving: ServingSockets) -> Key {
        series[Int(number(r, serving))]
    }

    /// The number of the series `r` counts under, given a new one when first seen.
    mutating func number(_ r: SocketRecord, _ serving: ServingSockets) -> Int32 {
        let inbound = serving.serves(r.proto, r.local)
        let direction: Direction = inbound ? .inbound : .outbound
        let port = inbound ? r.local.port : r.remote.port
        var label = "other"
        if ports[direction, default: []].contains(port) {
            label = String(port)
        } else if ports[direction, default: []].count < topPorts {
            ports[direction, default: []].insert(port)
            label = String(port)
        }
        let k = Key(proto: r.proto, direction: direction, port: label)
        if let n = seriesNumber[k] { return n }
        seriesNumber[k] = Int32(series.count)
        series.append(k)
        return Int32(series.count - 1)
    }

    /// One dump's worth: `live` is every socket the dump returned (listeners included: they decide
    /// directions), `destroyed` what the kernel reported destroyed since the last call.
    public mutating func update(live: [SocketRecord], destroyed: [SocketRecord], now: Double) {
        let serving = ServingSockets(live)
        // By position in `live`, not a copy of the record: measured at 100k sockets, copying every
        // record into this table (each copy retains its boxes) was most of this function's cost.
        var current = FlatTable<SocketID>(capacity: max(known.count, live.count / 2) + 64)
        for (i, r) in live.enumerated() where Self.isOpenConnection(r) {
            if let id = Self.id(r) { current.values[current.position(of: SocketID(id: id)).position] = Int32(i) }
        }
        if !baselined {
            baselined = true
            var first = FlatTable<SocketID>(capacity: current.count)
            for (p, id) in current.keys.enumerated() {
                first.values[first.position(of: id).position] = number(live[Int(current.values[p])], serving)
            }
            known = first
            // Destroy messages from before the first dump belong to connections no one saw open.
            return
        }
        var gone = Set<UInt64>()
        for r in destroyed {
            guard let id = Self.id(r), r.state != .listen, r.remote.port != 0 else { continue }
            if let p = known.find(SocketID(id: id)), known.values[p] >= 0 {
                counts[series[Int(known.values[p])], default: Counts()].closed += 1
                known.values[p] = -1
            } else if closedByDiff[id] != nil || gone.contains(id) {
                continue
            } else {
                // Opened and closed since the last look (or after this dump read it).
                let k = key(current.find(SocketID(id: id)).map { live[Int(current.values[$0])] } ?? r, serving)
                counts[k, default: Counts()].opened += 1
                counts[k, default: Counts()].closed += 1
            }
            gone.insert(id)
        }
        // The next `known`: what this dump holds, minus what a destroy message closed.
        var next = FlatTable<SocketID>(capacity: current.count)
        for (p, id) in current.keys.enumerated() where !gone.contains(id.id) {
            let n: Int32
            if let q = known.find(id), known.values[q] >= 0 {
                n = known.values[q]
            } else {
                n = number(live[Int(current.values[p])], serving)
                counts[series[Int(n)], default: Counts()].opened += 1
            }
            next.values[next.position(of: id).position] = n
        }
        for (p, id) in known.keys.enumerated() where known.values[p] >= 0 && current.find(id) == nil {
            counts[series[Int(known.values[p])], default: Counts()].closed += 1
            closedByDiff[id.id] = now
        }
        known = next
        closedByDiff = closedByDiff.filter { now - $0.value < Self.lateMessageWindow }
    }

    /// Destroy messages between dumps (folded in so they never pile up): closes what was known,
    /// counts what was never seen as opened and closed. Directions come from the last dump's
    /// serving sockets, passed by the caller.
    public mutating func fold(destroyed: [SocketRecord], serving: ServingSockets) {
        guard baselined else { return }
        for r in destroyed {
            guard let id = Self.id(r), r.state != .listen, r.remote.port != 0, closedByDiff[id] == nil else { continue }
            if let p = known.find(SocketID(id: id)), known.values[p] >= 0 {
                counts[series[Int(known.values[p])], default: Counts()].closed += 1
                known.values[p] = -1
            } else {
                let k = key(r, serving)
                counts[k, default: Counts()].opened += 1
                counts[k, default: Counts()].closed += 1
            }
        }
    }
}
