import SockscopeAnalysis
import SockscopeFilter
import SockscopeModel

/// Which table, by which column, in which direction: what a `PreparedTable` is sorted for.
public struct Ordering: Sendable, Hashable {
    public var mode: ViewMode
    public var sort: SortColumn
    public var reversed: Bool

    public init(mode: ViewMode = .connections, sort: SortColumn = .local, reversed: Bool = false) {
        self.mode = mode; self.sort = sort; self.reversed = reversed
    }

    var descending: Bool { sort.descendingByDefault != reversed }
}

/// The filters a user changes while typing (`l`/`e`/`a` and the `/` prompt). They are applied
/// to a prepared table in one pass over small fixed-size facts, cheap enough to run on the UI
/// thread for every key even at 100k sockets.
public struct ViewFilter: Sendable, Hashable {
    public var states: StateSet
    /// Either end's port (the `/` filter's port shortcut).
    public var port: PortSpec?
    /// An ss expression or an address typed at `/` (read from each row's record, so only when set).
    public var expression: FilterExpression?
    /// A process name typed at `/`: some owner of the socket has this name.
    public var processName: String?

    public init(states: StateSet, port: PortSpec?, expression: FilterExpression? = nil, processName: String? = nil) {
        self.states = states; self.port = port; self.expression = expression; self.processName = processName
    }

    /// The conditions that need the record, not just the row facts.
    func matchesRecord(_ r: SocketRecord) -> Bool {
        if let expression, !expression.evaluate(r) { return false }
        if let processName, !(r.processes ?? []).contains(where: { $0.name == processName }) { return false }
        return true
    }
}

/// What the filter and the totals need of a socket, without touching its record (which would
/// mean reference counting per row).
struct RowFacts: Sendable {
    var localPort: UInt16
    var remotePort: UInt16
    var state: UInt8
    var isUDP: Bool
    var closed: Bool
    var hasOwners: Bool
}

/// Everything the slow part of a refresh produces: the tracked sockets, their facts, and the
/// rows passing the session's fixed filters (protocol, family, `--sport`, `--dport`) sorted for
/// one `Ordering`. Built off the UI thread; the UI thread only filters it (`FilteredRows`) and
/// draws the visible window.
public struct PreparedTable: Sendable {
    public private(set) var sockets: [TrackedSocket]
    var facts: [RowFacts]
    /// Connections view: positions in `sockets`, sorted. Listeners view: empty.
    var order: [Int32]
    /// Listeners view: one summary per listener passing the fixed filters, sorted. Connections view: empty.
    var listeners: [ListenerSummary]
    public let ordering: Ordering
    public let source: SourceKind?
    /// The tracker's clock at the snapshot.
    public let time: Double
    /// Counts refreshes, so that a table re-sorted from older data never replaces newer data.
    public let generation: Int

    /// An empty table (before the first refresh).
    public init(ordering: Ordering = Ordering()) {
        sockets = []; facts = []; order = []; listeners = []
        self.ordering = ordering; source = nil; time = 0; generation = 0
    }

    /// Computes facts and sorts: O(n log n), meant for the collector thread.
    public init(sockets: [TrackedSocket], source: SourceKind?, time: Double, generation: Int, ordering: Ordering,
                settings: WatchSettings) {
        var facts: [RowFacts] = []
        facts.reserveCapacity(sockets.count)
        // Field by field through the buffer: copying a whole socket would retain its record's storage.
        sockets.withUnsafeBufferPointer { b in
            for i in b.indices {
                facts.append(RowFacts(localPort: b[i].record.local.port, remotePort: b[i].record.remote.port,
                                      state: b[i].record.state.rawValue, isUDP: b[i].record.proto == .udp,
                                      closed: b[i].closedAt != nil, hasOwners: b[i].record.processes != nil))
            }
        }
        self.init(sockets: sockets, facts: facts, source: source, time: time, generation: generation,
                  ordering: ordering, settings: settings)
    }

    private init(sockets: [TrackedSocket], facts: [RowFacts], source: SourceKind?, time: Double, generation: Int,
                 ordering: Ordering, settings: WatchSettings) {
        self.sockets = sockets; self.facts = facts
        self.source = source; self.time = time; self.generation = generation; self.ordering = ordering
        let fixed = FixedFilter(settings)
        switch ordering.mode {
        case .connections:
            order = Self.sortedRows(sockets, fixed: fixed, ordering: ordering)
            listeners = []
        case .listeners:
            order = []
            listeners = Self.sortedListeners(sockets, fixed: fixed, ordering: ordering)
        }
    }

    /// The same data sorted for another ordering (a key changed the sort or the view): no new facts.
    public func reordered(for ordering: Ordering, settings: WatchSettings) -> PreparedTable {
        PreparedTable(sockets: sockets, facts: facts, source: source, time: time, generation: generation,
                      ordering: ordering, settings: settings)
    }

    /// The session's fixed filters, checked once per socket while preparing.
    struct FixedFilter {
        var protocols: Set<TransportProtocol>, families: Set<AddressFamily>
        var source: PortSpec?, destination: PortSpec?
        init(_ s: WatchSettings) {
            protocols = s.protocols; families = s.families; source = s.ports.source; destination = s.ports.destination
        }
        /// True when nothing is excluded (the usual case: no -t/-u/-4/-6, --sport, --dport): the live
        /// view collects TCP and UDP over IPv4 and IPv6.
        var matchesEverything: Bool {
            protocols.isSuperset(of: [.tcp, .udp]) && families.isSuperset(of: AddressFamily.ip)
                && source == nil && destination == nil
        }
        func matches(_ r: SocketRecord) -> Bool {
            protocols.contains(r.proto) && families.contains(r.family)
                && (source?.contains(r.local.port) ?? true) && (destination?.contains(r.remote.port) ?? true)
        }
    }

    /// A row's sort key, copied out of its socket once so that the comparisons (n log n of them)
    /// touch no reference-counted storage: hence plain inet endpoints (the live view lists IP
    /// sockets; another family's end sorts as the unspecified address, port 0).
    struct SortKey {
        var primary: Double
        var primaryEndpoint: Endpoint
        var local: Endpoint
        var remote: Endpoint
        var proto: TransportProtocol
    }

    @inline(__always)
    static func sortKey(_ s: borrowing TrackedSocket, _ col: SortColumn, listener: ListenerSummary? = nil) -> SortKey {
        var primary = 0.0
        var endpoint = inet(s.record.local)
        switch col {
        case .local: break
        case .remote: endpoint = inet(s.record.remote)
        case .state: primary = Double(s.record.state.rawValue)
        case .proto: primary = Double(s.record.proto.rank) * 32 + Double(s.record.family.rawFamily)
        case .recvQ, .acceptQueue: primary = Double(s.record.recvQueue)
        case .sendQ: primary = Double(s.record.sendQueue)
        case .rtt: primary = s.record.tcpInfo.map { Double($0.rttUs) } ?? -1
        case .rateIn: primary = s.throughput?.inBytesPerSecond ?? -1
        case .rateOut: primary = s.throughput?.outBytesPerSecond ?? -1
        case .age: primary = -s.firstSeen  // youngest first
        case .owner: primary = Double(s.record.processes?.min()?.pid ?? Int32.max)
        case .established: primary = Double(listener?.established ?? 0)
        case .peers: primary = Double(listener?.peers ?? 0)
        }
        return SortKey(primary: primary, primaryEndpoint: endpoint, local: inet(s.record.local),
                       remote: inet(s.record.remote), proto: s.record.proto)
    }

    @inline(__always)
    static func inet(_ e: SocketEndpoint) -> Endpoint { Endpoint(address: e.address, port: e.port) }

    /// A total order: the sort column (reversed when descending), then local, remote, protocol,
    /// and the position, so equal rows never swap.
    @inline(__always)
    static func before(_ x: SortKey, _ i: Int32, _ y: SortKey, _ j: Int32, byEndpoint: Bool, descending: Bool) -> Bool {
        if byEndpoint {
            if x.primaryEndpoint != y.primaryEndpoint {
                return descending ? y.primaryEndpoint < x.primaryEndpoint : x.primaryEndpoint < y.primaryEndpoint
            }
        } else if x.primary != y.primary {
            return descending ? x.primary > y.primary : x.primary < y.primary
        }
        if x.local != y.local { return x.local < y.local }
        if x.remote != y.remote { return x.remote < y.remote }
        if x.proto != y.proto { return x.proto < y.proto }
        return i < j
    }

    static func sortedRows(_ sockets: [TrackedSocket], fixed: FixedFilter, ordering: Ordering) -> [Int32] {
        let col = ordering.sort
        var rows: [Int32] = []
        var keys: [SortKey] = []
        rows.reserveCapacity(sockets.count)
        keys.reserveCapacity(sockets.count)
        let everything = fixed.matchesEverything
        sockets.withUnsafeBufferPointer { b in
            for i in b.indices {
                // Keys are indexed by socket position; a filtered-out socket gets a key it never uses.
                keys.append(sortKey(b[i], col))
                if everything || fixed.matches(b[i].record) { rows.append(Int32(i)) }
            }
        }
        let byEndpoint = col == .local || col == .remote, desc = ordering.descending
        keys.withUnsafeBufferPointer { k in
            rows.sort { a, b in before(k[Int(a)], a, k[Int(b)], b, byEndpoint: byEndpoint, descending: desc) }
        }
        return rows
    }

    static func sortedListeners(_ sockets: [TrackedSocket], fixed: FixedFilter, ordering: Ordering) -> [ListenerSummary] {
        let all = Listeners.aggregate(sockets).filter { fixed.matches(sockets[$0.index].record) }
        let col = ordering.sort == .acceptQueue ? SortColumn.recvQ : ordering.sort
        let keys = all.map { sortKey(sockets[$0.index], col, listener: $0) }
        let byEndpoint = col == .local || col == .remote, desc = ordering.descending
        let positions = all.indices.sorted { a, b in
            before(keys[a], Int32(all[a].index), keys[b], Int32(all[b].index), byEndpoint: byEndpoint, descending: desc)
        }
        return positions.map { all[$0] }
    }

    /// The rows passing `filter`, in order, with the totals the header shows. One pass over the facts.
    public func filtered(by filter: ViewFilter) -> FilteredRows {
        var out = FilteredRows(filter: filter, ordering: ordering, generation: generation)
        let tcpMask = filter.states.restricted(to: .tcp).mask, udpMask = filter.states.restricted(to: .udp).mask
        let port = filter.port
        let byRecord = filter.expression != nil || filter.processName != nil
        facts.withUnsafeBufferPointer { f in
            switch ordering.mode {
            case .connections:
                out.rows.reserveCapacity(order.count)
                for i in order {
                    let x = f[Int(i)]
                    guard (x.isUDP ? udpMask : tcpMask) & (1 << UInt32(x.state)) != 0 else { continue }
                    if let port, !port.contains(x.localPort) && !port.contains(x.remotePort) { continue }
                    if byRecord && !filter.matchesRecord(sockets[Int(i)].record) { continue }
                    out.add(Int(i), x)
                }
            case .listeners:
                for l in listeners {
                    let x = f[l.index]
                    if let port, !port.contains(x.localPort) && !port.contains(x.remotePort) { continue }
                    if byRecord && !filter.matchesRecord(sockets[l.index].record) { continue }
                    out.add(l.index, x)
                    out.listeners.append(l)
                }
            }
        }
        return out
    }
}

/// A prepared table's rows after the user's filter, and the header's totals for them.
public struct FilteredRows: Sendable {
    public let filter: ViewFilter
    public let ordering: Ordering
    public let generation: Int
    /// Positions in the table's `sockets`, in display order.
    public internal(set) var rows: [Int] = []
    /// Listeners view: the summaries of `rows`, in the same order.
    public internal(set) var listeners: [ListenerSummary] = []
    /// Live rows by kernel state number; closed rows are only counted.
    var stateCounts = [Int](repeating: 0, count: 16)
    public internal(set) var live = 0
    public internal(set) var closed = 0
    /// Whether any row has owners (the owner column is shown only then).
    public internal(set) var anyOwners = false

    init(filter: ViewFilter, ordering: Ordering, generation: Int) {
        self.filter = filter; self.ordering = ordering; self.generation = generation
    }

    @inline(__always)
    mutating func add(_ i: Int, _ x: RowFacts) {
        rows.append(i)
        if x.hasOwners { anyOwners = true }
        if x.closed { closed += 1; return }
        live += 1
        stateCounts[Int(x.state) & 15] += 1
    }

    /// `(name, count)` per state shown, biggest first (ties in kernel order), `ss` names merged.
    var totals: [(name: String, count: Int)] {
        var byName: [(name: String, count: Int, order: Int)] = []
        for (raw, n) in stateCounts.enumerated() where n > 0 {
            guard let st = SocketState(rawValue: UInt8(raw)) else { continue }
            if let j = byName.firstIndex(where: { $0.name == st.ssName }) {
                byName[j].count += n
            } else {
                byName.append((st.ssName, n, raw))
            }
        }
        byName.sort { $0.count != $1.count ? $0.count > $1.count : $0.order < $1.order }
        return byName.map { ($0.name, $0.count) }
    }
}
