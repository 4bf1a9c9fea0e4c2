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

    /// Renders the whole table. Widths come from a first pass over the rows, so nothing per row is kept.
    public func render(_ records: [SocketRecord], into out: inout [UInt8], flush: (inout [UInt8]) throws -> Void) rethrows {
        var w = Widths()
        var scratch: [UInt8] = []
        scratch.reserveCapacity(64)
        for r in records {
            w.state = max(w.state, r.state.ssName.utf8.count)
            w.recvQ = max(w.recvQ, digits(UInt64(r.recvQueue)))
            w.sendQ = max(w.sendQ, digits(UInt64(r.sendQueue)))
            scratch.removeAll(keepingCapacity: true); address(r, r.local, local: true, to: &scratch)
            w.localAddr = max(w.localAddr, scratch.count)
            scratch.removeAll(keepingCapacity: true); port(r.local, r.proto, local: true, interface: r.rawInterface, to: &scratch)
            w.localPort = max(w.localPort, scratch.count)
            scratch.removeAll(keepingCapacity: true); address(r, r.remote, local: false, to: &scratch)
            w.peerAddr = max(w.peerAddr, scratch.count)
            scratch.removeAll(keepingCapacity: true); port(r.remote, r.proto, to: &scratch)
            w.peerPort = max(w.peerPort, scratch.count)
        }
        if options.header { header(w, to: &out) }
        for r in records {
            row(r, w, to: &out)
            if out.count >= 1 << 16 { try flush(&out) }
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

    func row(_ r: SocketRecord, _ w: Widths, to out: inout [UInt8]) {
        if options.netid { pad(r.proto.netid, w.netid, to: &out) }
        pad(r.state.ssName, w.state, to: &out)
        padNumber(UInt64(r.recvQueue), w.recvQ, to: &out)
        padNumber(UInt64(r.sendQueue), w.sendQ, to: &out)
        let start = out.count
        address(r, r.local, local: true, to: &out)
        insertPadding(at: start, w.localAddr - (out.count - start), to: &out)
        out.append(Self.delimiter(r))
        let p1 = out.count
        port(r.local, r.proto, local: true, interface: r.rawInterface, to: &out)
        appendSpaces(w.localPort - (out.count - p1) + 1, to: &out)
        let s2 = out.count
        address(r, r.remote, local: false, to: &out)
        insertPadding(at: s2, w.peerAddr - (out.count - s2), to: &out)
        if r.family != .packet { out.append(Self.delimiter(r)) } else { out.append(0x20) }
        let p2 = out.count
        port(r.remote, r.proto, to: &out)
        appendSpaces(w.peerPort - (out.count - p2) + 1, to: &out)
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

    /// Right-aligns what was just written from `start` by inserting spaces before it.
    func insertPadding(at start: Int, _ n: Int, to out: inout [UInt8]) {
        guard n > 0 else { return }
        out.insert(contentsOf: repeatElement(0x20, count: n), at: start)
    }

    func appendSpaces(_ n: Int, to out: inout [UInt8]) {
        if n > 0 { out.append(contentsOf: repeatElement(0x20, count: n)) }
    }

    func trimTrailingSpaces(_ out: inout [UInt8]) {
        while out.last == 0x20 { out.removeLast() }
    }
}
