import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender

/// A key press, decoded by the terminal layer.
public enum Key: Sendable, Hashable {
    case char(Character)
    case up, down, pageUp, pageDown, home, end, enter, escape, backspace
}

/// What the live view starts with (from the command line).
public struct WatchSettings: Sendable {
    /// Shown in the title bar; escaped there.
    public var host: String
    public var interval: Double
    /// Fixed for the session: collection is limited to these.
    public var protocols: Set<TransportProtocol>
    public var families: Set<AddressFamily>
    /// The initial state filter (`l`, `e`, `a` change it).
    public var states: StateSet
    /// `--sport`/`--dport` stay for the session; `--port` is the initial `/` filter.
    public var ports: PortFilter
    public var services: ServiceTable
    /// `-n`: no service column.
    public var numeric: Bool
    public var showOwners: Bool
    /// How long a socket stays highlighted as new, at least one refresh (seconds).
    public var newHighlight: Double

    public init(host: String = "", interval: Double = 1, protocols: Set<TransportProtocol> = [.tcp, .udp],
                families: Set<AddressFamily> = [.inet, .inet6], states: StateSet = .connected,
                ports: PortFilter = PortFilter(), services: ServiceTable = ServiceTable(), numeric: Bool = false,
                showOwners: Bool = true, newHighlight: Double = 3) {
        self.host = host; self.interval = interval; self.protocols = protocols; self.families = families
        self.states = states; self.ports = ports; self.services = services; self.numeric = numeric
        self.showOwners = showOwners; self.newHighlight = newHighlight
    }
}

/// The two tables.
public enum ViewMode: Sendable, Hashable {
    case connections, listeners
}

/// What a table can be sorted by. `s` cycles through those that apply to the current view.
public enum SortColumn: String, Sendable, CaseIterable {
    case local, remote, state, proto, recvQ = "recv-q", sendQ = "send-q", rtt, rateIn = "in", rateOut = "out", age
    case owner, acceptQueue = "accept-q", established = "estab", peers

    static let connections: [SortColumn] = [.local, .remote, .state, .proto, .recvQ, .sendQ, .rtt, .rateIn, .rateOut,
                                            .age, .owner]
    static let listeners: [SortColumn] = [.local, .acceptQueue, .established, .peers, .age, .owner]

    /// Numbers sort biggest first, text and age (newest first) ascending, before `r` reverses.
    var descendingByDefault: Bool {
        switch self {
        case .recvQ, .sendQ, .rtt, .rateIn, .rateOut, .acceptQueue, .established, .peers: return true
        default: return false
        }
    }
}

/// The live view's state and logic, with no terminal: it takes tracked sockets and keys, and
/// renders frames. The terminal layer only draws its frames and feeds it keys.
public struct ViewModel: Sendable {
    public let settings: WatchSettings

    // Data, from the last refresh.
    public private(set) var sockets: [TrackedSocket] = []
    public private(set) var source: SourceKind?
    /// The time of the last refresh (the tracker's clock); ages are measured to it.
    public private(set) var now: Double = 0
    /// A one-line message for the bottom line (a collection error, a notice); cleared by the next key.
    public var status: String?
    /// CPU seconds the last refresh took and how many sockets it read, shown in the help.
    public var lastRefreshCost: (cpuSeconds: Double, sockets: Int)?

    // View state.
    public private(set) var mode: ViewMode = .connections
    public private(set) var states: StateSet
    /// The `/` filter (either end's port).
    public private(set) var portFilter: PortSpec?
    public private(set) var sort: SortColumn = .local
    public private(set) var reversed = false
    public private(set) var showOwners: Bool
    public private(set) var detailOpen = false
    public private(set) var helpOpen = false
    public private(set) var paused = false
    public private(set) var interval: Double
    public private(set) var quitRequested = false
    /// The filter prompt while it is open.
    public private(set) var prompt: Prompt?

    /// Row positions into `sockets` after filtering and sorting (connections view).
    public private(set) var rows: [Int] = []
    /// Listener rows after filtering and sorting (listeners view).
    public private(set) var listenerRows: [ListenerSummary] = []
    public private(set) var selected = 0
    var selectedKey: SocketKey?
    var scrollTop = 0
    /// Rows on one page at the last render, for PgUp/PgDn.
    var pageSize = 10

    /// The text typed after `/`, and why it does not parse (the last valid filter stays applied).
    public struct Prompt: Sendable, Hashable {
        public var text: String
        public var error: String?
    }

    /// Refresh intervals `+` and `-` step through.
    public static let intervalSteps: [Double] = [0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300, 600, 3600]

    public init(settings: WatchSettings) {
        self.settings = settings
        states = settings.states
        portFilter = settings.ports.either
        showOwners = settings.showOwners
        interval = settings.interval
    }

    // MARK: data

    /// Takes the tracker's sockets after a refresh at `time`.
    public mutating func ingest(_ sockets: [TrackedSocket], source: SourceKind, at time: Double) {
        self.sockets = sockets
        self.source = source
        now = time
        rebuild()
    }

    /// Whether a record passes the whole current filter (state presets included).
    public func matches(_ r: SocketRecord) -> Bool {
        matchesIgnoringState(r) && states.restricted(to: r.proto).contains(r.state)
    }

    func matchesIgnoringState(_ r: SocketRecord) -> Bool {
        guard settings.protocols.contains(r.proto), settings.families.contains(r.family) else { return false }
        var ports = settings.ports
        ports.either = portFilter
        return ports.matches(localPort: r.local.port, remotePort: r.remote.port)
    }

    /// True when the socket should be highlighted as new.
    public func isNew(_ s: TrackedSocket) -> Bool {
        !s.presentAtStart && !s.isClosed && (s.firstSeen >= now || now - s.firstSeen < settings.newHighlight)
    }

    /// Recomputes the rows after a change of data, filter or sort, keeping the selected socket selected.
    mutating func rebuild() {
        switch mode {
        case .connections:
            var r: [Int] = []
            r.reserveCapacity(sockets.count)
            for (i, s) in sockets.enumerated() where matches(s.record) { r.append(i) }
            sortRows(&r)
            rows = r
            listenerRows = []
        case .listeners:
            var l = Listeners.aggregate(sockets).filter { matchesIgnoringState(sockets[$0.index].record) }
            sortListeners(&l)
            listenerRows = l
            rows = l.map(\.index)
        }
        if let key = selectedKey, let i = rows.firstIndex(where: { sockets[$0].key == key }) {
            selected = i
        } else {
            selected = min(selected, max(0, rows.count - 1))
        }
        selectedKey = rows.isEmpty ? nil : sockets[rows[selected]].key
    }

    var descending: Bool { sort.descendingByDefault != reversed }

    /// A total order: the sort column, then the endpoints, then the position (so equal rows never swap).
    func sortRows(_ r: inout [Int]) {
        let s = sockets, col = sort, desc = descending
        r.sort { a, b in
            let x = s[a], y = s[b]
            switch Self.compare(x, y, by: col) {
            case .some(let less): return desc ? !less : less
            case .none: return Self.tiebreak(x, y, a, b)
            }
        }
    }

    func sortListeners(_ l: inout [ListenerSummary]) {
        let s = sockets, col = sort, desc = descending
        l.sort { a, b in
            let order: Bool?
            switch col {
            case .established: order = a.established == b.established ? nil : a.established < b.established
            case .peers: order = a.peers == b.peers ? nil : a.peers < b.peers
            default: order = Self.compare(s[a.index], s[b.index], by: col == .acceptQueue ? .recvQ : col)
            }
            if let order { return desc ? !order : order }
            return Self.tiebreak(s[a.index], s[b.index], a.index, b.index)
        }
    }

    /// nil when equal by this column, else whether `x` sorts before `y` ascending.
    static func compare(_ x: TrackedSocket, _ y: TrackedSocket, by col: SortColumn) -> Bool? {
        func cmp<T: Comparable>(_ a: T, _ b: T) -> Bool? { a == b ? nil : a < b }
        let a = x.record, b = y.record
        switch col {
        case .local: return cmp(a.local, b.local)
        case .remote: return cmp(a.remote, b.remote)
        case .state: return cmp(a.state, b.state)
        case .proto: return a.proto != b.proto ? a.proto < b.proto : cmp(a.family, b.family)
        case .recvQ, .acceptQueue: return cmp(a.recvQueue, b.recvQueue)
        case .sendQ: return cmp(a.sendQueue, b.sendQueue)
        case .rtt: return cmp(a.tcpInfo.map { Int64($0.rttUs) } ?? -1, b.tcpInfo.map { Int64($0.rttUs) } ?? -1)
        case .rateIn: return cmp(x.throughput?.inBytesPerSecond ?? -1, y.throughput?.inBytesPerSecond ?? -1)
        case .rateOut: return cmp(x.throughput?.outBytesPerSecond ?? -1, y.throughput?.outBytesPerSecond ?? -1)
        case .age: return cmp(y.firstSeen, x.firstSeen)  // youngest first
        case .owner:
            return cmp(a.processes?.min()?.pid ?? Int32.max, b.processes?.min()?.pid ?? Int32.max)
        case .established, .peers: return nil
        }
    }

    static func tiebreak(_ x: TrackedSocket, _ y: TrackedSocket, _ i: Int, _ j: Int) -> Bool {
        let a = x.record, b = y.record
        if a.local != b.local { return a.local < b.local }
        if a.remote != b.remote { return a.remote < b.remote }
        if a.proto != b.proto { return a.proto < b.proto }
        return i < j
    }

    /// The selected socket, if any row is selected.
    public var selectedSocket: TrackedSocket? {
        rows.indices.contains(selected) ? sockets[rows[selected]] : nil
    }

    // MARK: keys

    /// Applies one key press.
    public mutating func handle(_ key: Key) {
        status = nil
        if prompt != nil { handlePrompt(key); return }
        if helpOpen {
            helpOpen = false
            if key == .char("q") { quitRequested = true }
            return
        }
        switch key {
        case .char("q"), .char("Q"): quitRequested = true
        case .up, .char("k"): move(to: selected - 1)
        case .down, .char("j"): move(to: selected + 1)
        case .pageUp: move(to: selected - max(1, pageSize))
        case .pageDown: move(to: selected + max(1, pageSize))
        case .home, .char("g"): move(to: 0)
        case .end, .char("G"): move(to: rows.count - 1)
        case .enter: detailOpen.toggle()
        case .escape: detailOpen = false
        // The prompt starts empty (typing replaces the filter, as in `less`); the header shows the current one.
        case .char("/"): prompt = Prompt(text: "", error: nil)
        case .char("l"): setStates(.listening)
        case .char("e"): setStates([.established])
        case .char("a"): setStates(.all)
        case .char("L"):
            mode = mode == .connections ? .listeners : .connections
            let allowed = mode == .connections ? SortColumn.connections : SortColumn.listeners
            if !allowed.contains(sort) { sort = .local; reversed = false }
            rebuild()
        case .char("s"):
            let cycle = mode == .connections ? SortColumn.connections : SortColumn.listeners
            let i = cycle.firstIndex(of: sort) ?? -1
            sort = cycle[(i + 1) % cycle.count]
            reversed = false
            rebuild()
        case .char("r"): reversed.toggle(); rebuild()
        case .char("p"): showOwners.toggle()
        case .char(" "): paused.toggle()
        case .char("+"), .char("="):
            interval = Self.intervalSteps.first { $0 > interval + 1e-9 } ?? interval
        case .char("-"), .char("_"):
            interval = Self.intervalSteps.last { $0 < interval - 1e-9 } ?? interval
        case .char("?"), .char("h"): helpOpen = true
        default: break
        }
    }

    mutating func move(to row: Int) {
        guard !rows.isEmpty else { selected = 0; selectedKey = nil; return }
        selected = min(max(0, row), rows.count - 1)
        selectedKey = sockets[rows[selected]].key
    }

    mutating func setStates(_ s: StateSet) {
        states = s
        if mode == .listeners { mode = .connections }
        rebuild()
    }

    mutating func handlePrompt(_ key: Key) {
        guard var p = prompt else { return }
        switch key {
        case .enter:
            prompt = nil
            return
        case .escape:
            prompt = nil
            portFilter = nil
            rebuild()
            return
        case .backspace:
            if !p.text.isEmpty { p.text.removeLast() }
        case .char(let c) where c.isASCII && !c.isWhitespace && (c.isLetter || c.isNumber || ",-_.".contains(c)):
            if p.text.count < 200 { p.text.append(c) }
        default:
            return
        }
        // Applied as typed: a valid prefix replaces the filter; an invalid one keeps the last valid filter.
        if p.text.isEmpty {
            p.error = nil
            portFilter = nil
        } else {
            let services = settings.services
            do {
                portFilter = try PortSpec(parsing: p.text, resolve: { services.ports(named: $0) })
                p.error = nil
            } catch {
                p.error = error.message
            }
        }
        prompt = p
        rebuild()
    }
}
