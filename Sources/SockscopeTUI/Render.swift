import SockscopeAnalysis
import SockscopeFilter
import SockscopeModel
import SockscopeRender

/// A table column: heading, width, and how to show a row.
struct Column {
    var title: String
    var sort: SortColumn?
    var width: Int
    var right: Bool
    /// Columns are dropped, highest first, when the terminal is too narrow. 0 is never dropped.
    /// The order is a priority: during an incident, who holds a socket (Owner) and its queues
    /// matter more than its age, its service name (the port is in the address) or its rates.
    /// At `Column.yieldsToAddresses` and above, a column also goes to give the addresses the
    /// width they need rather than cut one in the middle.
    var dropOrder: Int
    /// Local and remote addresses share whatever width is left.
    var flexible: Bool = false
    var value: (TrackedSocket, ListenerSummary?) -> String

    static let yieldsToAddresses = 6
}

extension ViewModel {
    /// Renders the screen at `width`×`height`. Mutating only to keep the selection in view and to
    /// remember the page size for PgUp/PgDn.
    public mutating func render(width: Int, height: Int) -> Frame {
        var f = Frame(width: width, height: height)
        guard f.width > 0, f.height > 0 else { return f }
        let H = f.height
        // Lines, most important first: bottom line, title, table heading, totals.
        var y = 0
        if H >= 2 { titleLine(&f, y: 0); y = 1 }
        if H >= 5 { totalsLine(&f, y: y); y += 1 }
        bottomLine(&f, y: H - 1)
        let areaTop = y, areaHeight = H - 1 - y
        guard areaHeight > 0 else { return f }

        if helpOpen {
            helpArea(&f, top: areaTop, height: areaHeight)
            return f
        }
        var tableHeight = areaHeight
        if detailOpen, let s = selectedSocket {
            let lines = detailLines(s, width: f.width)
            let paneHeight = areaHeight >= 12 ? min(lines.count + 1, areaHeight - 5) : areaHeight
            tableHeight = areaHeight - paneHeight
            detailPane(&f, lines: lines, top: areaTop + tableHeight, height: paneHeight)
        }
        if tableHeight > 0 { table(&f, top: areaTop, height: tableHeight, withHeading: H >= 4) }
        return f
    }

    // MARK: header and footer

    func titleLine(_ f: inout Frame, y: Int) {
        f.fill(y: y, .title)
        var left = " sockscope"
        if !settings.host.isEmpty { left += " @ " + Escape.terminal(settings.host) }
        if let ns = settings.namespace { left += "  netns " + Escape.terminal(ns) }
        left += "  " + (source?.rawValue ?? "-") + "  every " + Format.interval(interval)
        left += "  " + (mode == .connections ? "connections" : "listeners")
        left += "  sort " + sort.rawValue + (descending ? " v" : " ^")
        if needsReorder != nil { left += " (sorting...)" }  // the rows are still in the old order
        let right = paused ? "[PAUSED] " : ""
        f.put(left, y: y, x: 0, .title)
        if !right.isEmpty {
            let x = max(TextWidth.of(left) + 1, f.width - TextWidth.of(right))
            f.put(right, y: y, x: x, .warning)
        }
    }

    /// Totals by state over the rows passing the filter, then the filter itself.
    func totalsLine(_ f: inout Frame, y: Int) {
        // Counted while filtering (FilteredRows), not here: this runs on every frame.
        let live = filtered.live, closed = filtered.closed, shown = filtered.ordering.mode
        var text = "\(live) " + (shown == .listeners ? "listener" : "socket") + (live == 1 ? "" : "s")
        if shown == .connections {
            let totals = filtered.totals
            text += totals.isEmpty ? "" : ": " + totals.map { "\($0.name) \($0.count)" }.joined(separator: "  ")
        }
        if closed > 0 { text += "  (+\(closed) closed)" }
        let x = f.put(text, y: y, x: 1, .bold)
        let filter = filterDescription
        f.put("   filter: " + (filter.isEmpty ? "none" : filter), y: y, x: x, .normal)
    }

    /// `tcp,udp inet states=connected port=443`: what the rows are limited to.
    public var filterDescription: String {
        var parts: [String] = []
        if settings.protocols.count == 1, let p = settings.protocols.first { parts.append(p.rawValue) }
        if settings.families.count == 1, let fam = settings.families.first { parts.append(fam == .inet ? "ipv4" : fam == .inet6 ? "ipv6" : fam.rawValue) }
        if mode == .connections { parts.append("states=" + Self.describe(states)) }
        if let t = activeFilterText { parts.append(t) }
        if let s = settings.ports.source { parts.append("sport=\(s)") }
        if let d = settings.ports.destination { parts.append("dport=\(d)") }
        return parts.joined(separator: " ")
    }

    static func describe(_ s: StateSet) -> String {
        let named: [(StateSet, String)] = [(.all, "all"), (.connected, "connected"), (.listening, "listening"),
                                           ([.established], "established")]
        if let n = named.first(where: { $0.0 == s }) { return n.1 }
        var seen = Set<String>()
        return SocketState.allCases.filter { s.contains($0) }.map(\.ssName).filter { seen.insert($0).inserted }
            .joined(separator: ",").lowercased()
    }

    static let keyHelp = "q quit  / filter  l e a states  L listeners  S s r sort  p owners  n names  K close  Enter detail  "
        + "Space pause  + - interval  ? help"

    func bottomLine(_ f: inout Frame, y: Int) {
        if let p = prompt {
            let x = f.put("/" + p.text, y: y, x: 0, .bold)
            let cursorEnd = f.put("_", y: y, x: x, .selected)
            if let e = p.error {
                f.put("  " + Escape.terminal(e) + " (filter kept)", y: y, x: cursorEnd, .warning)
            } else {
                f.put("  port, list 22,80, range 8000-8100 or service; Enter keeps, Esc clears", y: y, x: cursorEnd, .normal)
            }
            return
        }
        if sortMenuOpen {
            let items = Self.sortMenu(for: mode).map { "\($0.key) \($0.column.rawValue)" }.joined(separator: "  ")
            f.put("sort by: " + items + "  (the same again reverses; any other key cancels)", y: y, x: 0, .bold)
            return
        }
        if let s = status {
            f.put(Escape.terminal(s), y: y, x: 0, .warning)
            return
        }
        f.put(Self.keyHelp, y: y, x: 0, .normal)
    }

    // MARK: table

    /// The name lookup for the address columns, when names are on.
    var names: (@Sendable (IPAddress) -> String?)? { showNames ? hostName : nil }

    func connectionColumns() -> [Column] {
        let now = self.now
        let names = self.names
        var cols: [Column] = [
            Column(title: "Proto", sort: .proto, width: 5, right: false, dropOrder: 5) { s, _ in
                (s.record.family.isIP ? s.record.proto.rawValue : s.record.proto.netid) + (s.record.family == .inet6 ? "6" : "")
            },
            Column(title: "State", sort: .state, width: 10, right: false, dropOrder: 0) { s, _ in
                s.record.proto == .udp && s.record.state == .close ? "UNCONN" : s.record.state.ssName
            },
            Column(title: "Local", sort: .local, width: 0, right: false, dropOrder: 0, flexible: true) { s, _ in
                Format.endpoint(s.record, local: true, name: names)
            },
            Column(title: "Remote", sort: .remote, width: 0, right: false, dropOrder: 0, flexible: true) { s, _ in
                Format.endpoint(s.record, local: false, name: names)
            },
        ]
        cols += serviceAndOwnerColumns()
        cols += [
            Column(title: "Recv-Q", sort: .recvQ, width: 6, right: true, dropOrder: 4) { s, _ in String(s.record.recvQueue) },
            Column(title: "Send-Q", sort: .sendQ, width: 6, right: true, dropOrder: 4) { s, _ in String(s.record.sendQueue) },
            Column(title: "RTT", sort: .rtt, width: 7, right: true, dropOrder: 6) { s, _ in
                s.record.state == .listen ? "-" : s.record.tcpInfo.map { Format.rtt($0.rttUs) } ?? "-"
            },
            Column(title: "In B/s", sort: .rateIn, width: 6, right: true, dropOrder: 7) { s, _ in
                Format.rate(s.throughput?.inBytesPerSecond)
            },
            Column(title: "Out B/s", sort: .rateOut, width: 7, right: true, dropOrder: 7) { s, _ in
                Format.rate(s.throughput?.outBytesPerSecond)
            },
            Column(title: "Age", sort: .age, width: 6, right: true, dropOrder: 9) { s, _ in Format.age(of: s, at: now) },
        ]
        return cols
    }

    /// The Service column (unless numeric) and the Owner column (when shown and known): the same in both tables.
    func serviceAndOwnerColumns() -> [Column] {
        let services = settings.services
        var cols: [Column] = []
        if !settings.numeric {
            cols.append(Column(title: "Service", sort: nil, width: 8, right: false, dropOrder: 8) { s, _ in
                Format.service(s.record, services)
            })
        }
        if showOwners && filtered.anyOwners {
            cols.append(Column(title: "Owner", sort: .owner, width: 14, right: false, dropOrder: 3) { s, _ in
                Format.owner(s.record)
            })
        }
        return cols
    }

    func listenerColumns() -> [Column] {
        let now = self.now
        let names = self.names
        var cols: [Column] = [
            Column(title: "Proto", sort: nil, width: 5, right: false, dropOrder: 5) { s, _ in
                (s.record.family.isIP ? s.record.proto.rawValue : s.record.proto.netid) + (s.record.family == .inet6 ? "6" : "")
            },
            Column(title: "Listen", sort: .local, width: 0, right: false, dropOrder: 0, flexible: true) { s, _ in
                Format.endpoint(s.record, local: true, name: names)
            },
        ]
        cols += serviceAndOwnerColumns()
        cols += [
            Column(title: "Accept-Q", sort: .acceptQueue, width: 11, right: true, dropOrder: 1) { s, _ in
                "\(s.record.recvQueue)/\(s.record.sendQueue)"
            },
            Column(title: "Estab", sort: .established, width: 6, right: true, dropOrder: 0) { _, l in
                String(l?.established ?? 0)
            },
            Column(title: "Peers", sort: .peers, width: 6, right: true, dropOrder: 4) { _, l in String(l?.peers ?? 0) },
            Column(title: "Age", sort: .age, width: 6, right: true, dropOrder: 9) { s, _ in Format.age(of: s, at: now) },
        ]
        return cols
    }

    /// Drops columns until the rest fit; then drops the cosmetic ones (`Column.yieldsToAddresses`)
    /// while an address would otherwise be cut; then shares the remaining width among the flexible
    /// ones (each gets what its widest visible value needs when it can). The sorted column is
    /// widened for its marker (` v`), so the marker never eats a letter of its title.
    func layout(_ all: [Column], width: Int, visible: ArraySlice<Int>) -> [Column] {
        var cols = all
        for j in cols.indices where cols[j].sort == sort && !cols[j].flexible {
            cols[j].width = max(cols[j].width, TextWidth.of(cols[j].title) + 2)
        }
        // An IPv4 endpoint with a 5-digit port mostly fits; longer ones are cut in the middle.
        let minFlex = 18
        func fixedWidth(_ c: [Column]) -> Int {
            c.reduce(0) { $0 + ($1.flexible ? 0 : $1.width) } + max(0, c.count - 1) + 1
        }
        func dropOne(atLeast: Int) -> Bool {
            guard let drop = cols.indices.filter({ cols[$0].dropOrder >= max(1, atLeast) })
                .max(by: { cols[$0].dropOrder < cols[$1].dropOrder }) else { return false }
            cols.remove(at: drop)
            return true
        }
        var flexCount: Int { cols.filter(\.flexible).count }
        while fixedWidth(cols) + flexCount * minFlex > width, dropOne(atLeast: 1) {}
        var wanted: [String: Int] = [:]
        for c in cols where c.flexible {
            var w = max(TextWidth.of(c.title) + 2, 15)
            for i in visible { w = max(w, TextWidth.of(c.value(sockets[i], nil))) }
            wanted[c.title] = w
        }
        let totalWanted = wanted.values.reduce(0, +)
        while fixedWidth(cols) + totalWanted > width, dropOne(atLeast: Column.yieldsToAddresses) {}
        let flex = cols.indices.filter { cols[$0].flexible }
        guard !flex.isEmpty else { return cols }
        var left = max(0, width - fixedWidth(cols))
        // Share fairly: the narrowest need first, each taking at most an equal share of what is left.
        for (n, j) in flex.sorted(by: { wanted[cols[$0].title, default: 0] < wanted[cols[$1].title, default: 0] }).enumerated() {
            let share = left / (flex.count - n)
            let w = max(min(wanted[cols[j].title, default: minFlex], share), min(minFlex, share))
            cols[j].width = w
            left -= w
        }
        return cols
    }

    mutating func table(_ f: inout Frame, top: Int, height: Int, withHeading: Bool) {
        let bodyTop = withHeading ? top + 1 : top
        let bodyHeight = max(0, height - (withHeading ? 1 : 0))
        pageSize = max(1, bodyHeight)
        if selected < scrollTop { scrollTop = selected }
        if bodyHeight > 0 && selected >= scrollTop + bodyHeight { scrollTop = selected - bodyHeight + 1 }
        scrollTop = max(0, min(scrollTop, max(0, rows.count - bodyHeight)))
        let visible = rows[min(scrollTop, rows.count)..<min(rows.count, scrollTop + bodyHeight)]
        // The columns of the table as it is sorted now: after `L` the rows are still the other
        // view's until the re-sort arrives.
        let shown = filtered.ordering.mode
        let cols = layout(shown == .connections ? connectionColumns() : listenerColumns(), width: f.width, visible: visible)

        if withHeading {
            var x = 1
            for c in cols {
                var t = c.title
                if c.sort == sort { t += descending ? " v" : " ^" }
                f.put(TextWidth.pad(t, to: c.width, right: c.right), y: top, x: x, c.sort == sort ? .selected : .bold)
                x += c.width + 1
            }
            if rows.isEmpty && bodyHeight > 0 {
                f.put(sockets.isEmpty && source == nil ? " waiting for the first refresh..." : " no sockets match",
                      y: bodyTop, x: 0, .dim)
            }
        }
        var listenerByIndex: [Int: ListenerSummary] = [:]
        if shown == .listeners {
            for l in listenerRows[visible.indices.clamped(to: listenerRows.indices)] { listenerByIndex[l.index] = l }
        }
        for (n, i) in visible.enumerated() {
            let y = bodyTop + n
            let s = sockets[i]
            let attr: CellAttribute = scrollTop + n == selected ? .selected : s.isClosed ? .dim : isNew(s) ? .new : .normal
            f.fill(y: y, attr)
            var x = 1
            for c in cols {
                f.put(TextWidth.pad(c.value(s, listenerByIndex[i]), to: c.width, right: c.right, keepPort: c.flexible),
                      y: y, x: x, attr)
                x += c.width + 1
            }
        }
    }

    // MARK: detail and help

    /// The detail pane's lines for one socket: every field, each untrusted string escaped.
    func detailLines(_ s: TrackedSocket, width: Int) -> [(String, CellAttribute)] {
        let r = s.record
        var lines: [(String, CellAttribute)] = []
        var head = "\(r.proto.rawValue) \(r.proto == .udp && r.state == .close ? "UNCONN" : r.state.ssName)  "
            + Format.endpoint(r, local: true, name: names) + " -> " + Format.endpoint(r, local: false, name: names)
        if let closed = s.closedAt {
            head += "  (closed \(Format.age(now - closed)) ago)"
        } else if isNew(s) {
            head += "  (new)"
        }
        if let prev = s.previousState, let at = s.stateChangedAt {
            head += "  was \(prev.ssName) until \(Format.age(now - at)) ago"
        }
        lines.append((head, .bold))
        var items = ["family \(r.family.rawValue)", "uid \(r.uid)", "inode \(r.inode)"]
        if let c = r.cookie { items.append("cookie 0x" + String(c, radix: 16)) }
        if r.interfaceIndex != 0 {
            var name: [UInt8] = []
            Escape.terminal(r.interfaceLabelBytes, to: &name)
            items.append("interface " + String(decoding: name, as: UTF8.self))
        }
        items.append("age " + Format.age(of: s, at: now) + (s.presentAtStart ? " (open at start)" : ""))
        items.append("recv-q \(r.recvQueue)")
        items.append("send-q \(r.sendQueue)")
        if let t = s.throughput {
            items.append("in " + Format.rate(t.inBytesPerSecond) + "B/s")
            items.append("out " + Format.rate(t.outBytesPerSecond) + "B/s")
        }
        if !settings.numeric {
            let svc = Format.service(r, settings.services)
            if !svc.isEmpty { items.append("service " + svc) }
        }
        lines += flow("socket", items, width: width)
        if r.proto == .tcp && r.state == .listen {
            // A listener's tcp_info says little; its health is what matters.
            lines += flow("listener", listenerHealth(s), width: width)
        } else if let t = r.tcpInfo {
            var ti = ["rtt \(Format.milliseconds(t.rttUs))/\(Format.milliseconds(t.rttvarUs))ms",
                      "rto \(Format.milliseconds(t.rtoUs))ms", "mss \(t.mss)", "cwnd \(t.cwnd)",
                      "ssthresh " + (t.ssthresh.map(String.init) ?? "-"), "unacked \(t.unacked)",
                      "retrans \(t.retrans)/\(t.totalRetrans)", "lost \(t.lost)"]
            if let v = t.bytesSent { ti.append("bytes_sent \(v)") }
            if let v = t.bytesAcked { ti.append("bytes_acked \(v)") }
            if let v = t.bytesReceived { ti.append("bytes_received \(v)") }
            if let v = t.deliveryRate { ti.append("delivery_rate " + Format.scaled(Double(v)) + "B/s") }
            if let v = t.pacingRate { ti.append("pacing_rate " + Format.scaled(Double(v)) + "B/s") }
            if let c = t.congestion { ti.append("congestion " + Escape.terminal(c)) }
            ti.append("lastsnd \(t.lastSendMs)ms")
            ti.append("lastrcv \(t.lastRecvMs)ms")
            if let v = t.minRttUs { ti.append("minrtt \(Format.milliseconds(v))ms") }
            lines += flow("tcp_info", ti, width: width)
        }
        if let m = r.memory {
            lines += flow("memory", ["rmem_alloc \(m.rmemAlloc)", "rcvbuf \(m.rcvbuf)", "wmem_alloc \(m.wmemAlloc)",
                                     "sndbuf \(m.sndbuf)", "fwd_alloc \(m.fwdAlloc)", "wmem_queued \(m.wmemQueued)",
                                     "optmem \(m.optmem)", "backlog \(m.backlog)", "drops \(m.drops)"], width: width)
        }
        if let ps = r.processes {
            if ps.isEmpty { lines += flow("owner", ["not readable"], width: width) }
            for p in ps.sorted() {
                var name: [UInt8] = []
                Escape.terminal(p.rawName, to: &name)
                var o = ["pid \(p.pid)", String(decoding: name, as: UTF8.self), "fd \(p.fd)",
                         "uid \(p.uid)" + (p.user.map { " (" + Escape.terminal($0) + ")" } ?? "")]
                if let c = p.cgroup { o.append("cgroup " + Escape.terminal(c)) }
                if let u = p.unit { o.append("unit " + Escape.terminal(u)) }
                if let c = p.container { o.append("container " + Escape.terminal(c)) }
                lines += flow("owner", o, width: width)
            }
        }
        return lines
    }

    /// A listener's accept queue against its backlog, and the connections and peers it serves
    /// (the listeners view's numbers, counted here when the connections view is shown).
    func listenerHealth(_ s: TrackedSocket) -> [String] {
        let r = s.record
        var items = ["accept queue \(r.recvQueue)/\(r.sendQueue)"]
        if r.sendQueue > 0 {
            let percent = Int((Double(r.recvQueue) * 100 / Double(r.sendQueue)).rounded())
            items[0] += " (\(percent)%" + (r.recvQueue * 2 > r.sendQueue ? ", over half" : "") + ")"
        }
        let summary: ListenerSummary?
        if filtered.ordering.mode == .listeners {
            summary = listenerRows.first { sockets[$0.index].key == s.key }
        } else {
            summary = Listeners.aggregate(sockets).first { sockets[$0.index].key == s.key }
        }
        if let summary {
            items.append("connections \(summary.established)")
            items.append("peers \(summary.peers)")
        }
        return items
    }

    /// `label  item  item  item`, wrapped under the first item when the line is full.
    func flow(_ label: String, _ items: [String], width: Int) -> [(String, CellAttribute)] {
        let indent = 10
        var out: [(String, CellAttribute)] = []
        var line = TextWidth.pad(label, to: indent - 1) + " "
        var empty = true
        for item in items {
            let w = TextWidth.of(item)
            if !empty && TextWidth.of(line) + 2 + w > width - 1 {
                out.append((line, .normal))
                line = String(repeating: " ", count: indent)
                empty = true
            }
            line += (empty ? "" : "  ") + item
            empty = false
        }
        out.append((line, .normal))
        return out
    }

    func detailPane(_ f: inout Frame, lines: [(String, CellAttribute)], top: Int, height: Int) {
        guard height > 0 else { return }
        f.put(String(repeating: "-", count: f.width), y: top, x: 0, .dim)
        f.put(" detail (Enter closes) ", y: top, x: 2, .bold)
        for (n, (text, attr)) in lines.prefix(max(0, height - 1)).enumerated() {
            f.put(" " + text, y: top + 1 + n, x: 0, attr)
        }
    }

    func helpArea(_ f: inout Frame, top: Int, height: Int) {
        var lines: [String] = [
            "Keys (any key closes this help)",
            "  q             quit (also Ctrl-C)",
            "  /             port filter, applied as you type: 443  22,80  8000-8100  https",
            "                Enter keeps it, Esc clears it",
            "  l  e  a       listening / established / all states",
            "  L             listeners: accept queue, connections and peers per listener",
            "  Up Down j k   move; PgUp PgDn, Home End, g G",
            "  S             sort menu: one key per column (1 local ... 9 out/s, o owner)",
            "  s  r          next sort column, reverse the order (the view goes to the top)",
            "  Enter         detail pane: 5-tuple, tcp_info, memory, owners",
            "  p             show or hide owners",
            "  n             host names for addresses (looked up in the background) or numbers",
            "  K             close the selected TCP/UDP socket (SOCK_DESTROY): asks, y confirms",
            "  Space         pause or resume refreshing",
            "  +  -          longer or shorter refresh interval",
            "",
            "New sockets are highlighted; closed ones stay dimmed for a few seconds.",
        ]
        if let c = lastRefreshCost {
            let ms = Int((c.cpuSeconds * 1000).rounded())
            lines.append("Last refresh: \(c.sockets) sockets, \(ms) ms CPU.")
        }
        for (n, l) in lines.prefix(height).enumerated() { f.put(" " + l, y: top + n, x: 0, n == 0 ? .bold : .normal) }
    }
}
