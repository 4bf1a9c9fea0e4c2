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
    /// The command line's filter expression: the initial `/` filter, editable in the view.
    public var expression: FilterExpression?
    /// `-r`: host names shown from the start (`n` toggles them).
    public var resolveNames = false
    /// `--netns`: the network namespace shown, named in the title (escaped there).
    public var namespace: String?

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
    /// The `/` filter's port shortcut (either end's port).
    public private(set) var portFilter: PortSpec?
    /// The `/` filter as an expression (ss's language, or a bare address), or a process name.
    public private(set) var expressionFilter: FilterExpression?
    public private(set) var processFilter: String?
    /// The text of the `/` filter in force, as typed: the prompt opens with it for editing.
    public private(set) var filterText = ""
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
    /// `S`: the sort menu on the bottom line, one key per column.
    public private(set) var sortMenuOpen = false
    /// After a sort change the view goes to the top once the rows are in the new order (the
    /// live loop re-sorts off the UI thread, so this waits for that ordering).
    var topAfterSort: Ordering?
    /// Host names in place of addresses (`n`), where `hostName` knows one.
    public private(set) var showNames: Bool
    /// Where names come from (the live loop's resolver, which looks them up in the background):
    /// read at draw time for the rows on screen only. Nil: no resolver, `n` says so.
    public var hostName: (@Sendable (IPAddress) -> String?)?
    /// The socket `K` asked about, until `y` confirms (anything else keeps it open).
    public private(set) var killCandidate: SocketRecord?
    /// A confirmed `K`: the live loop closes it (`takeKillRequest()`) and reports in `status`.
    public private(set) var killRequest: SocketRecord?

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
        filterText = settings.ports.either.map { "\($0)" } ?? ""
        if let e = settings.expression, e != .all {
            // --port and an expression together: the expression carries both.
            expressionFilter = settings.ports.either.map { .and(.or(.port(.source, in: $0), .port(.destination, in: $0)), e) } ?? e
            portFilter = nil
            filterText = expressionFilter!.text
        }
        showOwners = settings.showOwners
        showNames = settings.resolveNames
        interval = settings.interval
    }

    /// The confirmed kill, once: the caller carries it out.
    public mutating func takeKillRequest() -> SocketRecord? {
        defer { killRequest = nil }
        return killRequest
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
    public var viewFilter: ViewFilter {
        ViewFilter(states: states, port: portFilter, expression: expressionFilter, processName: processFilter)
    }

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
        return ports.matches(localPort: r.local.port, remotePort: r.remote.port) && viewFilter.matchesRecord(r)
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
        if let wanted = topAfterSort, table.ordering == wanted {
            topAfterSort = nil
            selected = 0
            scrollTop = 0
            selectedKey = rows.isEmpty ? nil : all[rows[0]].key
            return
        }
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
        if sortMenuOpen {
            sortMenuOpen = false
            if case .char(let c) = key, let column = Self.sortMenu(for: mode).first(where: { $0.key == c })?.column {
                if column == sort { reversed.toggle() } else { sort = column; reversed = false }
                sortChanged()
            }
            return
        }
        if let candidate = killCandidate {
            // Only `y` closes; any other key (Esc, n, q, a move) leaves the socket alone.
            killCandidate = nil
            if key == .char("y") {
                killRequest = candidate
            } else {
                status = "not closed"
            }
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
        // Esc closes the detail pane, else clears the `/` filter.
        case .escape:
            if detailOpen { detailOpen = false } else if !filterText.isEmpty { apply(LiveFilter(), text: ""); rebuild() }
        // The prompt opens with the filter in force, for editing.
        case .char("/"): prompt = Prompt(text: filterText, error: nil)
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
            sortChanged()
        case .char("S"): sortMenuOpen = true
        case .char("r"): reversed.toggle(); sortChanged()
        case .char("p"): showOwners.toggle()
        case .char("n"):
            if hostName == nil {
                status = "host names are not available here"
            } else {
                showNames.toggle()
                status = showNames ? "host names on (looked up in the background; n turns them off)" : "host names off"
            }
        case .char("K"):
            guard let s = selectedSocket else { status = "no socket selected"; break }
            if s.isClosed { status = "that socket is already closed"; break }
            guard s.record.proto == .tcp || s.record.proto == .udp else { status = "only TCP and UDP sockets can be closed"; break }
            killCandidate = s.record
            status = "close " + Self.describe(s.record) + "? y closes it, any other key keeps it"
        case .char(" "): paused.toggle()
        case .char("+"), .char("="):
            interval = Self.intervalSteps.first { $0 > interval + 1e-9 } ?? interval
        case .char("-"), .char("_"):
            interval = Self.intervalSteps.last { $0 < interval - 1e-9 } ?? interval
        case .char("?"), .char("h"): helpOpen = true
        default: break
        }
    }

    /// `tcp 127.0.0.1:8080 -> 127.0.0.1:41234 (1234/nginx)`, for the kill prompt and its result.
    public static func describe(_ r: SocketRecord) -> String {
        var text = r.proto.rawValue + " " + Format.endpoint(r, local: true) + " -> " + Format.endpoint(r, local: false)
        let owner = Format.owner(r)
        if !owner.isEmpty { text += " (" + owner + ")" }
        return text
    }

    /// The sort menu's keys for a view: `1`…`9`, `0`, then `o` (owner), in the columns' order.
    public static func sortMenu(for mode: ViewMode) -> [(key: Character, column: SortColumn)] {
        let keys: [Character] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"]
        var out: [(key: Character, column: SortColumn)] = []
        for column in mode == .connections ? SortColumn.connections : SortColumn.listeners {
            if column == .owner { out.append(("o", column)) } else if out.count < keys.count { out.append((keys[out.count], column)) }
        }
        return out
    }

    /// A new sort shows the top of the table (the first rows in the new order), not the old
    /// selection wherever it landed.
    mutating func sortChanged() {
        topAfterSort = ordering
        rebuild()
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
            apply(LiveFilter(), text: "")
            rebuild()
            return
        case .backspace:
            if !p.text.isEmpty { p.text.removeLast() }
        case .char(let c) where c.isASCII && (c.asciiValue ?? 0) >= 0x20 && (c.asciiValue ?? 0) < 0x7F:
            if p.text.count < 500 { p.text.append(c) }
        default:
            return
        }
        // Applied as typed: a valid text replaces the filter; an invalid one keeps the last valid filter.
        switch LiveFilter.parse(p.text, services: settings.services) {
        case .success(let f):
            p.error = nil
            apply(f, text: p.text)
        case .failure(let e):
            p.error = e.message
        }
        prompt = p
        rebuild()
    }

    mutating func apply(_ f: LiveFilter, text: String) {
        portFilter = f.port; expressionFilter = f.expression; processFilter = f.processName
        filterText = text
    }

    /// The `/` filter in ss syntax for the header (a process name, which ss has no word for, as `process=NAME`).
    public var activeFilterText: String? {
        if let p = portFilter { return FilterExpression.or(.port(.source, in: p), .port(.destination, in: p)).text }
        if let e = expressionFilter { return e.text }
        if let n = processFilter { return "process=" + n }
        return nil
    }
}

/// What the `/` prompt takes: the full ss language, or a shortcut. Shortcuts are tried when the
/// text is not an expression: a port, list or range (`443`, `22,80`, `8000-8100`) or service name
/// matches either end; a bare address, CIDR or `[v6]` matches either end's address; a path or an
/// `@abstract` name (a glob) matches either end of a UNIX socket; any other
/// single word is a process name, matched against the owners. Host names are not resolved here:
/// a lookup would stall the screen on every key.
public struct LiveFilter: Sendable, Hashable {
    public var port: PortSpec?
    public var expression: FilterExpression?
    public var processName: String?

    public init(port: PortSpec? = nil, expression: FilterExpression? = nil, processName: String? = nil) {
        self.port = port; self.expression = expression; self.processName = processName
    }

    public static func parse(_ text: String, services: ServiceTable) -> Result<LiveFilter, FilterError> {
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty { return .success(LiveFilter()) }
        let env = FilterEnvironment(services: { services.ports(named: $0) })
        let languageError: FilterError
        do {
            let f = try FilterParser.parse([text], environment: env)
            guard f.states == nil else { return .failure(FilterError("states: use l, e and a here")) }
            // The view filters records it holds: marks, cgroups and bind locks are not among them.
            if f.expression.usesMark || f.expression.usesCgroup || f.expression.usesAutobound {
                return .failure(FilterError("fwmark, cgroup and autobound run in the kernel: give them on the command line"))
            }
            return .success(LiveFilter(expression: f.expression == .all ? nil : f.expression))
        } catch {
            languageError = error
        }
        guard trimmed.count == 1 else { return .failure(languageError) }
        let word = String(trimmed[0])
        if let spec = try? PortSpec(parsing: word, resolve: { services.ports(named: $0) }) { return .success(LiveFilter(port: spec)) }
        if word.first == "/" || word.first == "@" {
            return .success(LiveFilter(expression: .or(.unixPath(.source, pattern: word), .unixPath(.destination, pattern: word))))
        }
        let looksLikeAddress = (word.first.map { $0.isNumber || $0 == "[" || $0 == ":" } ?? false)
            || IPAddress(String(word.split(separator: "/").first ?? "")) != nil
        if looksLikeAddress {
            guard let s = try? FilterParser.parseHost(word, side: .source, environment: env),
                  let d = try? FilterParser.parseHost(word, side: .destination, environment: env) else {
                return .failure(languageError)
            }
            return .success(LiveFilter(expression: .or(s, d)))
        }
        if word.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:@".contains($0) }) && word.utf8.count <= 15 {
            return .success(LiveFilter(processName: word))
        }
        return .failure(languageError)
    }
}
