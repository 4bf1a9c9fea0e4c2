import SockscopeModel
import SockscopeSystem

/// What went wrong in a netlink dump.
public enum DumpError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kernel answered with an error (`NLMSG_ERROR`, or `NLMSG_DONE` carrying one): a negated errno.
    case kernel(errno: Int32)
    /// A message overruns the buffer or is shorter than its header.
    case malformed(String)

    public var description: String {
        switch self {
        case .kernel(let e): return "kernel reported: \(String(cString: strerror(e)))"
        case .malformed(let m): return "malformed netlink reply: \(m)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Where a dump stands after one receive buffer.
public enum DumpProgress: Sendable, Equatable {
    /// More messages will follow.
    case more
    /// `NLMSG_DONE` arrived. `interrupted` is true when any message carried `NLM_F_DUMP_INTR`:
    /// the tables changed during the dump and it may have missed or repeated sockets.
    case done(interrupted: Bool)
}

/// Parses `SOCK_DIAG_BY_FAMILY` replies (`struct inet_diag_msg` plus attributes) from raw bytes.
///
/// Every read is bounds-checked against the buffer and against each message's own length, so
/// any byte string (a captured dump, or a fuzzer's) gives records or an error, never a trap.
public struct InetDiagParser {
    /// `struct inet_diag_msg` is 72 bytes; attributes follow, 4-byte aligned.
    static let messageSize = 72
    static let headerSize = 16  // struct nlmsghdr
    static let nlmsgError: UInt16 = 2, nlmsgDone: UInt16 = 3, nlmsgOverrun: UInt16 = 4
    static let sockDiagByFamily: UInt16 = 20, tcpDiagGetSock: UInt16 = 18
    static let flagDumpInterrupted: UInt16 = 0x10
    // Attribute types from <linux/inet_diag.h>.
    static let attrInfo: UInt16 = 2, attrCong: UInt16 = 4, attrSkMemInfo: UInt16 = 7
    static let attrVegasInfo: UInt16 = 3, attrDCTCPInfo: UInt16 = 9, attrBBRInfo: UInt16 = 16

    public var proto: TransportProtocol
    /// Which sequence number replies must carry (messages for another request are skipped); nil accepts any.
    public var sequence: UInt32?
    public var decodeInfo: Bool
    public var decodeMemory: Bool
    /// Read the pending timer (`idiag_timer`, `idiag_expires`, `idiag_retrans`).
    public var decodeTimer = false
    private var interrupted = false
    /// After `parse` returned `.done`: the offset just past the `NLMSG_DONE` message in that buffer.
    public private(set) var doneOffset = 0

    public init(proto: TransportProtocol, sequence: UInt32? = nil, decodeInfo: Bool = false, decodeMemory: Bool = false) {
        self.proto = proto; self.sequence = sequence; self.decodeInfo = decodeInfo; self.decodeMemory = decodeMemory
    }

    @inline(__always)
    static func u16(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt16 { b.loadUnaligned(fromByteOffset: o, as: UInt16.self) }
    @inline(__always)
    static func u32(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 { b.loadUnaligned(fromByteOffset: o, as: UInt32.self) }
    @inline(__always)
    static func be32(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 { UInt32(bigEndian: u32(b, o)) }

    /// Parses one receive buffer (one or more netlink messages), emitting a record per socket.
    public mutating func parse(_ buf: UnsafeRawBufferPointer, emit: (SocketRecord) -> Void) throws(DumpError) -> DumpProgress {
        var off = 0
        while off < buf.count {
            guard buf.count - off >= Self.headerSize else { throw .malformed("\(buf.count - off) trailing bytes") }
            let len = Int(Self.u32(buf, off))
            let type = Self.u16(buf, off + 4)
            let flags = Self.u16(buf, off + 6)
            let seq = Self.u32(buf, off + 8)
            guard len >= Self.headerSize, len <= buf.count - off else {
                throw .malformed("message length \(len) at offset \(off) of \(buf.count)")
            }
            let next = off + ((len + 3) & ~3)
            defer { off = next }
            if let sequence, seq != sequence { continue }
            if flags & Self.flagDumpInterrupted != 0 { interrupted = true }
            let payload = UnsafeRawBufferPointer(rebasing: buf[(off + Self.headerSize)..<(off + len)])
            switch type {
            case Self.nlmsgDone:
                // A dump that failed part-way ends with NLMSG_DONE carrying a negative errno;
                // libmnl treats it as a clean end, which would turn a failure into an empty listing.
                if payload.count >= 4 {
                    let code = Int32(bitPattern: Self.u32(payload, 0))
                    if code < 0 { throw try Self.kernelError(code) }
                }
                doneOffset = min(next, buf.count)
                return .done(interrupted: interrupted)
            case Self.nlmsgError:
                guard payload.count >= 4 else { throw .malformed("short NLMSG_ERROR") }
                let code = Int32(bitPattern: Self.u32(payload, 0))
                // An ACK (error 0) is not expected for a dump, but is not a failure either.
                if code < 0 { throw try Self.kernelError(code) }
                if code > 0 { throw .kernel(errno: code) }
            case Self.nlmsgOverrun:
                throw .kernel(errno: ENOBUFS)
            case Self.sockDiagByFamily, Self.tcpDiagGetSock:
                if let r = try record(payload) { emit(r) }
            default:
                continue  // NOOP and anything unknown
            }
        }
        return .more
    }

    /// The error for a negative code. `-code` traps for `Int32.min` (found by fuzzing): no kernel
    /// sends that, so it is a malformed reply.
    static func kernelError(_ code: Int32) throws(DumpError) -> DumpError {
        guard code != .min else { throw .malformed("error code \(code)") }
        return .kernel(errno: -code)
    }

    private func record(_ p: UnsafeRawBufferPointer) throws(DumpError) -> SocketRecord? {
        guard p.count >= Self.messageSize else { throw .malformed("inet_diag_msg of \(p.count) bytes") }
        guard let family = AddressFamily(rawFamily: p[0]), let state = SocketState(rawValue: p[1]) else {
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
        if decodeTimer, let kind = SocketTimer.Kind(rawValue: p[2]) {
            r.timer = SocketTimer(kind: kind, expiresMs: Self.u32(p, 52), retransmits: p[3])
        }
        if decodeInfo || decodeMemory { try attributes(p, into: &r) }
        return r
    }

    private func attributes(_ p: UnsafeRawBufferPointer, into r: inout SocketRecord) throws(DumpError) {
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
            case Self.attrInfo where decodeInfo && proto == .tcp:
                info = Self.tcpInfo(data)
            case Self.attrCong where decodeInfo:
                let bytes = data.prefix { $0 != 0 }
                cong = String(decoding: bytes, as: UTF8.self)
            case Self.attrBBRInfo where decodeInfo && data.count >= 20:
                bbr = BBRInfo(bandwidth: UInt64(Self.u32(data, 0)) | UInt64(Self.u32(data, 4)) << 32,
                              minRttUs: Self.u32(data, 8), pacingGain: Self.u32(data, 12), cwndGain: Self.u32(data, 16))
            case Self.attrDCTCPInfo where decodeInfo && data.count >= 16:
                dctcp = DCTCPInfo(enabled: Self.u16(data, 0) != 0, ceState: Self.u16(data, 2), alpha: Self.u32(data, 4),
                                  abECN: Self.u32(data, 8), abTotal: Self.u32(data, 12))
            case Self.attrVegasInfo where decodeInfo && data.count >= 16:
                vegas = VegasInfo(enabled: Self.u32(data, 0) != 0, rttCount: Self.u32(data, 4), rttUs: Self.u32(data, 8),
                                  minRttUs: Self.u32(data, 12))
            case Self.attrSkMemInfo where decodeMemory:
                r.memory = Self.memory(data)
            default:
                break
            }
            off += (len + 3) & ~3
        }
        if var info {
            info.congestion = cong
            info.bbr = bbr; info.dctcp = dctcp; info.vegas = vegas
            r.tcpInfo = info
        }
    }

    static func tcpInfo(_ data: UnsafeRawBufferPointer) -> TCPInfo { decodeTCPInfo(data) }

    static func memory(_ d: UnsafeRawBufferPointer) -> SocketMemory {
        // SK_MEMINFO_* order; a shorter array from an older kernel leaves the rest zero.
        func at(_ i: Int) -> UInt32 { d.count >= (i + 1) * 4 ? u32(d, i * 4) : 0 }
        return SocketMemory(rmemAlloc: at(0), rcvbuf: at(1), wmemAlloc: at(2), sndbuf: at(3), fwdAlloc: at(4),
                            wmemQueued: at(5), optmem: at(6), backlog: at(7), drops: at(8))
    }
}
