import SockscopeModel

/// Writes the documented `--json` form with `JSONWriter`: the same object as `SocketRecord`'s
/// `Codable` encoding (tests compare them), without `JSONEncoder`'s per-row cost.
public struct JSONRenderer: Sendable {
    /// Include `cookie` (asked for with `-e`).
    public var includeCookie: Bool
    /// When given, each endpoint also carries `service`, `class` and `ephemeral`;
    /// `SocketRecord`'s `Encodable` does the same when the context is in the encoder's `userInfo`.
    public var ports: PortContext?
    /// Add `backlog` to TCP listeners: set when the records come from netlink, whose `send_q` of a
    /// listener is its accept backlog (/proc reports 0 there, so the key would be a lie). The
    /// `Codable` form, which does not know the source, never has it.
    public var listenerBacklog: Bool

    /// With `--cgroup`: each socket's `cgroup` path (and `cgroup_id`), by id.
    public var cgroupPaths: [UInt64: String]?
    /// With `-r`: an inet endpoint whose address has a name here gets `"name"`.
    public var hostNames: [IPAddress: String]?

    public init(includeCookie: Bool = false, ports: PortContext? = nil, listenerBacklog: Bool = false) {
        self.includeCookie = includeCookie; self.ports = ports; self.listenerBacklog = listenerBacklog
    }

    /// Renders records as a JSON array, one object per line, calling `flush` whenever the buffer grows large.
    public func renderArray(_ records: [SocketRecord], into out: inout [UInt8],
                            flush: (inout [UInt8]) throws -> Void) rethrows {
        var array = JSONArrayWriter(self, into: out)
        out = []
        for r in records { try array.add(r, flush: flush) }
        out = array.finish()
    }

    /// Appends one socket object.
    public func appendObject(_ r: SocketRecord, to out: inout [UInt8]) {
        JSONWriter.append(to: &out) { object(r, &$0) }
    }

    /// Writes one socket object as a value of `w`.
    public func object(_ r: SocketRecord, _ w: inout JSONWriter) {
        w.objectStart()
        w.key("proto"); w.string(verbatim: r.proto.jsonName)
        w.key("family"); w.string(verbatim: r.family.rawValue)
        w.key("state"); w.string(verbatim: r.stateName)
        if r.family == .unix {
            w.key("local"); Self.unixName(r.localUnixName, &w)
            w.key("remote"); Self.unixName(r.remoteUnixName, &w)
        } else {
            w.key("local"); Self.endpoint(r.local, &w, annotated: ports.map { ($0, r.proto) }, hostNames: hostNames)
            w.key("remote"); Self.endpoint(r.remote, &w, annotated: ports.map { ($0, r.proto) }, hostNames: hostNames)
        }
        w.field("recv_q", UInt64(r.recvQueue))
        w.field("send_q", UInt64(r.sendQueue))
        if listenerBacklog && r.proto == .tcp && r.state == .listen { w.field("backlog", UInt64(r.sendQueue)) }
        w.field("uid", UInt64(r.uid))
        w.field("inode", r.inode)
        if r.family == .unix {
            w.field("peer_inode", r.peerInode)
            if let u = r.unix, let dev = u.vfsDevice, let ino = u.vfsInode {
                w.key("vfs"); w.objectStart(); w.field("dev", dev); w.field("ino", ino); w.objectEnd()
            }
        }
        if r.hasInterface { w.field("interface", bytes: r.interfaceLabelBytes) }
        if includeCookie, let c = r.cookie { w.field("cookie", c) }
        // Visited in place: with owners from a table, a list per record would be built only to be written.
        if r.hasProcesses {
            w.key("processes"); w.arrayStart(); r.forEachProcess { Self.owner($0, &w) }; w.arrayEnd()
        }
        if r.hasPeerProcesses {
            w.key("peer_processes"); w.arrayStart(); r.forEachProcess(peer: true) { Self.owner($0, &w) }; w.arrayEnd()
        }
        if let t = r.timer { w.key("timer"); Self.timer(t, &w) }
        if let paths = cgroupPaths, let id = r.cgroupID, id != 0 {
            w.field("cgroup_id", id)
            if let p = paths[id] { w.field("cgroup", p) }
        }
        if let t = r.tcpInfo { w.key("tcp_info"); Self.tcpInfo(t, &w) }
        if let m = r.memory { w.key("memory"); Self.memory(m, &w) }
        if let program = r.packetFilter {
            w.key("bpf"); w.arrayStart()
            for i in program {
                w.objectStart()
                w.field("code", UInt64(i.code)); w.field("jt", UInt64(i.jumpTrue)); w.field("jf", UInt64(i.jumpFalse))
                w.field("k", UInt64(i.k))
                w.objectEnd()
            }
            w.arrayEnd()
        }
        w.objectEnd()
    }

    /// An endpoint of any family: inet as `{"address","port"}` (plus the port keys when annotated),
    /// UNIX as its name (`unixName`; the endpoint alone knows none, so `{}`), packet as
    /// `{"interface_index","protocol"}`, netlink as `{"protocol","port_id","groups"}`.
    static func endpoint(_ e: SocketEndpoint, _ w: inout JSONWriter, annotated: (PortContext, TransportProtocol)? = nil,
                         hostNames: [IPAddress: String]? = nil) {
        switch e {
        case .inet(let inet):
            endpoint(inet, &w, annotated: annotated, hostName: hostNames?[inet.address])
        case .unix:
            unixName(.unnamed, &w)
        case .packet(let p):
            w.objectStart()
            w.field("interface_index", UInt64(p.interfaceIndex))
            w.field("protocol", UInt64(p.protocolNumber))
            w.objectEnd()
        case .netlink(let n):
            w.objectStart()
            w.field("protocol", UInt64(n.protocolNumber))
            w.field("port_id", UInt64(n.portID))
            w.field("groups", UInt64(n.groups))
            w.objectEnd()
        }
    }

    /// A UNIX end: `{"path"}`, `{"abstract"}` (the bytes after the leading NUL) or `{}` when
    /// unnamed; the inodes are the record's `inode` and `peer_inode`.
    static func unixName(_ n: UnixName, _ w: inout JSONWriter) {
        w.objectStart()
        switch n {
        case .path(let p): w.field("path", bytes: p)
        case .abstract(let a): w.field("abstract", bytes: a)
        case .unnamed: break
        }
        w.objectEnd()
    }

    /// The `proto` key's spelling (`TransportProtocol.jsonName`).
    public static func protoName(_ p: TransportProtocol) -> String { p.jsonName }

    static func endpoint(_ e: Endpoint, _ w: inout JSONWriter, annotated: (PortContext, TransportProtocol)? = nil,
                         hostName: String? = nil) {
        w.objectStart()
        w.key("address"); w.string(verbatim: { e.address.write(to: &$0) })
        w.field("port", UInt64(e.port))
        if let hostName { w.field("name", hostName) }
        if let (context, proto) = annotated { portKeys(e.port, proto, context, &w) }
        w.objectEnd()
    }

    /// `"processes":[…]`'s value, shared by every object that lists owners.
    static func processes(_ ps: [SocketOwner], _ w: inout JSONWriter) {
        w.arrayStart()
        for p in ps { owner(p, &w) }
        w.arrayEnd()
    }

    static func owner(_ p: SocketOwner, _ w: inout JSONWriter) {
        w.objectStart()
        w.field("pid", UInt64(max(p.pid, 0)))
        if let tid = p.tid { w.field("tid", UInt64(max(tid, 0))) }
        w.field("name", bytes: p.rawName)
        w.field("uid", UInt64(p.uid))
        if let u = p.user { w.field("user", u) }
        w.field("fd", UInt64(max(p.fd, 0)))
        if let c = p.cgroup { w.field("cgroup", c) }
        if let u = p.unit { w.field("unit", u) }
        if let c = p.container { w.field("container", c) }
        w.objectEnd()
    }

    static func tcpInfo(_ t: TCPInfo, _ w: inout JSONWriter) {
        w.objectStart()
        w.field("rtt_us", UInt64(t.rttUs))
        w.field("rttvar_us", UInt64(t.rttvarUs))
        w.field("rto_us", UInt64(t.rtoUs))
        w.field("mss", UInt64(t.mss))
        w.field("cwnd", UInt64(t.cwnd))
        if let v = t.ssthresh { w.field("ssthresh", UInt64(v)) }
        w.field("unacked", UInt64(t.unacked))
        w.field("retrans", UInt64(t.retrans))
        w.field("total_retrans", UInt64(t.totalRetrans))
        w.field("lost", UInt64(t.lost))
        if let v = t.bytesAcked { w.field("bytes_acked", v) }
        if let v = t.bytesReceived { w.field("bytes_received", v) }
        if let v = t.bytesSent { w.field("bytes_sent", v) }
        if let v = t.deliveryRate { w.field("delivery_rate", v) }
        if let v = t.pacingRate { w.field("pacing_rate", v) }
        if let c = t.congestion { w.field("congestion", c) }
        w.field("last_send_ms", UInt64(t.lastSendMs))
        w.field("last_recv_ms", UInt64(t.lastRecvMs))
        if let v = t.minRttUs { w.field("min_rtt_us", UInt64(v)) }
        w.field("options", UInt64(t.options))
        w.field("snd_wscale", UInt64(t.sendWscale))
        w.field("rcv_wscale", UInt64(t.recvWscale))
        w.field("backoff", UInt64(t.backoff))
        w.field("ato_us", UInt64(t.atoUs))
        w.field("pmtu", UInt64(t.pmtu))
        w.field("rcv_mss", UInt64(t.recvMss))
        w.field("advmss", UInt64(t.advmss))
        w.field("sacked", UInt64(t.sacked))
        w.field("fackets", UInt64(t.fackets))
        w.field("reordering", UInt64(t.reordering))
        w.field("rcv_rtt_us", UInt64(t.recvRttUs))
        w.field("rcv_space", UInt64(t.recvSpace))
        w.field("rcv_ssthresh", UInt64(t.recvSsthresh))
        w.field("last_ack_ms", UInt64(t.lastAckMs))
        // Fields of newer kernels: present only when the running kernel reports them.
        if let v = t.maxPacingRate { w.field("max_pacing_rate", v) }
        if let v = t.segsOut { w.field("segs_out", UInt64(v)) }
        if let v = t.segsIn { w.field("segs_in", UInt64(v)) }
        if let v = t.dataSegsOut { w.field("data_segs_out", UInt64(v)) }
        if let v = t.dataSegsIn { w.field("data_segs_in", UInt64(v)) }
        if let v = t.notsentBytes { w.field("notsent_bytes", UInt64(v)) }
        if let v = t.busyTimeUs { w.field("busy_time_us", v) }
        if let v = t.rwndLimitedUs { w.field("rwnd_limited_us", v) }
        if let v = t.sndbufLimitedUs { w.field("sndbuf_limited_us", v) }
        if let v = t.delivered { w.field("delivered", UInt64(v)) }
        if let v = t.deliveredCE { w.field("delivered_ce", UInt64(v)) }
        if let v = t.bytesRetrans { w.field("bytes_retrans", v) }
        if let v = t.dsackDups { w.field("dsack_dups", UInt64(v)) }
        if let v = t.reordSeen { w.field("reord_seen", UInt64(v)) }
        if let v = t.recvOutOfOrder { w.field("rcv_ooopack", UInt64(v)) }
        if let v = t.sendWindow { w.field("snd_wnd", UInt64(v)) }
        if let v = t.recvWindow { w.field("rcv_wnd", UInt64(v)) }
        if let v = t.rehash { w.field("rehash", UInt64(v)) }
        w.field("app_limited", t.appLimited)
        if let b = t.bbr {
            w.key("bbr"); w.objectStart()
            w.field("bw", b.bandwidth)
            w.field("min_rtt_us", UInt64(b.minRttUs))
            w.field("pacing_gain", UInt64(b.pacingGain))
            w.field("cwnd_gain", UInt64(b.cwndGain))
            w.objectEnd()
        }
        if let d = t.dctcp {
            w.key("dctcp"); w.objectStart()
            w.field("enabled", d.enabled)
            w.field("ce_state", UInt64(d.ceState))
            w.field("alpha", UInt64(d.alpha))
            w.field("ab_ecn", UInt64(d.abECN))
            w.field("ab_tot", UInt64(d.abTotal))
            w.objectEnd()
        }
        if let v = t.vegas {
            w.key("vegas"); w.objectStart()
            w.field("enabled", v.enabled)
            w.field("rtt_count", UInt64(v.rttCount))
            w.field("rtt_us", UInt64(v.rttUs))
            w.field("min_rtt_us", UInt64(v.minRttUs))
            w.objectEnd()
        }
        w.objectEnd()
    }

    /// `{"kind", "expires_ms", "retransmits"}` from `idiag_timer`, `idiag_expires`, `idiag_retrans`.
    static func timer(_ t: SocketTimer, _ w: inout JSONWriter) {
        w.objectStart()
        w.key("kind"); w.string(verbatim: t.kind.name)
        w.field("expires_ms", UInt64(t.expiresMs))
        w.field("retransmits", UInt64(t.retransmits))
        w.objectEnd()
    }

    static func memory(_ m: SocketMemory, _ w: inout JSONWriter) {
        w.objectStart()
        w.field("rmem_alloc", UInt64(m.rmemAlloc))
        w.field("rcvbuf", UInt64(m.rcvbuf))
        w.field("wmem_alloc", UInt64(m.wmemAlloc))
        w.field("sndbuf", UInt64(m.sndbuf))
        w.field("fwd_alloc", UInt64(m.fwdAlloc))
        w.field("wmem_queued", UInt64(m.wmemQueued))
        w.field("optmem", UInt64(m.optmem))
        w.field("backlog", UInt64(m.backlog))
        w.field("drops", UInt64(m.drops))
        w.objectEnd()
    }
}

/// The `--json` array written as records arrive, one object per line: what `renderArray` writes,
/// without holding the records.
public struct JSONArrayWriter {
    var renderer: JSONRenderer
    var w: JSONWriter
    var empty = true

    /// Whether TCP listeners get `backlog` (see `JSONRenderer.listenerBacklog`).
    public var listenerBacklog: Bool {
        get { renderer.listenerBacklog }
        set { renderer.listenerBacklog = newValue }
    }

    /// Starts the array after what `out` holds.
    public init(_ renderer: JSONRenderer, into out: [UInt8] = []) {
        self.renderer = renderer
        w = JSONWriter(bytes: out)
        w.arrayStart()
    }

    /// Adds one object, calling `flush` with the buffer when it has grown large.
    public mutating func add(_ r: SocketRecord, flush: (inout [UInt8]) throws -> Void) rethrows {
        empty = false
        w.elementOnNewLine()
        renderer.object(r, &w)
        if w.bytes.count >= 1 << 16 { try flush(&w.bytes) }
    }

    /// Closes the array; returns what is left to write.
    public consuming func finish() -> [UInt8] {
        if !empty { w.raw(0x0A) }
        w.arrayEnd()
        w.raw(0x0A)
        return w.bytes
    }
}
