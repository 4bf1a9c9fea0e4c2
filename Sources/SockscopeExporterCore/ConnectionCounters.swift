import SockscopeAnalysis
import SockscopeModel

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
    /// The series of a (protocol, direction, port) once decided: a new connection costs one
    /// integer lookup, not a label string and two dictionaries keyed by it.
    var seriesOfPort: [UInt32: Int32] = [:]
    /// Connections by socket id: the number of their series in the low 32 bits, the dump that
    /// last saw them in the high 32 (`Self.stamp`). Between dumps it holds the open connections
    /// of the last one; a destroy message marks its connection closed (series -1, and one never
    /// seen is entered so), and the next dump's sweep forgets those.
    var known = CookieMap()
    /// Counts dumps, so that one pass over `known` finds what this dump no longer holds.
    var generation: UInt32 = 0
    /// Connections counted closed by the diff, by id and when: a destroy message for one of them
    /// that arrives late must not count it again.
    var closedByDiff: [UInt64: Double] = [:]
    var ports: [Direction: Set<UInt16>] = [:]
    public let topPorts: Int
    public private(set) var baselined = false
    /// How long `closedByDiff` entries are kept (destroy messages arrive within milliseconds).
    static let lateMessageWindow = 30.0

    public init(topPorts: Int) { self.topPorts = topPorts }

    /// The socket's identity for the lifetime of the socket: the cookie, or (read from /proc, no
    /// cookie) the inode; nil for neither.
    static func id(_ r: borrowing SocketRecord) -> UInt64? {
        if let c = r.cookie, c != 0 { return c }
        return r.inode != 0 ? r.inode | 1 << 63 : nil
    }

    /// A connection that is still open: TCP from SYN_SENT until it leaves for TIME_WAIT or CLOSE
    /// (a TIME_WAIT entry keeps the cookie of the socket it replaced: counting it would count that
    /// connection twice), or a connected UDP socket. Request sockets (SYN_RECV) are not yet one.
    public static func isOpenConnection(_ r: borrowing SocketRecord) -> Bool {
        guard r.remote.port != 0, !r.remote.address.isUnspecified, r.local.port != 0 else { return false }
        switch r.state {
        case .listen, .timeWait, .close, .synRecv, .newSynRecv, .boundInactive: return false
        default: return true
        }
    }

    /// A `known` value: the series number (or -1) and the dump that saw the connection.
    @inline(__always) static func stamp(_ series: Int32, _ generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: series))
    }
    @inline(__always) static func series(_ v: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: v)) }
    @inline(__always) static func generation(_ v: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: v >> 32) }

    mutating func key(_ r: SocketRecord, _ serving: ServerBindings) -> Key {
        series[Int(number(r, serving))]
    }

    /// The number of the series `r` counts under, given a new one when first seen.
    mutating func number(_ r: borrowing SocketRecord, _ serving: ServerBindings) -> Int32 {
        let inbound = serving.serves(r.proto, r.local)
        let direction: Direction = inbound ? .inbound : .outbound
        let port = inbound ? r.local.port : r.remote.port
        let memo = UInt32(protocolOrdinal(r.proto)) << 17 | (inbound ? 1 << 16 : 0) | UInt32(port)
        if let n = seriesOfPort[memo] { return n }
        var label = "other"
        if ports[direction, default: []].contains(port) {
            label = String(port)
        } else if ports[direction, default: []].count < topPorts {
            ports[direction, default: []].insert(port)
            label = String(port)
        }
        let k = Key(proto: r.proto, direction: direction, port: label)
        let n: Int32
        if let existing = seriesNumber[k] {
            n = existing
        } else {
            n = Int32(series.count)
            seriesNumber[k] = n
            series.append(k)
        }
        // A port under `other` stays there: the sticky labels mean its answer never changes.
        seriesOfPort[memo] = n
        return n
    }

    /// One dump's worth: `live` is every socket the dump returned (listeners included: they decide
    /// directions), `destroyed` what the kernel reported destroyed since the last call. `serving`
    /// is `ServerBindings(live)`, passed when the caller has it already.
    public mutating func update(live: [SocketRecord], destroyed: [SocketRecord], now: Double, serving: ServerBindings? = nil) {
        let serving = serving ?? ServerBindings(live)
        generation &+= 1
        let gen = generation
        if !baselined {
            baselined = true
            known = CookieMap(minimumCapacity: live.count)
            live.withUnsafeBufferPointer { b in
                for i in b.indices where Self.isOpenConnection(b[i]) {
                    guard let id = Self.id(b[i]) else { continue }
                    let (s, inserted) = known.slot(inserting: id)
                    if inserted { known.values[s] = Self.stamp(number(b[i], serving), gen) }
                }
            }
            // Destroy messages from before the first dump belong to connections no one saw open.
            return
        }
        // This dump's connections: one lookup each; a new one is counted opened (its key from
        // what the dump says of it).
        // Through the buffer: a `for` over the records copies each one, retaining its boxes (perf, 100k sockets).
        live.withUnsafeBufferPointer { b in
            for i in b.indices where Self.isOpenConnection(b[i]) {
                guard let id = Self.id(b[i]) else { continue }
                let (s, inserted) = known.slot(inserting: id)
                if inserted {
                    let n = number(b[i], serving)
                    counts[series[Int(n)], default: Counts()].opened += 1
                    known.values[s] = Self.stamp(n, gen)
                } else if Self.series(known.values[s]) >= 0 {
                    known.values[s] = Self.stamp(Self.series(known.values[s]), gen)
                }
                // Else a destroy message closed it since the last dump: it stays closed (a
                // destroyed socket is in no later dump; counting it opened again would be wrong).
            }
        }
        // Destroy messages: a connection known open is closed now; one never seen (opened and
        // closed since the last look) is counted both. Either is marked closed until the sweep
        // below, so a message repeated in this batch, or one folded in before this dump and
        // drained again, counts once.
        for r in destroyed {
            guard let id = Self.id(r), r.state != .listen, r.remote.port != 0 else { continue }
            let (s, inserted) = known.slot(inserting: id)
            if !inserted {
                let n = Self.series(known.values[s])
                if n >= 0 { counts[series[Int(n)], default: Counts()].closed += 1 }
            } else if closedByDiff[id] == nil {
                let k = key(r, serving)
                counts[k, default: Counts()].opened += 1
                counts[k, default: Counts()].closed += 1
            }
            known.values[s] = Self.stamp(-1, gen)
        }
        // What the last dump held and this one does not closed in between (its message, if any,
        // was lost); what a destroy message closed is forgotten.
        var forget: [UInt64] = []
        for s in known.keys.indices where known.keys[s] != 0 {
            let v = known.values[s]
            let n = Self.series(v)
            if n < 0 {
                forget.append(known.keys[s])
            } else if Self.generation(v) != gen {
                counts[series[Int(n)], default: Counts()].closed += 1
                closedByDiff[known.keys[s]] = now
                forget.append(known.keys[s])
            }
        }
        for id in forget { known.remove(id) }
        if !closedByDiff.isEmpty { closedByDiff = closedByDiff.filter { now - $0.value < Self.lateMessageWindow } }
    }

    /// Destroy messages between dumps (folded in so they never pile up): closes what was known,
    /// counts what was never seen as opened and closed. Directions come from the last dump's
    /// serving sockets, passed by the caller.
    public mutating func fold(destroyed: [SocketRecord], serving: ServerBindings) {
        guard baselined else { return }
        for r in destroyed {
            guard let id = Self.id(r), r.state != .listen, r.remote.port != 0, closedByDiff[id] == nil else { continue }
            let (s, inserted) = known.slot(inserting: id)
            if !inserted {
                let n = Self.series(known.values[s])
                if n >= 0 { counts[series[Int(n)], default: Counts()].closed += 1 }
            } else {
                let k = key(r, serving)
                counts[k, default: Counts()].opened += 1
                counts[k, default: Counts()].closed += 1
            }
            // Marked closed until the next dump's sweep, which forgets it.
            known.values[s] = Self.stamp(-1, generation)
        }
    }
}
