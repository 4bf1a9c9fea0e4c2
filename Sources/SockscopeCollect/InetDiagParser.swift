import SockscopeModel
import SockscopeSystem

/// Parses `SOCK_DIAG_BY_FAMILY` replies (`struct inet_diag_msg` plus attributes) from raw bytes.
///
/// Every read is bounds-checked against the buffer and against each message's own length, so
/// any byte string (a captured dump, or a fuzzer's) gives records or an error, never a trap.
public struct InetDiagParser {
    /// `struct inet_diag_msg`; attributes follow, 4-byte aligned. Field offsets are the header's.
    static let messageSize = InetDiag.messageSize
    private let at = InetDiag.layout

    public var proto: TransportProtocol
    public var decodeInfo: Bool
    public var decodeMemory: Bool
    /// Read the pending timer (`idiag_timer`, `idiag_expires`, `idiag_retrans`).
    public var decodeTimer = false
    private var frames: NetlinkDumpFrames

    /// After `parse` returned `.done`: the offset just past the `NLMSG_DONE` message in that buffer.
    public var doneOffset: Int { frames.doneOffset }

    /// Which sequence number replies must carry (messages for another request are skipped); nil accepts any.
    public var sequence: UInt32? { frames.sequence }
    /// Read `INET_DIAG_MARK` and `INET_DIAG_CGROUP_ID` (only when a filter needs them).
    public var decodeMark = false, decodeCgroup = false

    public init(proto: TransportProtocol, sequence: UInt32? = nil, decodeInfo: Bool = false, decodeMemory: Bool = false) {
        self.proto = proto; self.decodeInfo = decodeInfo; self.decodeMemory = decodeMemory
        frames = NetlinkDumpFrames(sequence: sequence)
    }

    @inline(__always)
    static func u16(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt16 { b.loadUnaligned(fromByteOffset: o, as: UInt16.self) }
    @inline(__always)
    static func u32(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 { b.loadUnaligned(fromByteOffset: o, as: UInt32.self) }
    @inline(__always)
    static func be32(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 { UInt32(bigEndian: u32(b, o)) }

    /// Parses one receive buffer (one or more netlink messages), emitting a record per socket.
    public mutating func parse(_ buf: UnsafeRawBufferPointer, emit: (SocketRecord) -> Void) throws(DumpError) -> DumpProgress {
        let parser = self
        return try frames.walk(buf) { type, payload throws(DumpError) in
            switch type {
            case InetDiag.sockDiagByFamily, InetDiag.tcpDiagGetSock:
                if let r = try parser.record(payload) { emit(r) }
            default:
                break  // anything unknown
            }
        }
    }

    private func record(_ p: UnsafeRawBufferPointer) throws(DumpError) -> SocketRecord? {
        guard p.count >= Self.messageSize else { throw .malformed("inet_diag_msg of \(p.count) bytes") }
        guard let family = AddressFamily(rawFamily: p[at.family]), family.isIP, let state = SocketState(rawValue: p[at.state]) else {
            return nil  // another family, or a state this build does not know: not ours to guess
        }
        let sport = UInt16(bigEndian: Self.u16(p, at.sport)), dport = UInt16(bigEndian: Self.u16(p, at.dport))
        let src: IPAddress, dst: IPAddress
        let s = at.src, d = at.dst
        if family == .inet {
            src = IPAddress(ipv4: Self.be32(p, s))
            dst = IPAddress(ipv4: Self.be32(p, d))
        } else {
            src = IPAddress(ipv6High: UInt64(Self.be32(p, s)) << 32 | UInt64(Self.be32(p, s + 4)),
                            low: UInt64(Self.be32(p, s + 8)) << 32 | UInt64(Self.be32(p, s + 12)))
            dst = IPAddress(ipv6High: UInt64(Self.be32(p, d)) << 32 | UInt64(Self.be32(p, d + 4)),
                            low: UInt64(Self.be32(p, d + 8)) << 32 | UInt64(Self.be32(p, d + 12)))
        }
        let cookie = UInt64(Self.u32(p, at.cookie)) | UInt64(Self.u32(p, at.cookie + 4)) << 32
        var r = SocketRecord(proto: proto, family: family, state: state,
                             local: .inet(Endpoint(address: src, port: sport)), remote: .inet(Endpoint(address: dst, port: dport)),
                             recvQueue: Self.u32(p, at.rqueue), sendQueue: Self.u32(p, at.wqueue), uid: Self.u32(p, at.uid),
                             inode: UInt64(Self.u32(p, at.inode)), interfaceIndex: Self.u32(p, at.interface), cookie: cookie)
        var timer: SocketTimer?
        if decodeTimer, let kind = SocketTimer.Kind(rawValue: p[at.timer]) {
            timer = SocketTimer(kind: kind, expiresMs: Self.u32(p, at.expires), retransmits: p[at.retrans])
        }
        if decodeInfo || decodeMemory || decodeMark || decodeCgroup {
            try attributes(p, into: &r, timer: timer)
        } else if timer != nil {
            r.setDiagExtensions(tcpInfo: nil, memory: nil, timer: timer)
        }
        return r
    }

    private func attributes(_ p: UnsafeRawBufferPointer, into r: inout SocketRecord, timer: SocketTimer?) throws(DumpError) {
        var memory: SocketMemory?
        var off = Self.messageSize
        var info: TCPInfo?
        var cong: String?
        var bbr: BBRInfo?, dctcp: DCTCPInfo?, vegas: VegasInfo?
        while p.count - off >= 4 {
            let len = Int(Self.u16(p, off))
            let type = Self.u16(p, off + 2) & 0x3FFF  // drop NLA_F_NESTED / NLA_F_NET_BYTEORDER
            guard len >= 4, len <= p.count - off else { throw .malformed("attribute length \(len)") }
            let data = UnsafeRawBufferPointer(rebasing: p[(off + 4)..<(off + len)])
            switch type {
            case InetDiag.attrInfo where decodeInfo && proto == .tcp:
                info = Self.tcpInfo(data)
            case InetDiag.attrCong where decodeInfo:
                let bytes = data.prefix { $0 != 0 }
                cong = String(decoding: bytes, as: UTF8.self)
            case InetDiag.attrBBRInfo where decodeInfo && data.count >= 20:
                bbr = BBRInfo(bandwidth: UInt64(Self.u32(data, 0)) | UInt64(Self.u32(data, 4)) << 32,
                              minRttUs: Self.u32(data, 8), pacingGain: Self.u32(data, 12), cwndGain: Self.u32(data, 16))
            case InetDiag.attrDCTCPInfo where decodeInfo && data.count >= 16:
                dctcp = DCTCPInfo(enabled: Self.u16(data, 0) != 0, ceState: Self.u16(data, 2), alpha: Self.u32(data, 4),
                                  abECN: Self.u32(data, 8), abTotal: Self.u32(data, 12))
            case InetDiag.attrVegasInfo where decodeInfo && data.count >= 16:
                vegas = VegasInfo(enabled: Self.u32(data, 0) != 0, rttCount: Self.u32(data, 4), rttUs: Self.u32(data, 8),
                                  minRttUs: Self.u32(data, 12))
            case InetDiag.attrSkMemInfo where decodeMemory:
                memory = Self.memory(data)
            case InetDiag.attrMark where decodeMark && data.count >= 4:
                r.mark = Self.u32(data, 0)
            case InetDiag.attrCgroupID where decodeCgroup && data.count >= 8:
                r.cgroupID = UInt64(Self.u32(data, 0)) | UInt64(Self.u32(data, 4)) << 32
            default:
                break
            }
            off += (len + 3) & ~3
        }
        if info != nil {
            info!.congestion = cong
            info!.bbr = bbr; info!.dctcp = dctcp; info!.vegas = vegas
        }
        r.setDiagExtensions(tcpInfo: info, memory: memory, timer: timer)
    }

    /// The report of `tcp_info` bytes: fields an older kernel did not send are nil, as are an
    /// "infinite" ssthresh (as `ss` leaves it out) and unset rates and minimum rtt (all ones).
    static func tcpInfo(_ data: UnsafeRawBufferPointer) -> TCPInfo {
        let t = KernelTCPInfo(data)
        var info = TCPInfo(
            rttUs: t.rtt, rttvarUs: t.rttvar, rtoUs: t.rto, mss: t.sndMSS, cwnd: t.sndCwnd,
            ssthresh: t.sndSsthresh >= 0x7FFF_FFFF ? nil : t.sndSsthresh, unacked: t.unacked, retrans: t.retrans,
            totalRetrans: t.totalRetrans, lost: t.lost,
            bytesAcked: t.has(.bytesAcked) ? t.bytesAcked : nil,
            bytesReceived: t.has(.bytesReceived) ? t.bytesReceived : nil,
            bytesSent: t.has(.bytesSent) ? t.bytesSent : nil,
            deliveryRate: t.has(.deliveryRate) ? t.deliveryRate : nil,
            pacingRate: t.has(.pacingRate) && t.pacingRate != UInt64.max ? t.pacingRate : nil,
            congestion: nil, lastSendMs: t.lastDataSent, lastRecvMs: t.lastDataRecv,
            minRttUs: t.has(.minRTT) && t.minRTT != UInt32.max ? t.minRTT : nil)
        info.options = t.options
        info.sendWscale = t.sndWscale
        info.recvWscale = t.rcvWscale
        info.backoff = t.backoff
        info.atoUs = t.ato
        info.pmtu = t.pmtu
        info.recvMss = t.rcvMSS
        info.advmss = t.advmss
        info.sacked = t.sacked
        info.fackets = t.fackets
        info.reordering = t.reordering
        info.recvRttUs = t.rcvRTT
        info.recvSpace = t.rcvSpace
        info.recvSsthresh = t.rcvSsthresh
        info.lastAckMs = t.lastAckRecv
        // Unlimited (all ones) and unset (0) are both "no maximum".
        if t.has(.maxPacingRate) && t.maxPacingRate != 0 && t.maxPacingRate != UInt64.max { info.maxPacingRate = t.maxPacingRate }
        if t.has(.segsOut) { info.segsOut = t.segsOut }
        if t.has(.segsIn) { info.segsIn = t.segsIn }
        if t.has(.notsentBytes) { info.notsentBytes = t.notsentBytes }
        if t.has(.dataSegsOut) { info.dataSegsIn = t.dataSegsIn; info.dataSegsOut = t.dataSegsOut }
        if t.has(.deliveryRate) { info.appLimited = t.deliveryRateAppLimited }
        if t.has(.busyTime) { info.busyTimeUs = t.busyTime }
        if t.has(.sndbufLimited) { info.rwndLimitedUs = t.rwndLimited; info.sndbufLimitedUs = t.sndbufLimited }
        if t.has(.delivered) { info.delivered = t.delivered }
        if t.has(.deliveredCE) { info.deliveredCE = t.deliveredCE }
        if t.has(.bytesRetrans) { info.bytesRetrans = t.bytesRetrans }
        if t.has(.reordSeen) { info.dsackDups = t.dsackDups; info.reordSeen = t.reordSeen }
        if t.has(.rcvOoopack) { info.recvOutOfOrder = t.rcvOoopack }
        if t.has(.sndWnd) { info.sendWindow = t.sndWnd }
        if t.has(.rcvWnd) { info.recvWindow = t.rcvWnd }
        if t.has(.rehash) { info.rehash = t.rehash }
        return info
    }

    static func memory(_ d: UnsafeRawBufferPointer) -> SocketMemory {
        // SK_MEMINFO_* order; a shorter array from an older kernel leaves the rest zero.
        func at(_ i: Int) -> UInt32 { d.count >= (i + 1) * 4 ? u32(d, i * 4) : 0 }
        return SocketMemory(rmemAlloc: at(0), rcvbuf: at(1), wmemAlloc: at(2), sndbuf: at(3), fwdAlloc: at(4),
                            wmemQueued: at(5), optmem: at(6), backlog: at(7), drops: at(8))
    }
}
