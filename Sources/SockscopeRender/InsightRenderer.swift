import SockscopeModel

// Port insight: the listeners view, the connection map (table, JSON, DOT) and the
// ephemeral-port report. Everything a renderer needs beyond the values (service names, the
// ephemeral range) comes in a `PortContext`, so nothing here does I/O.

extension JSONRenderer {
    /// `"service":"ssh","class":"system","ephemeral":false` for a non-zero port.
    static func portKeys(_ port: UInt16, _ proto: TransportProtocol, _ context: PortContext, _ w: inout JSONWriter) {
        guard port != 0 else { return }
        if let s = context.service(port, proto) { w.field("service", s) }
        w.key("class"); w.string(verbatim: PortClass(port: port).rawValue)
        if let range = context.ephemeral { w.field("ephemeral", range.contains(port)) }
    }
}

extension Escape {
    /// The contents of a double-quoted Graphviz DOT string (no quotes) showing `bytes` as the
    /// terminal escaping does (`\x1b`, `\u{202e}`, `\\`), with `\` and `"` escaped for DOT and
    /// `&` as `&amp;` (DOT labels interpret entities): any name renders literally, on one line.
    public static func dot(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        var visible: [UInt8] = []
        terminal(bytes, to: &visible)
        for c in visible {
            switch c {
            case UInt8(ascii: "\\"), UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(c)
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            default: out.append(c)
            }
        }
    }
}

/// Left-aligned columns separated by one space; the last column is not padded and trailing
/// spaces are trimmed. Cells must already be terminal-safe.
struct Columns {
    var rows: [[String]] = []

    func render(to out: inout [UInt8]) {
        var widths: [Int] = []
        for row in rows {
            for (i, cell) in row.enumerated() {
                let w = cell.unicodeScalars.count
                if i < widths.count { widths[i] = max(widths[i], w) } else { widths.append(w) }
            }
        }
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - cell.unicodeScalars.count + 1) }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out.append(contentsOf: line.utf8)
            out.append(0x0A)
        }
    }
}

/// Text shared by the insight views.
/// Text cells shared by the insight views and the live view.
public enum InsightText {
    /// `127.0.0.1`, `[::1]`.
    static func address(_ a: IPAddress) -> String { a.isIPv6 && !a.isIPv4Mapped ? "[\(a)]" : a.description }

    /// A UNIX name as the tables show it: escaped, `@name` when abstract.
    static func unixName(_ n: UnixName) -> String {
        switch n {
        case .path(let p): return String(decoding: Escape.terminalBytes(p), as: UTF8.self)
        case .abstract(let a): return "@" + String(decoding: Escape.terminalBytes(a), as: UTF8.self)
        case .unnamed: return "*"
        }
    }

    /// A port as the table shows it: the service name unless numeric (escaped), else the number.
    static func port(_ p: UInt16, _ proto: TransportProtocol, _ context: PortContext) -> String {
        if p == 0 { return "*" }
        return context.rawService(p, proto).map(cell) ?? String(p)
    }

    /// `443 (https)` or `443`.
    static func portWithService(_ p: UInt16, _ proto: TransportProtocol, _ context: PortContext) -> String {
        guard let s = context.rawService(p, proto) else { return String(p) }
        return "\(p) (\(cell(s)))"
    }

    /// A name for a table cell: escaped, and cut to `Escape.cellLimit` with a `…`.
    static func cell(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        Escape.terminal(bytes, limit: Escape.cellLimit, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `1234/sshd`, `+N` when more processes hold the socket, `-` when none could be read, empty when not scanned.
    public static func owner(_ r: SocketRecord) -> String {
        guard let ps = r.processes else { return "" }
        guard let p = ps.min() else { return "-" }
        var out: [UInt8] = []
        appendDecimal(UInt64(max(0, p.pid)), to: &out)
        out.append(UInt8(ascii: "/"))
        Escape.name(p.rawName, to: &out)
        if ps.count > 1 { out.append(contentsOf: "+\(ps.count - 1)".utf8) }
        return String(decoding: out, as: UTF8.self)
    }

    /// A map node for the table: `name(1234,1240)`, `port 8080`, `uid 1000`, `10.0.0.5`.
    static func node(_ n: MapNode, pids: [Int32]) -> String {
        switch n {
        case .process(let name):
            var bytes: [UInt8] = []
            Escape.name(name, to: &bytes)
            let s = String(decoding: bytes, as: UTF8.self)
            if pids.isEmpty { return s }
            let shown = pids.prefix(3).map(String.init).joined(separator: ",")
            return s + "(" + shown + (pids.count > 3 ? ",+\(pids.count - 3)" : "") + ")"
        case .localPort(let p): return "port \(p)"
        case .user(let uid): return "uid \(uid)"
        case .remote(let a): return address(a)
        }
    }
}

extension Escape {
    /// `terminal(_:to:)` into a fresh array.
    static func terminalBytes(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        terminal(bytes, to: &out)
        return out
    }
}

// MARK: listeners

/// Renders `--listeners`: one row per listening socket.
public struct ListenersRenderer: Sendable {
    public var ports: PortContext
    public var header: Bool

    public init(ports: PortContext, header: Bool = true) { self.ports = ports; self.header = header }

    /// The table; a `!` after the fill marks a queue over half the backlog. `counters` adds the
    /// kernel's totals on a last line (with the header only, so `-H` output is rows alone).
    public func table(_ rows: [ListenerHealth], counters: ListenCounters? = nil) -> [UInt8] {
        var cols = Columns()
        if header {
            cols.rows.append(["Local Address:Port", "Accept-Q", "Fill", "Estab", "Peers", "Process", "Top peers"])
        }
        for h in rows {
            let r = h.listener
            var local: String
            if r.family == .unix {
                // A UNIX listener: its name, escaped (`@name` when abstract), as the listing shows it.
                local = InsightText.unixName(r.localUnixName)
            } else {
                local = InsightText.address(r.local.address)
                if r.hasInterface { local += "%" + InsightText.cell(r.interfaceLabelBytes) }
                local += ":" + InsightText.port(r.local.port, r.proto, ports)
            }
            let queue = "\(h.acceptQueue)/" + (h.backlog.map(String.init) ?? "-")
            let fill = (h.queuePercent.map { "\($0)%" } ?? "-") + (h.isQueueOverHalf ? "!" : "")
            let peers = h.topPeers.map { "\(InsightText.address($0.address))(\($0.connections))" }.joined(separator: " ")
            cols.rows.append([local, queue, fill, String(h.established), String(h.peers), InsightText.owner(r), peers])
        }
        var out: [UInt8] = []
        cols.render(to: &out)
        if header, let c = counters {
            out.append(contentsOf: "Since boot, all listeners: \(c.overflows) listen overflows, \(c.drops) listen drops\n".utf8)
        }
        return out
    }

    /// A JSON array, one object per listener:
    /// `{"proto","family","local","inode","uid","accept_queue","backlog","queue_percent","queue_over_half",
    /// "established","peers","top_peers":[{"address","connections"}],"processes"}`
    /// (`backlog` and `queue_percent` only when known, `processes` when owners were scanned).
    public func json(_ rows: [ListenerHealth]) -> [UInt8] {
        var w = JSONWriter()
        w.arrayStart()
        for h in rows {
            w.elementOnNewLine()
            let r = h.listener
            w.objectStart()
            w.key("proto"); w.string(verbatim: r.proto.jsonName)
            w.key("family"); w.string(verbatim: r.family.rawValue)
            if r.family == .unix {
                w.key("local"); JSONRenderer.unixName(r.localUnixName, &w)
            } else {
                w.key("local"); JSONRenderer.endpoint(r.local, &w, annotated: (ports, r.proto))
            }
            w.field("inode", r.inode)
            w.field("uid", UInt64(r.uid))
            if r.hasInterface { w.field("interface", bytes: r.interfaceLabelBytes) }
            w.field("accept_queue", UInt64(h.acceptQueue))
            if let b = h.backlog { w.field("backlog", UInt64(b)) }
            if let p = h.queuePercent { w.field("queue_percent", UInt64(p)) }
            w.field("queue_over_half", h.isQueueOverHalf)
            w.field("established", UInt64(h.established))
            w.field("peers", UInt64(h.peers))
            w.key("top_peers")
            w.arrayStart()
            for p in h.topPeers {
                w.objectStart()
                w.key("address"); w.string(verbatim: { p.address.write(to: &$0) })
                w.field("connections", UInt64(p.connections))
                w.objectEnd()
            }
            w.arrayEnd()
            if let ps = r.processes { w.key("processes"); JSONRenderer.processes(ps, &w) }
            w.objectEnd()
        }
        if !rows.isEmpty { w.raw(0x0A) }
        w.arrayEnd()
        w.raw(0x0A)
        return w.bytes
    }
}

// MARK: ephemeral ports

/// Renders an `EphemeralReport`.
public enum PressureRenderer {
    /// A text section: the range, then one line per destination; `!` marks one over half.
    public static func text(_ report: EphemeralReport, ports: PortContext) -> String {
        let out = "Ephemeral ports (\(report.range.low)-\(report.range.high), \(report.range.size) ports) in use per destination:\n"
        if report.destinations.isEmpty { return out + "  (none)\n" }
        var cols = Columns()
        for d in report.destinations {
            cols.rows.append(["  " + d.proto.rawValue,
                              InsightText.address(d.remote.address) + ":" + InsightText.port(d.remote.port, d.proto, ports),
                              "from " + InsightText.address(d.localAddress),
                              "\(d.localPorts) port\(d.localPorts == 1 ? "" : "s")", "\(d.percent)%" + (d.isOverHalf ? "!" : ""),
                              "(\(d.connections) socket\(d.connections == 1 ? "" : "s"))"])
        }
        var bytes: [UInt8] = []
        cols.render(to: &bytes)
        return out + String(decoding: bytes, as: UTF8.self)
    }

    /// The stderr warning for a destination over half the range.
    public static func warning(_ d: PortPressure, ports: PortContext) -> String {
        "ephemeral ports: \(d.localPorts) of \(d.rangeSize) (\(d.percent)%) in use from "
            + "\(InsightText.address(d.localAddress)) to \(d.proto.rawValue) "
            + "\(InsightText.address(d.remote.address)):\(InsightText.portWithService(d.remote.port, d.proto, ports)); "
            + "new connections there will fail when they run out"
    }

    /// The same object as `EphemeralReport`'s `Codable` form.
    public static func json(_ report: EphemeralReport, to out: inout [UInt8]) {
        JSONWriter.append(to: &out) { json(report, &$0) }
    }

    static func json(_ report: EphemeralReport, _ w: inout JSONWriter) {
        w.objectStart()
        w.field("low", UInt64(report.range.low))
        w.field("high", UInt64(report.range.high))
        w.field("size", UInt64(report.range.size))
        w.key("destinations")
        w.arrayStart()
        for d in report.destinations {
            w.objectStart()
            w.key("proto"); w.string(verbatim: d.proto.rawValue)
            w.key("address"); w.string(verbatim: { d.remote.address.write(to: &$0) })
            w.field("port", UInt64(d.remote.port))
            w.key("local_address"); w.string(verbatim: { d.localAddress.write(to: &$0) })
            w.field("local_ports", UInt64(max(0, d.localPorts)))
            w.field("connections", UInt64(max(0, d.connections)))
            w.field("range_size", UInt64(max(0, d.rangeSize)))
            w.field("percent", UInt64(max(0, d.percent)))
            w.field("over_half", d.isOverHalf)
            w.objectEnd()
        }
        w.arrayEnd()
        w.objectEnd()
    }
}

// MARK: connection map

/// Renders `--map`: a table, a JSON object or a Graphviz digraph.
public struct MapRenderer: Sendable {
    public var ports: PortContext
    public var header: Bool

    public init(ports: PortContext, header: Bool = true) { self.ports = ports; self.header = header }

    /// The destinations of `report` over half the range, for marking edges.
    func pressured(_ report: EphemeralReport?) -> [PressureKey: PortPressure] {
        var out: [PressureKey: PortPressure] = [:]
        for d in report?.warnings ?? [] { out[PressureKey(proto: d.proto, port: d.remote.port, address: d.remote.address)] = d }
        return out
    }

    struct PressureKey: Hashable { var proto: TransportProtocol; var port: UInt16; var address: IPAddress }

    /// Columns Kind, Proto, Client, Server, Port (number and service), Conns, and Bytes when any
    /// edge has byte counts (`-i`); then the ephemeral-port section when a report is given.
    public func table(_ edges: [MapEdge], pressure: EphemeralReport? = nil) -> [UInt8] {
        let withBytes = edges.contains { $0.bytes != nil }
        var cols = Columns()
        if header { cols.rows.append(["Kind", "Proto", "Client", "Server", "Port", "Conns"] + (withBytes ? ["Bytes"] : [])) }
        for e in edges {
            var row = [e.kind.rawValue, (e.unixName == nil ? e.proto.rawValue : e.proto.netid), InsightText.node(e.client, pids: e.clientPIDs),
                       InsightText.node(e.server, pids: e.serverPIDs),
                       e.unixName.map(InsightText.unixName) ?? InsightText.portWithService(e.port, e.proto, ports),
                       String(e.connections)]
            if withBytes { row.append(e.bytes.map { String($0) } ?? "-") }
            cols.rows.append(row)
        }
        var out: [UInt8] = []
        cols.render(to: &out)
        if let pressure, header {
            out.append(0x0A)
            out.append(contentsOf: PressureRenderer.text(pressure, ports: ports).utf8)
        }
        return out
    }

    /// `{"edges":[…],"ephemeral_ports":{…}}`; each edge is
    /// `{"kind","proto","client":NODE,"server":NODE,"port","service"?,"class","connections","bytes_to_server"?,"bytes_to_client"?}`
    /// and a node is `{"process":name,"pids":[…]}`, `{"port":N}`, `{"uid":N}` or `{"address":…}`.
    public func json(_ edges: [MapEdge], pressure: EphemeralReport? = nil) -> [UInt8] {
        var w = JSONWriter()
        w.objectStart()
        w.key("edges")
        w.arrayStart()
        for e in edges {
            w.elementOnNewLine()
            w.objectStart()
            w.key("kind"); w.string(verbatim: e.kind.rawValue)
            w.key("proto"); w.string(verbatim: e.proto.rawValue)
            w.key("client"); Self.node(e.client, pids: e.clientPIDs, &w)
            w.key("server"); Self.node(e.server, pids: e.serverPIDs, &w)
            if let name = e.unixName {
                // A UNIX edge: the name the two processes meet at, as a listing's endpoint object.
                w.key("unix"); JSONRenderer.unixName(name, &w)
            } else {
                w.field("port", UInt64(e.port))
                JSONRenderer.portKeys(e.port, e.proto, ports, &w)
            }
            w.field("connections", UInt64(max(0, e.connections)))
            if let b = e.bytesToServer { w.field("bytes_to_server", b) }
            if let b = e.bytesToClient { w.field("bytes_to_client", b) }
            w.objectEnd()
        }
        if !edges.isEmpty { w.raw(0x0A) }
        w.arrayEnd()
        if let pressure { w.key("ephemeral_ports"); PressureRenderer.json(pressure, &w) }
        w.objectEnd()
        w.raw(0x0A)
        return w.bytes
    }

    static func node(_ n: MapNode, pids: [Int32], _ w: inout JSONWriter) {
        w.objectStart()
        switch n {
        case .process(let name):
            w.field("process", bytes: name)
            w.key("pids")
            w.arrayStart()
            for p in pids { w.number(UInt64(max(0, p))) }
            w.arrayEnd()
        case .localPort(let p):
            w.field("port", UInt64(p))
        case .user(let uid):
            w.field("uid", UInt64(uid))
        case .remote(let a):
            w.key("address"); w.string(verbatim: { a.write(to: &$0) })
        }
        w.objectEnd()
    }

    /// A Graphviz digraph: local nodes as boxes, remote hosts as ellipses, one arrow per edge from
    /// client to server labelled with protocol, port (service), connection count and, with `-i`,
    /// bytes each way. A process node is one process (name and pid) when the edges were made
    /// `perProcess`; node ids are generated (`n0`, `n1`…); every label is escaped with `Escape.dot`.
    /// An edge to a destination over half the ephemeral range is drawn red with its share.
    public func dot(_ edges: [MapEdge], pressure: EphemeralReport? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: """
        digraph sockscope {
          graph [rankdir=LR, fontname="monospace"];
          node [shape=box, fontname="monospace"];
          edge [fontname="monospace", fontsize=10];

        """.utf8)
        struct NodeKey: Hashable { var node: MapNode; var pids: [Int32] }
        var ids: [NodeKey: Int] = [:]
        var order: [NodeKey] = []
        func key(_ n: MapNode, _ pids: [Int32]) -> NodeKey {
            if case .process = n { return NodeKey(node: n, pids: pids) }
            return NodeKey(node: n, pids: [])
        }
        for e in edges {
            for k in [key(e.client, e.clientPIDs), key(e.server, e.serverPIDs)] where ids[k] == nil {
                ids[k] = order.count
                order.append(k)
            }
        }
        for (i, k) in order.enumerated() {
            out.append(contentsOf: "  n\(i) [label=\"".utf8)
            switch k.node {
            case .process(let name):
                Escape.dot(name, to: &out)
                if !k.pids.isEmpty {
                    let shown = k.pids.prefix(5).map(String.init).joined(separator: ", ")
                    out.append(contentsOf: "\\npid \(shown)\(k.pids.count > 5 ? ", +\(k.pids.count - 5)" : "")".utf8)
                }
                out.append(contentsOf: "\"];\n".utf8)
            case .localPort(let p):
                out.append(contentsOf: "local port \(p)\\n(owner unknown)\", style=dashed];\n".utf8)
            case .user(let uid):
                out.append(contentsOf: "uid \(uid)\\n(owner unknown)\", style=dashed];\n".utf8)
            case .remote(let a):
                out.append(contentsOf: "\(a)\", shape=ellipse];\n".utf8)
            }
        }
        let hot = pressured(pressure)
        for e in edges {
            guard let c = ids[key(e.client, e.clientPIDs)], let s = ids[key(e.server, e.serverPIDs)] else { continue }
            if let name = e.unixName {
                out.append(contentsOf: "  n\(c) -> n\(s) [label=\"\(e.proto.netid) ".utf8)
                switch name {
                case .path(let p): Escape.dot(p, to: &out)
                case .abstract(let a): out.append(UInt8(ascii: "@")); Escape.dot(a, to: &out)
                case .unnamed: out.append(UInt8(ascii: "*"))
                }
            } else {
                out.append(contentsOf: "  n\(c) -> n\(s) [label=\"\(e.proto.rawValue) \(e.port)".utf8)
            }
            if e.unixName == nil, let svc = ports.rawService(e.port, e.proto) {
                out.append(contentsOf: " (".utf8)
                Escape.dot(svc, to: &out)
                out.append(UInt8(ascii: ")"))
            }
            out.append(contentsOf: "\\n\(e.connections) connection\(e.connections == 1 ? "" : "s")".utf8)
            if e.bytesToServer != nil || e.bytesToClient != nil {
                // Arrows name the direction: → client to server, ← server to client.
                out.append(contentsOf: "\\n→ \(Self.bytes(e.bytesToServer ?? 0))  ← \(Self.bytes(e.bytesToClient ?? 0))".utf8)
            }
            var attrs = ""
            if case .remote(let a) = e.server, let d = hot[PressureKey(proto: e.proto, port: e.port, address: a)] {
                out.append(contentsOf: "\\nsource ports \(d.percent)%".utf8)
                attrs = ", color=red, fontcolor=red"
            }
            out.append(contentsOf: "\"\(attrs)\(e.kind == .local ? ", style=bold" : "")];\n".utf8)
        }
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    /// A byte count for a label: `512 B`, `1.5 KiB`, `12.0 MiB`, `3.2 GiB` (powers of 1024, one decimal).
    static func bytes(_ n: UInt64) -> String {
        if n < 1024 { return "\(n) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var unit = 0, scale: UInt64 = 1024
        while unit < units.count - 1 && n / scale >= 1024 { unit += 1; scale *= 1024 }
        let tenths = (n / (scale / 1024) * 10 / 1024)  // n / scale in tenths, rounded down
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}

// MARK: summary

extension SummaryRenderer {
    /// The port-insight sections of `-s`: the kernel's listen queue totals and the ephemeral ports.
    static func insightText(_ s: SocketSummary, ports: PortContext) -> String {
        var out = ""
        if s.listenOverflows != nil || s.listenDrops != nil {
            out += "\nListen queues since boot (all listeners): "
            out += "\(s.listenOverflows.map(String.init) ?? "?") overflows, \(s.listenDrops.map(String.init) ?? "?") drops\n"
        }
        if let e = s.ephemeralPorts { out += "\n" + PressureRenderer.text(e, ports: ports) }
        return out
    }

    /// `"listen_overflows":N,"listen_drops":N,"ephemeral_ports":{…}`, each key only when known.
    static func insightJSON(_ s: SocketSummary, _ w: inout JSONWriter) {
        if let v = s.listenOverflows { w.field("listen_overflows", v) }
        if let v = s.listenDrops { w.field("listen_drops", v) }
        if let e = s.ephemeralPorts { w.key("ephemeral_ports"); PressureRenderer.json(e, &w) }
    }
}
