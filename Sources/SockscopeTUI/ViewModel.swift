import SockscopeAnalysis
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

    // Data, from the last refresh: prepared (sorted) off the UI thread by the live loop, and
    // filtered here in one cheap pass whenever the filter changes.
    public private(set) var table = PreparedTable()
    public private(set) var filtered = PreparedTable().filtered(by: ViewFilter(states: .all, port: nil))
    /// The tracked sockets of the last refresh.
    public var sockets: [TrackedSocket] { table.sockets }
    public var source: SourceKind? { table.source }
    /// The time of the last refresh (the tracker's clock); ages are measured to it.
    public var now: Double { table.time }
    /// When true (the default, and what the tests use), a key that changes the sort or the view
    /// re-sorts right away on the calling thread. The live loop sets it to false: such a key then
    /// only records the wanted `ordering`, the rows stay in the old order, and the loop has the
    /// table re-sorted off the UI thread (`needsReorder`) and hands it back with `ingest(_:)`.
    public var reordersInline = true
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

    /// Row positions into `sockets` after filtering and sorting (both views).
    public var rows: [Int] { filtered.rows }
    /// Listener rows after filtering and sorting (listeners view), in the order of `rows`.
    public var listenerRows: [ListenerSummary] { filtered.listeners }
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

    /// Takes the tracker's sockets after a refresh at `time`, and prepares them here (sorting on
    /// the calling thread: for tests and small tables; the live loop uses `ingest(_:filtered:)`).
    public mutating func ingest(_ sockets: [TrackedSocket], source: SourceKind, at time: Double) {
        ingest(PreparedTable(sockets: sockets, source: source, time: time, generation: table.generation + 1,
                             ordering: ordering, settings: settings))
    }

    /// Takes a table prepared elsewhere, and the rows already filtered with it when the preparer
    /// knew the filter (used only if the filter is still the same). Newer data is always taken;
    /// a re-sort of the current data only when it is sorted as now wanted (the user may have
    /// pressed `s` again meanwhile); anything older is ignored.
    public mutating func ingest(_ prepared: PreparedTable, filtered pre: FilteredRows? = nil) {
        guard prepared.generation > table.generation
            || (prepared.generation == table.generation && prepared.ordering == ordering) else { return }
        table = prepared
        if table.ordering != ordering && reordersInline {
            table = table.reordered(for: ordering, settings: settings)
        }
        if let pre, pre.filter == viewFilter, pre.ordering == table.ordering, pre.generation == table.generation {
            filtered = pre
            reselect()
        } else {
            refilter()
        }
    }

    /// The ordering the user asked for (`s`, `r`, `L`); the table may still be sorted for another.
    public var ordering: Ordering { Ordering(mode: mode, sort: sort, reversed: reversed) }

    /// The filter the user asked for (`l`/`e`/`a`, `/`).
    /// (The listeners view ignores the states: `FilteredRows` checks only the port there.)
    public var viewFilter: ViewFilter { ViewFilter(states: states, port: portFilter) }

    /// The ordering the table must be re-sorted for, when it is not sorted as wanted.
    public var needsReorder: Ordering? { table.ordering == ordering ? nil : ordering }

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

    /// Applies a change of filter or sort, keeping the selected socket selected. A filter change
    /// is one pass over the table's facts; a sort change re-sorts here only when `reordersInline`.
    mutating func rebuild() {
        if table.ordering != ordering && reordersInline {
            table = table.reordered(for: ordering, settings: settings)
        }
        refilter()
    }

    /// Filters the table for the current filter (the table's own ordering, whatever is wanted).
    mutating func refilter() {
        filtered = table.filtered(by: viewFilter)
        reselect()
    }

    /// Finds the selected socket again after the rows changed.
    mutating func reselect() {
        let rows = filtered.rows, all = table.sockets
        if let key = selectedKey, let i = rows.firstIndex(where: { all[$0].key == key }) {
            selected = i
        } else {
            selected = min(selected, max(0, rows.count - 1))
        }
        selectedKey = rows.isEmpty ? nil : all[rows[selected]].key
    }

    var descending: Bool { sort.descendingByDefault != reversed }

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
