import SockscopeModel
import SockscopeSystem

/// Parses `SOCK_DIAG_BY_FAMILY` replies (`struct inet_diag_msg` plus attributes) from raw bytes.
///
/// Every read is bounds-checked against the buffer and against each message's own length, so
/// any byte string (a captured dump, or a fuzzer's) gives records or an error, never a trap.
public struct InetDiagParser {
    /// `struct inet_diag_msg`; attributes follow, 4-byte aligned. Field offsets below are the
    /// header's (the SystemTests compare them with `InetDiagLayout`, read from the C struct).
    static let messageSize = InetDiag.messageSize

    public var proto: TransportProtocol
    public var decodeInfo: Bool
    public var decodeMemory: Bool
    private var frames: NetlinkDumpFrames

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
        guard let family = AddressFamily(rawFamily: p[0]), family.isIP, let state = SocketState(rawValue: p[1]) else {
            return nil  // another family, or a state this build does not know: not ours to guess
        }
        let sport = UInt16(bigEndian: Self.u16(p, 4)), dport = UInt16(bigEndian: Self.u16(p, 6))
        let src: IPAddress, dst: IPAddress
        if family == .inet {
            src = IPAddress(ipv4: Self.be32(p, 8))
            dst = IPAddress(ipv4: Self.be32(p, 24))
        } else {
            src = IPAddress(ipv6High: UInt64(Self.be32(p, 8)) << 32 | UInt64(Self.be32(p, 12)),
                            low: UInt64(Self.be32(p, 16)) << 32 | UInt64(Self.be32(p, 20)))
            dst = IPAddress(ipv6High: UInt64(Self.be32(p, 24)) << 32 | UInt64(Self.be32(p, 28)),
                            low: UInt64(Self.be32(p, 32)) << 32 | UInt64(Self.be32(p, 36)))
        }
        let cookie = UInt64(Self.u32(p, 44)) | UInt64(Self.u32(p, 48)) << 32
        var r = SocketRecord(proto: proto, family: family, state: state,
                             local: Endpoint(address: src, port: sport), remote: Endpoint(address: dst, port: dport),
                             recvQueue: Self.u32(p, 56), sendQueue: Self.u32(p, 60), uid: Self.u32(p, 64),
                             inode: UInt64(Self.u32(p, 68)), interfaceIndex: Self.u32(p, 40), cookie: cookie)
        if decodeInfo || decodeMemory || decodeMark || decodeCgroup { try attributes(p, into: &r) }
        return r
    }

    private func attributes(_ p: UnsafeRawBufferPointer, into r: inout SocketRecord) throws(DumpError) {
        var off = Self.messageSize
        var info: TCPInfo?
        var cong: String?
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
            case InetDiag.attrSkMemInfo where decodeMemory:
                r.memory = Self.memory(data)
            case InetDiag.attrMark where decodeMark && data.count >= 4:
                r.mark = Self.u32(data, 0)
            case InetDiag.attrCgroupID where decodeCgroup && data.count >= 8:
                r.cgroupID = UInt64(Self.u32(data, 0)) | UInt64(Self.u32(data, 4)) << 32
            default:
                break
            }
            off += (len + 3) & ~3
        }
        if var info {
            info.congestion = cong
            r.tcpInfo = info
        }
    }

    /// The report of `tcp_info` bytes: fields an older kernel did not send are nil, as are an
    /// "infinite" ssthresh (as `ss` leaves it out) and unset rates and minimum rtt (all ones).
    static func tcpInfo(_ data: UnsafeRawBufferPointer) -> TCPInfo {
        let t = KernelTCPInfo(data)
        return TCPInfo(
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
    }

    static func memory(_ d: UnsafeRawBufferPointer) -> SocketMemory {
        // SK_MEMINFO_* order; a shorter array from an older kernel leaves the rest zero.
        func at(_ i: Int) -> UInt32 { d.count >= (i + 1) * 4 ? u32(d, i * 4) : 0 }
        return SocketMemory(rmemAlloc: at(0), rcvbuf: at(1), wmemAlloc: at(2), sndbuf: at(3), fwdAlloc: at(4),
                            wmemQueued: at(5), optmem: at(6), backlog: at(7), drops: at(8))
    }
}
