import SockscopeModel

/// What the `ss`-style table shows.
public struct TableOptions: Sendable {
    public var header: Bool
    /// Ports as numbers (`-n`); otherwise service names from the services table where known.
    public var numeric: Bool
    public var services: ServiceTable
    /// The leading `Netid` column (shown, like `ss`, when more than one protocol is listed).
    public var netid: Bool
    /// `-e`: uid, inode and cookie.
    public var extended: Bool
    /// `-p`: the owning processes.
    public var processes: Bool
    /// `-i`: a second line of TCP internals.
    public var info: Bool
    /// `-m`: socket memory.
    public var memory: Bool
    /// `-o`: each socket's timer, and the negotiated TCP options in the `-i` line.
    public var timers = false
    /// `-O`: the `-i` fields on the socket's row instead of a second line.
    public var oneLine = false
    /// `-b`: a packet socket's attached BPF program on a second line, as `ss -b` prints it.
    public var bpf = false
    /// `--cgroup`: the socket's cgroup path by id (`cgroup:PATH`); nil when not asked for.
    public var cgroupPaths: [UInt64: String]?
    /// `-r`: host names by address, shown in place of the address where known (escaped: a
    /// name comes from /etc/hosts or DNS, not from us).
    public var hostNames: [IPAddress: String]?

    public init(header: Bool = true, numeric: Bool = false, services: ServiceTable = ServiceTable(), netid: Bool = true,
                extended: Bool = false, processes: Bool = false, info: Bool = false, memory: Bool = false) {
        self.header = header; self.numeric = numeric; self.services = services; self.netid = netid
        self.extended = extended; self.processes = processes; self.info = info; self.memory = memory
    }
}

/// Renders records as an aligned table like `ss -tan`. Untrusted text (process names,
/// interface names) is escaped so a row is always one line and never drives the terminal.
public struct TableRenderer: Sendable {
    public var options: TableOptions

    public init(options: TableOptions) { self.options = options }

    struct Widths {
        var netid = 5, state = 5, recvQ = 6, sendQ = 6
        var localAddr = 13, localPort = 4, peerAddr = 12, peerPort = 4
    }

    /// Renders the whole table. The records are all at hand, so each row's cells are formatted
    /// twice, once for the widths and once to be written, rather than kept (see `TableBuilder`):
    /// keeping them beside the records added 7 MiB to `-xap` at 100k sockets.
    public func render(_ records: [SocketRecord], into out: inout [UInt8], flush: (inout [UInt8]) throws -> Void) rethrows {
        var table = TableBuilder(self)
        for r in records {
            table.add(r)
            table.removeRows()
        }
        if options.header { header(table.widths, to: &out) }
        for r in records {
            table.add(r)
            try table.writeRows(into: &out, flush: flush)
            table.removeRows()
        }
    }

    func header(_ w: Widths, to out: inout [UInt8]) {
        if options.netid { pad("Netid", w.netid, to: &out) }
        pad("State", w.state, to: &out)
        pad("Recv-Q", w.recvQ, to: &out)
        pad("Send-Q", w.sendQ, to: &out)
        padLeft(Array("Local Address".utf8), w.localAddr, to: &out)
        out.append(UInt8(ascii: ":"))
        pad("Port", w.localPort, to: &out)
        padLeft(Array("Peer Address".utf8), w.peerAddr, to: &out)
        out.append(UInt8(ascii: ":"))
        if options.processes || options.extended || options.memory || options.timers || options.cgroupPaths != nil {
            pad("Port", w.peerPort, to: &out)
            out.append(contentsOf: "Process".utf8)
        } else {
            out.append(contentsOf: "Port".utf8)
        }
        trimTrailingSpaces(&out)
        out.append(0x0A)
    }

    /// Everything of a row after the peer port, through its newline. A trim of trailing spaces
    /// where nothing is written yet would eat into the port's padding (the row must not end in
    /// spaces): returns true when one did, and the writer trims the padding there.
    func tail(_ r: SocketRecord, to out: inout [UInt8]) -> Bool {
        let start = out.count
        var trimsCells = false
        func trimTrailingSpaces(_ out: inout [UInt8]) {
            while out.count > start && out.last == 0x20 { out.removeLast() }
            if out.count == start { trimsCells = true }
        }
        if options.processes {
            users(r, peer: false, to: &out)
            // The other end of a UNIX connection: who this socket talks to.
            users(r, peer: true, to: &out)
        }
        if options.timers, let t = r.timer {
            trimTrailingSpaces(&out)
            SSText.timer(t, to: &out)
            out.append(0x20)
        }
        if options.extended { extended(r, to: &out) }
        if options.memory, let m = r.memory { skmem(m, to: &out) }
        if let paths = options.cgroupPaths, let id = r.cgroupID, id != 0 {
            // ss shows the path, or the bare id when no cgroup v2 directory has it (since removed).
            out.append(contentsOf: "cgroup:".utf8)
            if let p = paths[id] { Escape.terminal(p.utf8, to: &out) } else { appendDecimal(id, to: &out) }
            out.append(0x20)
        }
        trimTrailingSpaces(&out)
        if options.info && r.proto == .tcp {
            // ss starts the fields on a tab-indented second line, or (-O) continues the row.
            if !options.oneLine { out.append(0x0A); out.append(0x09) }
            let listening = r.state == .listen
            r.withTCPInfo { t in
                SSText.info(t, listening: listening, options: options.timers, numeric: options.numeric, to: &out)
            }
        }
        if options.bpf, let program = r.packetFilter {
            // ss's text: `bpf filter (N): ` then ` 0xCC JT JF K,` per instruction.
            out.append(contentsOf: options.oneLine ? Array(" ".utf8) : [0x0A, 0x09])
            out.append(contentsOf: "bpf filter (".utf8)
            appendDecimal(UInt64(program.count), to: &out)
            out.append(contentsOf: "): ".utf8)
            for i in program {
                out.append(contentsOf: " 0x".utf8)
                if i.code < 0x10 { out.append(UInt8(ascii: "0")) }
                Escape.appendHex(UInt64(i.code), to: &out)
                out.append(0x20); appendDecimal(UInt64(i.jumpTrue), to: &out)
                out.append(0x20); appendDecimal(UInt64(i.jumpFalse), to: &out)
                out.append(0x20); appendDecimal(UInt64(i.k), to: &out)
                out.append(UInt8(ascii: ","))
            }
        }
        out.append(0x0A)
        return trimsCells
    }

    /// `users:(("name",pid=1,fd=3),…) ` as `ss -p` prints it (`pid=1,tid=2,fd=3` with `-T`), with the name escaped and its quotes
    /// as `\"` (see `Escape.quoted`): a name cannot close its entry and forge another. With
    /// `peer`, the peer's owners as `peer:((…)) `. Nothing when there are none. Visits the owners
    /// in place: building a list per row was a malloc per row with -p.
    func users(_ r: SocketRecord, peer: Bool, to out: inout [UInt8]) {
        var first = true
        r.forEachProcess(peer: peer) { p in
            if first {
                out.append(contentsOf: peer ? "peer:((".utf8 : "users:((".utf8)
                first = false
            } else {
                out.append(contentsOf: ",(".utf8)
            }
            Escape.quoted(p.rawName, to: &out)
            out.append(contentsOf: ",pid=".utf8)
            appendDecimal(UInt64(max(p.pid, 0)), to: &out)
            if let tid = p.tid {
                out.append(contentsOf: ",tid=".utf8)
                appendDecimal(UInt64(max(tid, 0)), to: &out)
            }
            out.append(contentsOf: ",fd=".utf8)
            appendDecimal(UInt64(max(p.fd, 0)), to: &out)
            out.append(UInt8(ascii: ")"))
        }
        if !first { out.append(contentsOf: ") ".utf8) }
    }

    func extended(_ r: SocketRecord, to out: inout [UInt8]) {
        out.append(contentsOf: "uid:".utf8)
        appendDecimal(UInt64(r.uid), to: &out)
        out.append(contentsOf: " ino:".utf8)
        appendDecimal(r.inode, to: &out)
        if let c = r.cookie {
            out.append(contentsOf: " sk:".utf8)
            Escape.appendHex(c, to: &out)
        }
        out.append(0x20)
    }

    func skmem(_ m: SocketMemory, to out: inout [UInt8]) {
        out.append(contentsOf: "skmem:(".utf8)
        let parts: [(String, UInt32)] = [("r", m.rmemAlloc), ("rb", m.rcvbuf), ("t", m.wmemAlloc), ("tb", m.sndbuf),
                                        ("f", m.fwdAlloc), ("w", m.wmemQueued), ("o", m.optmem), ("bl", m.backlog),
                                        ("d", m.drops)]
        for (i, (k, v)) in parts.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: k.utf8)
            appendDecimal(UInt64(v), to: &out)
        }
        out.append(contentsOf: ") ".utf8)
    }

    /// The address column of any family: inet as below; a UNIX name as `ss` shows it (the path,
    /// `@name` for an abstract one, `*` unnamed), escaped; a packet socket's protocol (`*` for all,
    /// else hex); a netlink socket's protocol number.
    @inline(__always)
    func address(_ r: SocketRecord, _ e: SocketEndpoint, local: Bool, to out: inout [UInt8]) {
        switch e {
        case .inet(let inet):
            address(r, inet.address, local: local, to: &out)
        case .unix(let u):
            switch (u.kind, local ? r.unixName : r.peerUnixName) {
            case (.path, let name?): Escape.terminal(name, to: &out)
            case (.abstract, let name?): out.append(UInt8(ascii: "@")); Escape.terminal(name, to: &out)
            case (.path, nil), (.abstract, nil), (.unnamed, _): out.append(UInt8(ascii: "*"))
            }
        case .packet(let p):
            if !local {
                out.append(UInt8(ascii: "*"))
            } else if let name = FamilyNames.ethertype(p.protocolNumber) {
                out.append(contentsOf: name.utf8)
            } else {
                out.append(contentsOf: "0x".utf8)
                Escape.appendHex(UInt64(p.protocolNumber), to: &out)
            }
        case .netlink(let n):
            if !local && n.portID == 0 && n.groups == 0 {
                out.append(UInt8(ascii: "*"))
            } else if let name = FamilyNames.netlink(n.protocolNumber) {
                out.append(contentsOf: name.utf8)
            } else {
                appendDecimal(UInt64(n.protocolNumber), to: &out)
            }
        }
    }

    /// Between address and port: a space for UNIX sockets (`/run/x.sock 12345`, as ss prints it),
    /// `:` for every other family.
    static func delimiter(_ r: SocketRecord) -> UInt8 {
        r.family == .unix ? 0x20 : UInt8(ascii: ":")
    }

    /// The port column of any family: the inet port (or service), a UNIX socket's inode, a packet
    /// socket's interface index, a netlink socket's port id; `*` for none.
    @inline(__always)
    func port(_ e: SocketEndpoint, _ proto: TransportProtocol, local: Bool = false, interface: [UInt8]? = nil,
              to out: inout [UInt8]) {
        let n: UInt64
        switch e {
        case .inet(let inet): port(inet.port, proto, to: &out); return
        case .unix(let u):
            // ss prints a UNIX peer's inode even when it is 0 (no peer).
            appendDecimal(u.inode, to: &out)
            return
        case .packet(let p):
            if !local { return }  // the peer column is a lone `*`, as ss prints it
            // The interface, by name when the collector found it (ss: `*:lo`); the peer side is `*`.
            if p.interfaceIndex != 0, let name = interface {
                Escape.terminal(name, to: &out)
                return
            }
            n = UInt64(p.interfaceIndex)
        case .netlink(let l):
            // Port 0 on the local side is the kernel's own socket (ss: `rtnl:kernel`).
            if l.portID == 0 && local { out.append(contentsOf: "kernel".utf8); return }
            n = UInt64(l.portID)
        }
        if n == 0 { out.append(UInt8(ascii: "*")) } else { appendDecimal(n, to: &out) }
    }

    /// `1.2.3.4`, `[::1]`, with `%ifname` when bound to a device.
    func address(_ r: SocketRecord, _ a: IPAddress, local: Bool, to out: inout [UInt8]) {
        if let names = options.hostNames, let name = names[a] {
            Escape.terminal(Array(name.utf8), limit: Escape.cellLimit, to: &out)
        } else {
            if a.isIPv6 { out.append(UInt8(ascii: "[")) }
            a.write(to: &out)
            if a.isIPv6 { out.append(UInt8(ascii: "]")) }
        }
        if local && r.hasInterface {
            out.append(UInt8(ascii: "%"))
            Escape.terminal(r.interfaceLabelBytes, limit: Escape.cellLimit, to: &out)
        }
    }

    func port(_ p: UInt16, _ proto: TransportProtocol, to out: inout [UInt8]) {
        if p == 0 { out.append(UInt8(ascii: "*")); return }
        if !options.numeric, let name = options.services.rawName(port: p, proto: proto) {
            Escape.terminal(name, limit: Escape.cellLimit, to: &out)
            return
        }
        appendDecimal(UInt64(p), to: &out)
    }

    func digits(_ v: UInt64) -> Int {
        var n = 1, x = v
        while x >= 10 { x /= 10; n += 1 }
        return n
    }

    func pad(_ s: String, _ width: Int, to out: inout [UInt8]) {
        out.append(contentsOf: s.utf8)
        appendSpaces(width - s.utf8.count + 1, to: &out)
    }

    func padNumber(_ v: UInt64, _ width: Int, to out: inout [UInt8]) {
        appendDecimal(v, to: &out)
        appendSpaces(width - digits(v) + 1, to: &out)
    }

    func padLeft(_ s: [UInt8], _ width: Int, to out: inout [UInt8]) {
        appendSpaces(width - s.count, to: &out)
        out.append(contentsOf: s)
    }

    /// Copied from, as the padding of every cell: appending `repeatElement` took Array's
    /// element-by-element path, 4.3 % of `-tan` at 100k sockets (perf).
    static let spaces = [UInt8](repeating: 0x20, count: 256)

    func appendSpaces(_ n: Int, to out: inout [UInt8]) {
        var n = n
        while n > 0 {
            let k = min(n, Self.spaces.count)
            Self.spaces.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<k])) }
            n -= k
        }
    }

    func trimTrailingSpaces(_ out: inout [UInt8]) {
        while out.last == 0x20 { out.removeLast() }
    }
}

/// The `ss`-style table built row by row as records arrive (`SocketCollector.stream` hands them
/// over one at a time). Column widths are known only after the last row, so each row is kept as
/// the bytes of its cells — about 35 bytes and 9 of lengths for a `-tan` row instead of a record
/// (~250 bytes with its boxes) — and padded when written.
public struct TableBuilder {
    let renderer: TableRenderer
    var widths = TableRenderer.Widths()
    /// Every row's cells, one after another: netid (with `netid`), state, the queues, local
    /// address, delimiter, local port, peer address, delimiter, peer port, then the tail. Kept in
    /// chunks of `chunkSize` (a row never spans two), so a large table (a `-i` line is ~500 bytes)
    /// grows without copying what it holds: at 100k `-tani` one array's doubling cost 0.2 s of
    /// system time in page faults and twice the memory at its peak.
    var bytes: [UInt8] = []
    /// The full chunks before `bytes`, with how many rows each holds.
    var chunks: [(bytes: [UInt8], rows: Int)] = []
    var rowsInChunk = 0
    /// The size of a chunk of cells.
    public static let chunkSize = 1 << 20
    /// Per row, the lengths of its variable cells (the delimiters are one byte each), then the
    /// tail's length times two, plus one when its first trim reached the cells. A byte each; 255
    /// means the length is the next one in `long`.
    var lengths: [UInt8] = []
    var long: [Int] = []
    /// ss's state names by raw value, as bytes: appending the `String` was 2.6 % of `-tan` (perf).
    static let stateNames: [[UInt8]] = {
        var t = [[UInt8]](repeating: [], count: 256)
        for s in SocketState.allCases { t[Int(s.rawValue)] = Array(s.ssName.utf8) }
        return t
    }()
    /// How many rows were added.
    public private(set) var count = 0

    /// A builder for about `rows` rows.
    public init(_ renderer: TableRenderer, rows: Int = 0) {
        self.renderer = renderer
        bytes.reserveCapacity(min(rows * 40, Self.chunkSize))
        lengths.reserveCapacity(rows * 9)
    }

    @inline(__always)
    mutating func length(_ n: Int) {
        if n < 255 { lengths.append(UInt8(truncatingIfNeeded: n)) } else { lengths.append(255); long.append(n) }
    }

    /// Formats `r`'s cells and keeps them; the record itself is not kept.
    public mutating func add(_ r: SocketRecord) {
        count += 1
        // A new chunk when this one may not hold another row (a longer row grows it, once).
        if bytes.count > Self.chunkSize - 4096 {
            chunks.append((bytes, rowsInChunk))
            bytes = []
            bytes.reserveCapacity(Self.chunkSize)
            rowsInChunk = 0
        }
        rowsInChunk += 1
        var mark = bytes.count
        func cell(_ width: Int) -> Int {
            let n = bytes.count - mark
            length(n)
            mark = bytes.count
            return max(width, n)
        }
        if renderer.options.netid {
            bytes.append(contentsOf: r.proto.netid.utf8)
            _ = cell(0)
        }
        bytes.append(contentsOf: Self.stateNames[Int(r.state.rawValue)])
        widths.state = cell(widths.state)
        appendDecimal(UInt64(r.recvQueue), to: &bytes)
        widths.recvQ = cell(widths.recvQ)
        appendDecimal(UInt64(r.sendQueue), to: &bytes)
        widths.sendQ = cell(widths.sendQ)
        renderer.address(r, r.local, local: true, to: &bytes)
        widths.localAddr = cell(widths.localAddr)
        bytes.append(TableRenderer.delimiter(r))
        mark = bytes.count
        renderer.port(r.local, r.proto, local: true, interface: r.rawInterface, to: &bytes)
        widths.localPort = cell(widths.localPort)
        renderer.address(r, r.remote, local: false, to: &bytes)
        widths.peerAddr = cell(widths.peerAddr)
        bytes.append(r.family != .packet ? TableRenderer.delimiter(r) : 0x20)
        mark = bytes.count
        renderer.port(r.remote, r.proto, to: &bytes)
        widths.peerPort = cell(widths.peerPort)
        let trims = renderer.tail(r, to: &bytes)
        length((bytes.count - mark) << 1 | (trims ? 1 : 0))
    }

    /// Writes the header (if asked for) and every row, padded to the widths of all rows, calling
    /// `flush` whenever `out` grows large.
    public func write(into out: inout [UInt8], flush: (inout [UInt8]) throws -> Void) rethrows {
        if renderer.options.header { renderer.header(widths, to: &out) }
        try writeRows(into: &out, flush: flush)
    }

    /// Forgets the rows added so far, keeping the widths they made.
    mutating func removeRows() {
        bytes.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        long.removeAll(keepingCapacity: true)
        chunks.removeAll()
        rowsInChunk = 0
        count = 0
    }

    /// The rows without the header.
    func writeRows(into out: inout [UInt8], flush: (inout [UInt8]) throws -> Void) rethrows {
        var cursor = (length: 0, long: 0)
        for (chunk, rows) in chunks { try write(rows, of: chunk, &cursor, into: &out, flush: flush) }
        try write(rowsInChunk, of: bytes, &cursor, into: &out, flush: flush)
    }

    /// The rows of one chunk; `cursor` is where their lengths start in `lengths` and `long`.
    func write(_ rows: Int, of chunk: [UInt8], _ cursor: inout (length: Int, long: Int), into out: inout [UInt8],
               flush: (inout [UInt8]) throws -> Void) rethrows {
        let w = widths, netid = renderer.options.netid
        try chunk.withUnsafeBufferPointer { b in
            var at = 0
            func next() -> Int {
                let n = Int(lengths[cursor.length])
                cursor.length += 1
                if n < 255 { return n }
                cursor.long += 1
                return long[cursor.long - 1]
            }
            func cell(_ width: Int, left: Bool, _ out: inout [UInt8]) {
                let n = next()
                if !left { renderer.appendSpaces(width - n, to: &out) }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[at..<at + n]))
                at += n
                if left { renderer.appendSpaces(width - n + 1, to: &out) }
            }
            func byte(_ out: inout [UInt8]) { out.append(b[at]); at += 1 }
            for _ in 0..<rows {
                if netid { cell(w.netid, left: true, &out) }
                cell(w.state, left: true, &out)
                cell(w.recvQ, left: true, &out)
                cell(w.sendQ, left: true, &out)
                cell(w.localAddr, left: false, &out)
                byte(&out)
                cell(w.localPort, left: true, &out)
                cell(w.peerAddr, left: false, &out)
                byte(&out)
                cell(w.peerPort, left: true, &out)
                let t = next()
                if t & 1 != 0 { renderer.trimTrailingSpaces(&out) }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[at..<at + t >> 1]))
                at += t >> 1
                if out.count >= 1 << 16 { try flush(&out) }
            }
        }
    }
}
