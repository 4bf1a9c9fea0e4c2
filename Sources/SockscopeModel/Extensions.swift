/// TCP internals from the kernel's `struct tcp_info` and `INET_DIAG_CONG`.
///
/// Units: times in microseconds (`_us`) or milliseconds (`_ms`, as the kernel keeps them),
/// sizes in bytes, rates in bytes per second. A field the running kernel does not provide is nil.
public struct TCPInfo: Sendable, Hashable, Codable {
    public var rttUs: UInt32
    public var rttvarUs: UInt32
    public var rtoUs: UInt32
    public var mss: UInt32
    public var cwnd: UInt32
    /// Slow-start threshold; nil while it is still "infinite" (as `ss` leaves it out).
    public var ssthresh: UInt32?
    public var unacked: UInt32
    /// Segments retransmitted and not yet acknowledged.
    public var retrans: UInt32
    public var totalRetrans: UInt32
    public var lost: UInt32
    public var bytesAcked: UInt64?
    public var bytesReceived: UInt64?
    public var bytesSent: UInt64?
    public var deliveryRate: UInt64?
    public var pacingRate: UInt64?
    /// Congestion control algorithm (`cubic`, `bbr`, …), from `INET_DIAG_CONG`.
    public var congestion: String?
    /// Time since data was last sent / received, in milliseconds.
    public var lastSendMs: UInt32
    public var lastRecvMs: UInt32
    public var minRttUs: UInt32?

    // The rest of `struct tcp_info`, as `ss -i` prints it. Fields that every kernel with
    // sock_diag has are plain; later ones are nil when the running kernel's struct ends before them.
    /// TCP options negotiated (`TCPI_OPT_*` bits: 1 timestamps, 2 SACK, 4 window scaling, 8 ECN,
    /// 16 ECN seen, 32 SYN data, 64 microsecond timestamps).
    public var options: UInt8 = 0
    /// Window scale shifts, meaningful when `options` has window scaling.
    public var sendWscale: UInt8 = 0, recvWscale: UInt8 = 0
    /// Consecutive RTO backoffs.
    public var backoff: UInt8 = 0
    /// Delayed-ACK timeout, microseconds.
    public var atoUs: UInt32 = 0
    /// Path MTU, receive-side MSS estimate and advertised MSS, bytes.
    public var pmtu: UInt32 = 0, recvMss: UInt32 = 0, advmss: UInt32 = 0
    /// Segments SACKed; with `fackets` (always 0 on current kernels) as the kernel reports them.
    public var sacked: UInt32 = 0, fackets: UInt32 = 0
    /// Reordering metric (3 is the default), in segments.
    public var reordering: UInt32 = 3
    /// Receiver-side RTT estimate, microseconds; receive buffer space and slow-start threshold, bytes.
    public var recvRttUs: UInt32 = 0, recvSpace: UInt32 = 0, recvSsthresh: UInt32 = 0
    /// Time since the last ACK was received, milliseconds.
    public var lastAckMs: UInt32 = 0
    /// `SO_MAX_PACING_RATE`, bytes per second; nil when unlimited or not reported.
    public var maxPacingRate: UInt64?
    /// Segments sent and received (all, and with data).
    public var segsOut: UInt32?, segsIn: UInt32?, dataSegsOut: UInt32?, dataSegsIn: UInt32?
    /// Bytes written by the application but not yet sent.
    public var notsentBytes: UInt32?
    /// The last delivery-rate sample was limited by the application.
    public var appLimited: Bool = false
    /// Time busy sending data, and of that, limited by the receive window or the send buffer; microseconds.
    public var busyTimeUs: UInt64?, rwndLimitedUs: UInt64?, sndbufLimitedUs: UInt64?
    /// Segments delivered to the peer, and of those, with the CE mark.
    public var delivered: UInt32?, deliveredCE: UInt32?
    /// Bytes retransmitted.
    public var bytesRetrans: UInt64?
    /// Duplicate SACK blocks received, and reordering events seen.
    public var dsackDups: UInt32?, reordSeen: UInt32?
    /// Out-of-order packets received.
    public var recvOutOfOrder: UInt32?
    /// The peer's advertised receive window, and the local one, bytes.
    public var sendWindow: UInt32?, recvWindow: UInt32?
    /// Times the socket's flow hash was changed (PLB/RTO rehash).
    public var rehash: UInt32?
    /// Congestion control details from `INET_DIAG_BBRINFO`, `INET_DIAG_DCTCPINFO`, `INET_DIAG_VEGASINFO`.
    public var bbr: BBRInfo?
    public var dctcp: DCTCPInfo?
    public var vegas: VegasInfo?

    public init(rttUs: UInt32 = 0, rttvarUs: UInt32 = 0, rtoUs: UInt32 = 0, mss: UInt32 = 0, cwnd: UInt32 = 0,
                ssthresh: UInt32? = nil, unacked: UInt32 = 0, retrans: UInt32 = 0, totalRetrans: UInt32 = 0,
                lost: UInt32 = 0, bytesAcked: UInt64? = nil, bytesReceived: UInt64? = nil, bytesSent: UInt64? = nil,
                deliveryRate: UInt64? = nil, pacingRate: UInt64? = nil, congestion: String? = nil,
                lastSendMs: UInt32 = 0, lastRecvMs: UInt32 = 0, minRttUs: UInt32? = nil) {
        self.rttUs = rttUs; self.rttvarUs = rttvarUs; self.rtoUs = rtoUs; self.mss = mss; self.cwnd = cwnd
        self.ssthresh = ssthresh; self.unacked = unacked; self.retrans = retrans; self.totalRetrans = totalRetrans
        self.lost = lost; self.bytesAcked = bytesAcked; self.bytesReceived = bytesReceived; self.bytesSent = bytesSent
        self.deliveryRate = deliveryRate; self.pacingRate = pacingRate; self.congestion = congestion
        self.lastSendMs = lastSendMs; self.lastRecvMs = lastRecvMs; self.minRttUs = minRttUs
    }

    enum CodingKeys: String, CodingKey {
        case rttUs = "rtt_us", rttvarUs = "rttvar_us", rtoUs = "rto_us", mss, cwnd, ssthresh, unacked, retrans
        case totalRetrans = "total_retrans", lost, bytesAcked = "bytes_acked", bytesReceived = "bytes_received"
        case bytesSent = "bytes_sent", deliveryRate = "delivery_rate", pacingRate = "pacing_rate", congestion
        case lastSendMs = "last_send_ms", lastRecvMs = "last_recv_ms", minRttUs = "min_rtt_us"
        case options, sendWscale = "snd_wscale", recvWscale = "rcv_wscale", backoff, atoUs = "ato_us", pmtu
        case recvMss = "rcv_mss", advmss, sacked, fackets, reordering, recvRttUs = "rcv_rtt_us"
        case recvSpace = "rcv_space", recvSsthresh = "rcv_ssthresh", lastAckMs = "last_ack_ms"
        case maxPacingRate = "max_pacing_rate", segsOut = "segs_out", segsIn = "segs_in"
        case dataSegsOut = "data_segs_out", dataSegsIn = "data_segs_in", notsentBytes = "notsent_bytes"
        case appLimited = "app_limited", busyTimeUs = "busy_time_us", rwndLimitedUs = "rwnd_limited_us"
        case sndbufLimitedUs = "sndbuf_limited_us", delivered, deliveredCE = "delivered_ce"
        case bytesRetrans = "bytes_retrans", dsackDups = "dsack_dups", reordSeen = "reord_seen"
        case recvOutOfOrder = "rcv_ooopack", sendWindow = "snd_wnd", recvWindow = "rcv_wnd", rehash, bbr, dctcp, vegas
    }

    /// The `TCPI_OPT_*` bits.
    public static let optionTimestamps: UInt8 = 1, optionSACK: UInt8 = 2, optionWscale: UInt8 = 4
    public static let optionECN: UInt8 = 8, optionECNSeen: UInt8 = 16, optionSynData: UInt8 = 32
    public static let optionUsecTimestamps: UInt8 = 64
}

/// BBR's model (`struct tcp_bbr_info`): bandwidth in bytes per second, minimum RTT in
/// microseconds, gains in 1/256 units (256 is 1.0).
public struct BBRInfo: Sendable, Hashable, Codable {
    public var bandwidth: UInt64, minRttUs: UInt32, pacingGain: UInt32, cwndGain: UInt32
    public init(bandwidth: UInt64, minRttUs: UInt32, pacingGain: UInt32, cwndGain: UInt32) {
        self.bandwidth = bandwidth; self.minRttUs = minRttUs; self.pacingGain = pacingGain; self.cwndGain = cwndGain
    }
    enum CodingKeys: String, CodingKey {
        case bandwidth = "bw", minRttUs = "min_rtt_us", pacingGain = "pacing_gain", cwndGain = "cwnd_gain"
    }
}

/// DCTCP's state (`struct tcp_dctcp_info`); `enabled` false is DCTCP's fallback mode.
public struct DCTCPInfo: Sendable, Hashable, Codable {
    public var enabled: Bool, ceState: UInt16, alpha: UInt32, abECN: UInt32, abTotal: UInt32
    public init(enabled: Bool, ceState: UInt16, alpha: UInt32, abECN: UInt32, abTotal: UInt32) {
        self.enabled = enabled; self.ceState = ceState; self.alpha = alpha; self.abECN = abECN; self.abTotal = abTotal
    }
    enum CodingKeys: String, CodingKey {
        case enabled, ceState = "ce_state", alpha, abECN = "ab_ecn", abTotal = "ab_tot"
    }
}

/// Vegas (and other delay-based algorithms') RTT samples (`struct tcpvegas_info`), microseconds.
public struct VegasInfo: Sendable, Hashable, Codable {
    public var enabled: Bool, rttCount: UInt32, rttUs: UInt32, minRttUs: UInt32
    public init(enabled: Bool, rttCount: UInt32, rttUs: UInt32, minRttUs: UInt32) {
        self.enabled = enabled; self.rttCount = rttCount; self.rttUs = rttUs; self.minRttUs = minRttUs
    }
    enum CodingKeys: String, CodingKey { case enabled, rttCount = "rtt_count", rttUs = "rtt_us", minRttUs = "min_rtt_us" }
}

/// Socket memory from `INET_DIAG_SKMEMINFO`, in bytes (`drops` is a count).
public struct SocketMemory: Sendable, Hashable, Codable {
    public var rmemAlloc: UInt32, rcvbuf: UInt32, wmemAlloc: UInt32, sndbuf: UInt32
    public var fwdAlloc: UInt32, wmemQueued: UInt32, optmem: UInt32, backlog: UInt32, drops: UInt32

    public init(rmemAlloc: UInt32 = 0, rcvbuf: UInt32 = 0, wmemAlloc: UInt32 = 0, sndbuf: UInt32 = 0,
                fwdAlloc: UInt32 = 0, wmemQueued: UInt32 = 0, optmem: UInt32 = 0, backlog: UInt32 = 0,
                drops: UInt32 = 0) {
        self.rmemAlloc = rmemAlloc; self.rcvbuf = rcvbuf; self.wmemAlloc = wmemAlloc; self.sndbuf = sndbuf
        self.fwdAlloc = fwdAlloc; self.wmemQueued = wmemQueued; self.optmem = optmem; self.backlog = backlog
        self.drops = drops
    }

    enum CodingKeys: String, CodingKey {
        case rmemAlloc = "rmem_alloc", rcvbuf, wmemAlloc = "wmem_alloc", sndbuf, fwdAlloc = "fwd_alloc"
        case wmemQueued = "wmem_queued", optmem, backlog, drops
    }
}

/// A process holding a socket open.
///
/// The name is kept as the kernel's raw bytes: it is untrusted and may hold control characters
/// or invalid UTF-8, which each renderer escapes in its own way.
public struct SocketOwner: Sendable, Hashable, Codable, Comparable {
    public var pid: Int32
    /// The process name's bytes, from `/proc/PID/comm` (at most 15 bytes) or `stat`.
    public var rawName: [UInt8]
    /// The process's real uid, and its user name when known.
    public var uid: UInt32
    public var user: String?
    /// The file descriptor number in that process.
    public var fd: Int32
    /// With `-T`: the thread (task id) this entry is for, one entry per thread holding the
    /// descriptor; nil otherwise.
    public var tid: Int32?
    /// The cgroup path (v2 unified, or the first v1 line), e.g. `/system.slice/ssh.service`.
    public var cgroup: String?
    /// The systemd unit recognised in `cgroup`, e.g. `ssh.service`.
    public var unit: String?
    /// A container id recognised in `cgroup` (docker, containerd, podman, cri-o).
    public var container: String?

    public init(pid: Int32, rawName: [UInt8], uid: UInt32, user: String? = nil, fd: Int32,
                cgroup: String? = nil, unit: String? = nil, container: String? = nil) {
        self.pid = pid; self.rawName = rawName; self.uid = uid; self.user = user; self.fd = fd
        self.cgroup = cgroup; self.unit = unit; self.container = container
    }

    /// The name decoded as UTF-8, invalid sequences replaced by U+FFFD. Not safe for a terminal as is.
    public var name: String { String(decoding: rawName, as: UTF8.self) }

    enum CodingKeys: String, CodingKey { case pid, tid, name, uid, user, fd, cgroup, unit, container }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pid = try c.decode(Int32.self, forKey: .pid)
        rawName = Array(try c.decode(String.self, forKey: .name).utf8)
        uid = try c.decodeIfPresent(UInt32.self, forKey: .uid) ?? 0
        user = try c.decodeIfPresent(String.self, forKey: .user)
        fd = try c.decode(Int32.self, forKey: .fd)
        tid = try c.decodeIfPresent(Int32.self, forKey: .tid)
        cgroup = try c.decodeIfPresent(String.self, forKey: .cgroup)
        unit = try c.decodeIfPresent(String.self, forKey: .unit)
        container = try c.decodeIfPresent(String.self, forKey: .container)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pid, forKey: .pid)
        try c.encode(name, forKey: .name)
        try c.encode(uid, forKey: .uid)
        try c.encodeIfPresent(user, forKey: .user)
        try c.encode(fd, forKey: .fd)
        try c.encodeIfPresent(tid, forKey: .tid)
        try c.encodeIfPresent(cgroup, forKey: .cgroup)
        try c.encodeIfPresent(unit, forKey: .unit)
        try c.encodeIfPresent(container, forKey: .container)
    }

    public static func < (a: Self, b: Self) -> Bool { (a.pid, a.fd, a.tid ?? 0) < (b.pid, b.fd, b.tid ?? 0) }
}

/// The documented `--json` object as `Codable`. Kept in the library although the binary writes
/// JSON with `JSONWriter` and reads none: it is the independent reference the writer is tested
/// against (key for key), and the typed way for Swift code (tests, a consumer of `--json`) to
/// read the output back.
extension SocketRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case proto, family, state, local, remote, recvQueue = "recv_q", sendQueue = "send_q", uid, inode
        case peerInode = "peer_inode", vfs
        case interface, cookie, processes, peerProcesses = "peer_processes", timer, tcpInfo = "tcp_info", memory
    }

    enum UnixNameKeys: String, CodingKey { case path, abstract }
    enum VFSKeys: String, CodingKey { case dev, ino }

    /// Decodes the documented `--json` object.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let family = try c.decode(AddressFamily.self, forKey: .family)
        let protoName = try c.decode(String.self, forKey: .proto)
        guard let proto = TransportProtocol(jsonName: protoName, family: family) else {
            throw DecodingError.dataCorruptedError(forKey: .proto, in: c, debugDescription: "unknown proto \(protoName)")
        }
        let name = try c.decode(String.self, forKey: .state)
        guard let state = SocketState(kernelName: name) else {
            throw DecodingError.dataCorruptedError(forKey: .state, in: c, debugDescription: "unknown state \(name)")
        }
        let inode = try c.decode(UInt64.self, forKey: .inode)
        if family == .unix {
            // A UNIX end is its name alone; the inodes are the record's `inode` and `peer_inode`.
            func decodeName(_ key: CodingKeys) throws -> UnixName {
                let n = try c.nestedContainer(keyedBy: UnixNameKeys.self, forKey: key)
                if let p = try n.decodeIfPresent(String.self, forKey: .path) { return .path(Array(p.utf8)) }
                if let a = try n.decodeIfPresent(String.self, forKey: .abstract) { return .abstract(Array(a.utf8)) }
                return .unnamed
            }
            let mine = try decodeName(.local), theirs = try decodeName(.remote)
            let peer = try c.decodeIfPresent(UInt64.self, forKey: .peerInode) ?? 0
            self.init(proto: proto, family: family, state: state,
                      local: .unix(UnixEndpoint(kind: mine.kind, inode: inode)),
                      remote: .unix(UnixEndpoint(kind: theirs.kind, inode: peer)),
                      recvQueue: try c.decode(UInt32.self, forKey: .recvQueue),
                      sendQueue: try c.decode(UInt32.self, forKey: .sendQueue),
                      uid: try c.decode(UInt32.self, forKey: .uid), inode: inode)
            unixName = mine.bytes
            peerUnixName = theirs.bytes
            if c.contains(.vfs) {
                let v = try c.nestedContainer(keyedBy: VFSKeys.self, forKey: .vfs)
                unix = UnixDetails(vfsDevice: try v.decode(UInt64.self, forKey: .dev), vfsInode: try v.decode(UInt64.self, forKey: .ino))
            }
            peerProcesses = try c.decodeIfPresent([SocketOwner].self, forKey: .peerProcesses)
        } else {
            self.init(proto: proto, family: family, state: state,
                      local: try c.decode(SocketEndpoint.self, forKey: .local),
                      remote: try c.decode(SocketEndpoint.self, forKey: .remote),
                      recvQueue: try c.decode(UInt32.self, forKey: .recvQueue),
                      sendQueue: try c.decode(UInt32.self, forKey: .sendQueue),
                      uid: try c.decode(UInt32.self, forKey: .uid), inode: inode)
        }
        if let i = try c.decodeIfPresent(String.self, forKey: .interface) {
            interface = i
            interfaceIndex = UInt32(i) ?? 0
        }
        cookie = try c.decodeIfPresent(UInt64.self, forKey: .cookie)
        processes = try c.decodeIfPresent([SocketOwner].self, forKey: .processes)
        if let t = try c.decodeIfPresent(SocketTimer.self, forKey: .timer) { timer = t }
        if let t = try c.decodeIfPresent(TCPInfo.self, forKey: .tcpInfo) { tcpInfo = t }
        if let m = try c.decodeIfPresent(SocketMemory.self, forKey: .memory) { memory = m }
    }

    /// Encodes the documented `--json` object (the renderer writes the same bytes faster by hand).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(proto.jsonName, forKey: .proto)
        try c.encode(family, forKey: .family)
        try c.encode(stateName, forKey: .state)
        if family == .unix {
            func encodeName(_ n: UnixName, _ key: CodingKeys) throws {
                var u = c.nestedContainer(keyedBy: UnixNameKeys.self, forKey: key)
                switch n {
                case .path(let b): try u.encode(String(decoding: b, as: UTF8.self), forKey: .path)
                case .abstract(let b): try u.encode(String(decoding: b, as: UTF8.self), forKey: .abstract)
                case .unnamed: break
                }
            }
            try encodeName(localUnixName, .local)
            try encodeName(remoteUnixName, .remote)
        } else {
            try encodeEndpoint(local, forKey: .local, in: &c, encoder: encoder)
            try encodeEndpoint(remote, forKey: .remote, in: &c, encoder: encoder)
        }
        try c.encode(recvQueue, forKey: .recvQueue)
        try c.encode(sendQueue, forKey: .sendQueue)
        try c.encode(uid, forKey: .uid)
        try c.encode(inode, forKey: .inode)
        if family == .unix {
            try c.encode(peerInode, forKey: .peerInode)
            if let u = unix, let dev = u.vfsDevice, let ino = u.vfsInode {
                var v = c.nestedContainer(keyedBy: VFSKeys.self, forKey: .vfs)
                try v.encode(dev, forKey: .dev)
                try v.encode(ino, forKey: .ino)
            }
        }
        if hasInterface { try c.encode(interfaceLabel, forKey: .interface) }
        try c.encodeIfPresent(cookie, forKey: .cookie)
        try c.encodeIfPresent(processes, forKey: .processes)
        try c.encodeIfPresent(peerProcesses, forKey: .peerProcesses)
        try c.encodeIfPresent(timer, forKey: .timer)
        try c.encodeIfPresent(tcpInfo, forKey: .tcpInfo)
        try c.encodeIfPresent(memory, forKey: .memory)
    }

    /// The bound interface's name, or its index in decimal when the name is unknown.
    public var interfaceLabel: String { interface ?? String(interfaceIndex) }

    /// `interfaceLabel` as the name's raw bytes, for renderers that escape them.
    public var interfaceLabelBytes: [UInt8] { rawInterface ?? Array(String(interfaceIndex).utf8) }

    /// True when the socket is bound to an interface (the JSON `interface` key is present).
    /// Read per row by the renderers: the index first, and no name decoded (`interface` builds a
    /// String; this was 3 % of `-tani` at 100k sockets in perf).
    public var hasInterface: Bool { interfaceIndex != 0 || rawInterface != nil }
}

/// A socket's pending timer, from `inet_diag_msg`'s `idiag_timer`, `idiag_expires` and `idiag_retrans`
/// (asked for with `-o`).
public struct SocketTimer: Sendable, Hashable, Codable {
    /// Which timer is armed, numbered as the kernel reports it.
    public enum Kind: UInt8, Sendable, Hashable, Codable {
        /// The retransmission timer (also the tail-loss probe and reordering timers).
        case on = 1
        case keepalive = 2
        case timewait = 3
        /// The zero-window probe timer.
        case persist = 4
        case delack = 5

        /// `on`, `keepalive`, `timewait`, `persist`, `delack`: ss's names, used in the table and JSON.
        public var name: String {
            switch self {
            case .on: return "on"
            case .keepalive: return "keepalive"
            case .timewait: return "timewait"
            case .persist: return "persist"
            case .delack: return "delack"
            }
        }

        public init?(name: String) {
            guard let k = [Kind.on, .keepalive, .timewait, .persist, .delack].first(where: { $0.name == name }) else {
                return nil
            }
            self = k
        }

        public init(from decoder: Decoder) throws {
            let name = try decoder.singleValueContainer().decode(String.self)
            guard let k = Kind(name: name) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown timer \(name)"))
            }
            self = k
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(name)
        }
    }

    public var kind: Kind
    /// Milliseconds until it fires (0 when already due).
    public var expiresMs: UInt32
    /// Retransmissions (or, for keepalive and the zero-window probe, unanswered probes) so far.
    public var retransmits: UInt8

    public init(kind: Kind, expiresMs: UInt32, retransmits: UInt8) {
        self.kind = kind; self.expiresMs = expiresMs; self.retransmits = retransmits
    }

    enum CodingKeys: String, CodingKey { case kind, expiresMs = "expires_ms", retransmits }
}
