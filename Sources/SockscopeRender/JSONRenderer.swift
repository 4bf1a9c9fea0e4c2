import SockscopeModel

/// Writes the documented `--json` form by hand: byte-for-byte the same object as
/// `SocketRecord`'s `Codable` encoding (tests compare them), without `JSONEncoder`'s per-row cost.
public struct JSONRenderer: Sendable {
    /// Include `cookie` (asked for with `-e`).
    public var includeCookie: Bool
    /// When given, each endpoint also carries `service`, `class` and `ephemeral` (issue 7);
    /// `SocketRecord`'s `Encodable` does the same when the context is in the encoder's `userInfo`.
    public var ports: PortContext?
    /// Add `backlog` to TCP listeners: set when the records come from netlink, whose `send_q` of a
    /// listener is its accept backlog (/proc reports 0 there, so the key would be a lie). The
    /// `Codable` form, which does not know the source, never has it.
    public var listenerBacklog: Bool

    public init(includeCookie: Bool = false, ports: PortContext? = nil, listenerBacklog: Bool = false) {
        self.includeCookie = includeCookie; self.ports = ports; self.listenerBacklog = listenerBacklog
    }

    /// Renders records as a JSON array, one object per line, calling `flush` whenever the buffer grows large.
    public func renderArray(_ records: [SocketRecord], into out: inout [UInt8],
                            flush: (inout [UInt8]) throws -> Void) rethrows {
        out.append(UInt8(ascii: "["))
        for (i, r) in records.enumerated() {
            out.append(contentsOf: i == 0 ? [0x0A] : [0x2C, 0x0A])
            appendObject(r, to: &out)
            if out.count >= 1 << 16 { try flush(&out) }
        }
        out.append(contentsOf: records.isEmpty ? [0x5D, 0x0A] : [0x0A, 0x5D, 0x0A])
    }

    /// Appends one socket object.
    public func appendObject(_ r: SocketRecord, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"proto":""#.utf8)
        out.append(contentsOf: Self.protoName(r.proto).utf8)
        out.append(contentsOf: #"","family":""#.utf8)
        out.append(contentsOf: r.family.rawValue.utf8)
        out.append(contentsOf: #"","state":""#.utf8)
        out.append(contentsOf: r.stateName.utf8)
        out.append(contentsOf: #"","local":"#.utf8)
        Self.endpoint(r.local, to: &out, annotated: ports.map { ($0, r.proto) })
        out.append(contentsOf: #","remote":"#.utf8)
        Self.endpoint(r.remote, to: &out, annotated: ports.map { ($0, r.proto) })
        Self.number("recv_q", UInt64(r.recvQueue), to: &out)
        Self.number("send_q", UInt64(r.sendQueue), to: &out)
        if listenerBacklog && r.proto == .tcp && r.state == .listen { Self.number("backlog", UInt64(r.sendQueue), to: &out) }
        Self.number("uid", UInt64(r.uid), to: &out)
        Self.number("inode", r.inode, to: &out)
        if r.family == .unix {
            Self.number("peer_inode", r.peerInode, to: &out)
            if let u = r.unix, let dev = u.vfsDevice, let ino = u.vfsInode {
                out.append(contentsOf: #","vfs":{"dev":"#.utf8)
                appendDecimal(dev, to: &out)
                Self.number("ino", ino, to: &out)
                out.append(UInt8(ascii: "}"))
            }
        }
        if r.hasInterface {
            out.append(contentsOf: #","interface":""#.utf8)
            Escape.json(Array(r.interfaceLabel.utf8), to: &out)
            out.append(UInt8(ascii: "\""))
        }
        if includeCookie, let c = r.cookie { Self.number("cookie", c, to: &out) }
        if let ps = r.processes { Self.processes(ps, to: &out) }
        if let ps = r.peerProcesses { Self.processes(ps, key: "peer_processes", to: &out) }
        if let t = r.tcpInfo { Self.tcpInfo(t, to: &out) }
        if let m = r.memory { Self.memory(m, to: &out) }
        out.append(UInt8(ascii: "}"))
    }

    /// An endpoint of any family: inet as `{"address","port"}` (plus the port keys when annotated),
    /// UNIX as `{"path"}`, `{"abstract"}` or `{}`, packet as `{"interface_index","protocol"}`, netlink as
    /// `{"protocol","port_id","groups"}` — the same objects as `SocketEndpoint`'s `Codable` form.
    static func endpoint(_ e: SocketEndpoint, to out: inout [UInt8], annotated: (PortContext, TransportProtocol)? = nil) {
        switch e {
        case .inet(let inet):
            endpoint(inet, to: &out, annotated: annotated)
        case .unix(let u):
            // The name alone: the inodes are the record's `inode` and `peer_inode`.
            out.append(UInt8(ascii: "{"))
            switch u.name {
            case .path(let p):
                out.append(contentsOf: #""path":""#.utf8); Escape.json(p, to: &out); out.append(UInt8(ascii: "\""))
            case .abstract(let a):
                out.append(contentsOf: #""abstract":""#.utf8); Escape.json(a, to: &out); out.append(UInt8(ascii: "\""))
            case .unnamed:
                break
            }
            out.append(UInt8(ascii: "}"))
        case .packet(let p):
            out.append(contentsOf: #"{"interface_index":"#.utf8)
            appendDecimal(UInt64(p.interfaceIndex), to: &out)
            number("protocol", UInt64(p.protocolNumber), to: &out)
            out.append(UInt8(ascii: "}"))
        case .netlink(let n):
            out.append(contentsOf: #"{"protocol":"#.utf8)
            appendDecimal(UInt64(n.protocolNumber), to: &out)
            number("port_id", UInt64(n.portID), to: &out)
            number("groups", UInt64(n.groups), to: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    static func endpoint(_ e: Endpoint, to out: inout [UInt8], annotated: (PortContext, TransportProtocol)? = nil) {
        out.append(contentsOf: #"{"address":""#.utf8)
        e.address.write(to: &out)
        out.append(contentsOf: #"","port":"#.utf8)
        appendDecimal(UInt64(e.port), to: &out)
        if let (context, proto) = annotated { portKeys(e.port, proto, context, to: &out) }
        out.append(UInt8(ascii: "}"))
    }

    /// The `proto` key: a UNIX socket's type (`stream`, `dgram`, `seqpacket`) and a packet socket's
    /// (`raw`, `dgram`), as `family` already says which family; the protocol's name otherwise.
    public static func protoName(_ p: TransportProtocol) -> String {
        switch p {
        case .unixStream: return "stream"
        case .unixDgram, .packetDgram: return "dgram"
        case .unixSeqpacket: return "seqpacket"
        case .packetRaw: return "raw"
        case .tcp, .udp, .raw, .mptcp, .sctp, .netlink: return p.rawValue
        }
    }

    /// `,"key":N`
    static func number(_ key: String, _ v: UInt64, to out: inout [UInt8]) {
        out.append(contentsOf: #",""#.utf8)
        out.append(contentsOf: key.utf8)
        out.append(contentsOf: #"":"#.utf8)
        appendDecimal(v, to: &out)
    }

    static func string(_ key: String, _ v: some Collection<UInt8>, to out: inout [UInt8]) {
        out.append(contentsOf: #",""#.utf8)
        out.append(contentsOf: key.utf8)
        out.append(contentsOf: #"":""#.utf8)
        Escape.json(v, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// `,"processes":[…]`, shared by every object that lists owners.
    static func processes(_ ps: [SocketOwner], key: String = "processes", to out: inout [UInt8]) {
        out.append(contentsOf: #",""#.utf8)
        out.append(contentsOf: key.utf8)
        out.append(contentsOf: #"":["#.utf8)
        for (i, p) in ps.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            owner(p, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    static func owner(_ p: SocketOwner, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"pid":"#.utf8)
        appendDecimal(UInt64(p.pid), to: &out)
        string("name", p.rawName, to: &out)
        number("uid", UInt64(p.uid), to: &out)
        if let u = p.user { string("user", Array(u.utf8), to: &out) }
        number("fd", UInt64(max(p.fd, 0)), to: &out)
        if let c = p.cgroup { string("cgroup", Array(c.utf8), to: &out) }
        if let u = p.unit { string("unit", Array(u.utf8), to: &out) }
        if let c = p.container { string("container", Array(c.utf8), to: &out) }
        out.append(UInt8(ascii: "}"))
    }

    static func tcpInfo(_ t: TCPInfo, to out: inout [UInt8]) {
        out.append(contentsOf: #","tcp_info":{"rtt_us":"#.utf8)
        appendDecimal(UInt64(t.rttUs), to: &out)
        number("rttvar_us", UInt64(t.rttvarUs), to: &out)
        number("rto_us", UInt64(t.rtoUs), to: &out)
        number("mss", UInt64(t.mss), to: &out)
        number("cwnd", UInt64(t.cwnd), to: &out)
        if let v = t.ssthresh { number("ssthresh", UInt64(v), to: &out) }
        number("unacked", UInt64(t.unacked), to: &out)
        number("retrans", UInt64(t.retrans), to: &out)
        number("total_retrans", UInt64(t.totalRetrans), to: &out)
        number("lost", UInt64(t.lost), to: &out)
        if let v = t.bytesAcked { number("bytes_acked", v, to: &out) }
        if let v = t.bytesReceived { number("bytes_received", v, to: &out) }
        if let v = t.bytesSent { number("bytes_sent", v, to: &out) }
        if let v = t.deliveryRate { number("delivery_rate", v, to: &out) }
        if let v = t.pacingRate { number("pacing_rate", v, to: &out) }
        if let c = t.congestion { string("congestion", Array(c.utf8), to: &out) }
        number("last_send_ms", UInt64(t.lastSendMs), to: &out)
        number("last_recv_ms", UInt64(t.lastRecvMs), to: &out)
        if let v = t.minRttUs { number("min_rtt_us", UInt64(v), to: &out) }
        out.append(UInt8(ascii: "}"))
    }

    static func memory(_ m: SocketMemory, to out: inout [UInt8]) {
        out.append(contentsOf: #","memory":{"rmem_alloc":"#.utf8)
        appendDecimal(UInt64(m.rmemAlloc), to: &out)
        number("rcvbuf", UInt64(m.rcvbuf), to: &out)
        number("wmem_alloc", UInt64(m.wmemAlloc), to: &out)
        number("sndbuf", UInt64(m.sndbuf), to: &out)
        number("fwd_alloc", UInt64(m.fwdAlloc), to: &out)
        number("wmem_queued", UInt64(m.wmemQueued), to: &out)
        number("optmem", UInt64(m.optmem), to: &out)
        number("backlog", UInt64(m.backlog), to: &out)
        number("drops", UInt64(m.drops), to: &out)
        out.append(UInt8(ascii: "}"))
    }
}
