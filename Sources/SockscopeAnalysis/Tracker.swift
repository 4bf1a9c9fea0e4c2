import SockscopeModel

/// A socket's identity across snapshots.
///
/// Netlink gives every socket a cookie that is unique for its lifetime (and survives the move to
/// TIME_WAIT). /proc has none, so there a socket is its protocol, family, 5-tuple and inode.
public enum SocketKey: Sendable, Hashable {
    case cookie(TransportProtocol, UInt64)
    case proc(AddressFamily, FiveTuple, inode: UInt64)

    /// The key of a record: its cookie when it has a non-zero one, its 5-tuple and inode otherwise.
    public init(_ r: SocketRecord) {
        if let c = r.cookie, c != 0 {
            self = .cookie(r.proto, c)
        } else {
            self = .proc(r.family, r.fiveTuple, inode: r.inode)
        }
    }

    /// A cookie alone identifies a socket (the kernel never reuses one while it lives), so only it is
    /// hashed: hashing the whole 5-tuple of every socket twice per refresh was a large part of the
    /// tracker's cost at 100k sockets. Equality still compares everything.
    public func hash(into h: inout Hasher) {
        switch self {
        case .cookie(_, let c): h.combine(c)
        case .proc(let family, let tuple, let inode):
            h.combine(inode)
            h.combine(family)
            h.combine(tuple)
        }
    }
}

/// Bytes per second moved by a TCP socket between two snapshots, from its `tcp_info` counters.
public struct Throughput: Sendable, Hashable {
    /// From `bytes_received`; nil when the kernel did not report it in both snapshots.
    public var inBytesPerSecond: Double?
    /// From `bytes_acked` (or `bytes_sent` when acked is missing); nil when not reported in both.
    public var outBytesPerSecond: Double?

    public init(inBytesPerSecond: Double? = nil, outBytesPerSecond: Double? = nil) {
        self.inBytesPerSecond = inBytesPerSecond; self.outBytesPerSecond = outBytesPerSecond
    }
}

/// What the tracker knows about one socket, live or recently closed.
public struct TrackedSocket: Sendable {
    public let key: SocketKey
    /// The socket as last seen (for a closed socket: its last values).
    public internal(set) var record: SocketRecord
    /// When the tracker first saw it. For a socket present at the first update this is that update,
    /// not its real creation time, which the kernel does not report.
    public internal(set) var firstSeen: Double
    /// True when the socket was already there at the first update.
    public internal(set) var presentAtStart: Bool
    /// The last update that saw it.
    public internal(set) var lastSeen: Double
    /// When it was found gone; nil while live.
    public internal(set) var closedAt: Double?
    /// The state before the most recent state change, and when that change was seen.
    public internal(set) var previousState: SocketState?
    public internal(set) var stateChangedAt: Double?
    /// Rates between the last two snapshots that saw it; nil without `tcp_info` or on first sight.
    public internal(set) var throughput: Throughput?

    public var isClosed: Bool { closedAt != nil }

    /// Seconds since first seen, at `now`; for a closed socket, how long it was seen open (its
    /// clock stops when it closes).
    public func age(at now: Double) -> Double { max(0, min(now, closedAt ?? now) - firstSeen) }
}

/// An event: what changed in one update.
public struct SocketEvent: Sendable {
    public enum Kind: Sendable, Equatable {
        /// Present at the first update (an NDJSON stream emits these as `snapshot` lines).
        case snapshot
        /// Appeared since the previous update.
        case open
        /// Gone since the previous update; the record holds its last values.
        case close
        /// The state changed since the previous update.
        case state(from: SocketState)
    }

    public var kind: Kind
    public var key: SocketKey
    public var record: SocketRecord
    /// The time of the update that noticed it.
    public var time: Double

    public init(kind: Kind, key: SocketKey, record: SocketRecord, time: Double) {
        self.kind = kind; self.key = key; self.record = record; self.time = time
    }
}

/// Turns successive snapshots into open, close and state-change events, and keeps per-socket
/// first-seen times, throughput and recently closed sockets.
///
/// Pure bookkeeping (no I/O, no clock): the caller passes each snapshot with the time it was
/// taken, from a monotonic clock. Shared by the live view and the event stream.
public struct ChangeTracker: Sendable {
    /// How long a closed socket stays in `sockets` (seconds) so a view can show it dimmed.
    public var closedRetention: Double
    /// The time of the last update; nil before the first.
    public private(set) var lastUpdate: Double?
    /// Live sockets in the order of the last snapshot, then retained closed sockets, oldest close first.
    public private(set) var sockets: [TrackedSocket] = []
    /// How many of `sockets` are live (they come first).
    public private(set) var liveCount = 0
    /// Row in `sockets` of each live socket, kept from one update to the next.
    var index = KeyIndex()

    public init(closedRetention: Double = 5) {
        self.closedRetention = closedRetention
    }

    /// Live sockets only.
    public var live: ArraySlice<TrackedSocket> { sockets[..<liveCount] }

    /// Takes a new snapshot taken at `time` and returns what changed since the previous one, in
    /// snapshot order with closes last. The first update returns one `.snapshot` event per socket.
    public mutating func update(_ snapshot: Snapshot, at time: Double) -> [SocketEvent] {
        apply(snapshot, at: time, reportEvents: true)
    }

    /// The same bookkeeping as `update` without building the events: for a caller that only reads
    /// `sockets` (the live view), at 100k sockets the events are 100k copied records on the first
    /// refresh and a sort of the changes on every one.
    public mutating func track(_ snapshot: Snapshot, at time: Double) {
        _ = apply(snapshot, at: time, reportEvents: false)
    }

    mutating func apply(_ snapshot: Snapshot, at time: Double, reportEvents: Bool) -> [SocketEvent] {
        let priming = lastUpdate == nil
        let previousTime = lastUpdate
        // `index` maps the live sockets of the previous update to their rows; the one for this
        // update is built while the snapshot is walked and kept for the next (one hash per record
        // here plus one lookup, instead of rebuilding the previous index every time).
        var nextIndex = KeyIndex(capacity: snapshot.records.count)

        var matched = [Bool](repeating: false, count: liveCount)
        var next: [TrackedSocket] = []
        next.reserveCapacity(snapshot.records.count + sockets.count - liveCount)
        // Events tagged with their row in `next`, so they can be put in snapshot order at the end.
        var tagged: [(row: Int, event: SocketEvent)] = []
        // Records that match nothing by key; /proc ones may still be a socket that moved to
        // TIME_WAIT (its inode drops to 0), matched by 5-tuple below.
        var unmatched: [Int] = []

        for r in snapshot.records {
            let key = SocketKey(r)
            // A duplicate row (one hash: the dictionary's modify accessor): keep the first.
            guard nextIndex.claim(key, row: next.count, rows: next) else { continue }
            if let i = index.row(of: key, in: sockets) {
                matched[i] = true
                let (s, e) = Self.carry(sockets[i], to: r, key: key, at: time, previousTime: previousTime,
                                        reportEvents: reportEvents)
                if let e { tagged.append((next.count, e)) }
                next.append(s)
            } else {
                unmatched.append(next.count)
                next.append(TrackedSocket(key: key, record: r, firstSeen: time, presentAtStart: priming, lastSeen: time))
            }
        }

        if !unmatched.isEmpty && !priming {
            var byTuple: [TupleKey: Int] = [:]
            for i in 0..<liveCount where !matched[i] {
                if case .proc = sockets[i].key { byTuple[TupleKey(sockets[i].record)] = i }
            }
            var stillNew: [Int] = []
            if !byTuple.isEmpty {
                for j in unmatched {
                    let r = next[j].record
                    if case .proc = next[j].key, r.inode == 0, let i = byTuple.removeValue(forKey: TupleKey(r)) {
                        matched[i] = true
                        let (s, e) = Self.carry(sockets[i], to: r, key: next[j].key, at: time, previousTime: previousTime,
                                                reportEvents: reportEvents)
                        if let e { tagged.append((j, e)) }
                        next[j] = s
                    } else {
                        stillNew.append(j)
                    }
                }
                unmatched = stillNew
            }
        }
        var events: [SocketEvent] = []
        if reportEvents {
            for j in unmatched {
                tagged.append((j, SocketEvent(kind: priming ? .snapshot : .open, key: next[j].key, record: next[j].record,
                                              time: time)))
            }
            // Rows are unique per event, so this ordering is total.
            tagged.sort { $0.row < $1.row }
            events = tagged.map(\.event)
        }

        let newLive = next.count
        // Previously closed sockets that are still within their grace period (and not back).
        for s in sockets[liveCount...] {
            guard let closed = s.closedAt, time - closed < closedRetention,
                  nextIndex.row(of: s.key, in: next) == nil else { continue }
            next.append(s)
        }
        for i in 0..<liveCount where !matched[i] {
            var s = sockets[i]
            s.closedAt = time
            if reportEvents { events.append(SocketEvent(kind: .close, key: s.key, record: s.record, time: time)) }
            if closedRetention > 0 { next.append(s) }
        }
        sockets = next
        index = nextIndex
        liveCount = newLive
        lastUpdate = time
        return events
    }

    /// The tracked socket continued into a new snapshot: new values, state change (and its event), rates.
    static func carry(_ old: TrackedSocket, to r: SocketRecord, key: SocketKey, at time: Double,
                      previousTime: Double?, reportEvents: Bool = true) -> (TrackedSocket, SocketEvent?) {
        var s = TrackedSocket(key: key, record: r, firstSeen: old.firstSeen, presentAtStart: old.presentAtStart,
                              lastSeen: time, closedAt: nil, previousState: old.previousState,
                              stateChangedAt: old.stateChangedAt, throughput: nil)
        var event: SocketEvent?
        if old.record.state != r.state {
            s.previousState = old.record.state
            s.stateChangedAt = time
            if reportEvents { event = SocketEvent(kind: .state(from: old.record.state), key: key, record: r, time: time) }
        }
        if let t0 = previousTime, old.lastSeen == t0 {
            s.throughput = throughput(from: old.record.tcpInfo, to: r.tcpInfo, seconds: time - t0)
        }
        return (s, event)
    }

    /// Rates from two `tcp_info` readings `seconds` apart; nil when there is nothing to compare.
    /// A counter that went backwards (a reused 5-tuple under /proc keys) gives no rate rather than a wrong one.
    public static func throughput(from a: TCPInfo?, to b: TCPInfo?, seconds: Double) -> Throughput? {
        guard let a, let b, seconds > 0, seconds.isFinite else { return nil }
        func rate(_ x: UInt64?, _ y: UInt64?) -> Double? {
            guard let x, let y, y >= x else { return nil }
            return Double(y - x) / seconds
        }
        let inRate = rate(a.bytesReceived, b.bytesReceived)
        let outRate = rate(a.bytesAcked, b.bytesAcked) ?? rate(a.bytesSent, b.bytesSent)
        if inRate == nil && outRate == nil { return nil }
        return Throughput(inBytesPerSecond: inRate, outBytesPerSecond: outRate)
    }

    /// The tracked socket with this key (live or retained closed).
    public func socket(_ key: SocketKey) -> TrackedSocket? {
        if let i = index.row(of: key, in: sockets) { return sockets[i] }
        return sockets[liveCount...].first { $0.key == key }
    }

    /// Rows by key. Cookies (every netlink socket) go in a dictionary of plain integers, which is
    /// far cheaper to hash and probe at 100k sockets than one of whole keys; the rest (/proc
    /// keys, and a cookie shared by two protocols, which the kernel does not do) in the other.
    struct KeyIndex: Sendable {
        var cookies: [UInt64: Int] = [:]
        var others: [SocketKey: Int] = [:]

        init(capacity: Int = 0) { cookies.reserveCapacity(capacity) }

        /// The row of `key` in `rows` (the array this index was built for), if present.
        func row(of key: SocketKey, in rows: [TrackedSocket]) -> Int? {
            if case .cookie(_, let c) = key, let i = cookies[c], rows[i].key == key { return i }
            return others.isEmpty ? nil : others[key]
        }

        /// Records `key` at `row` unless it is already there (a duplicate row); false then.
        mutating func claim(_ key: SocketKey, row: Int, rows: [TrackedSocket]) -> Bool {
            if case .cookie(_, let c) = key {
                var existing = -1
                Self.take(&cookies[c, default: -1], row, &existing)
                if existing < 0 { return true }
                if rows[existing].key == key { return false }
            }
            var existing = -1
            Self.take(&others[key, default: -1], row, &existing)
            return existing < 0
        }

        /// One hash per claim: sets an empty slot, or reports what it holds.
        @inline(__always) static func take(_ slot: inout Int, _ row: Int, _ existing: inout Int) {
            if slot >= 0 { existing = slot } else { slot = row }
        }
    }

    struct TupleKey: Hashable {
        var family: AddressFamily
        var tuple: FiveTuple
        init(_ r: SocketRecord) { family = r.family; tuple = r.fiveTuple }
    }
}
