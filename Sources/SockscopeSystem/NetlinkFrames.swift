import CMnl
import SystemPackage

/// What went wrong in a netlink dump.
public enum DumpError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kernel answered with an error (`NLMSG_ERROR`, or `NLMSG_DONE` carrying one), or dropped
    /// replies (`NLMSG_OVERRUN`, reported as ENOBUFS).
    case kernel(Errno)
    /// A message overruns the buffer or is shorter than its header.
    case malformed(String)

    public var description: String {
        switch self {
        case .kernel(let e): return "kernel reported: \(SystemError.message(e))"
        case .malformed(let m): return "malformed netlink reply: \(m)"
        }
    }
}

/// Where a dump stands after one receive buffer.
public enum DumpProgress: Sendable, Equatable {
    /// More messages will follow.
    case more
    /// `NLMSG_DONE` arrived. `interrupted` is true when any message carried `NLM_F_DUMP_INTR`:
    /// the tables changed during the dump and it may have missed or repeated sockets.
    case done(interrupted: Bool)
}

/// The framing of one netlink dump's replies, shared by every diag parser (inet, and the UNIX,
/// packet and netlink diag messages that use the same `nlmsghdr` stream): walks the messages of
/// each receive buffer, skips those of another request, turns `NLMSG_ERROR`, an `NLMSG_DONE`
/// carrying an error and `NLMSG_OVERRUN` into a typed `DumpError`, remembers `NLM_F_DUMP_INTR`,
/// and hands every other message's type and payload to the family's decoder.
///
/// Every read is bounds-checked against the buffer and against each message's own length, so
/// any byte string gives messages or an error, never a trap.
public struct NetlinkDumpFrames: Sendable {
    /// Which sequence number replies must carry (messages for another request are skipped); nil accepts any.
    public var sequence: UInt32?
    private var interrupted = false
    /// After `walk` returned `.done`: the offset just past the `NLMSG_DONE` message in that buffer
    /// (a dump file holds several dumps back to back).
    public private(set) var doneOffset = 0

    static let headerSize = MemoryLayout<nlmsghdr>.size
    static let error = UInt16(NLMSG_ERROR), done = UInt16(NLMSG_DONE), overrun = UInt16(NLMSG_OVERRUN)
    static let dumpInterrupted = UInt16(NLM_F_DUMP_INTR)

    public init(sequence: UInt32? = nil) { self.sequence = sequence }

    /// Walks one receive buffer, calling `message` with each data message's type and payload.
    public mutating func walk(_ buf: UnsafeRawBufferPointer,
                              message: (_ type: UInt16, _ payload: UnsafeRawBufferPointer) throws(DumpError) -> Void)
        throws(DumpError) -> DumpProgress {
        var off = 0
        while off < buf.count {
            guard buf.count - off >= Self.headerSize else { throw .malformed("\(buf.count - off) trailing bytes") }
            let len = Int(buf.loadUnaligned(fromByteOffset: off, as: UInt32.self))
            let type = buf.loadUnaligned(fromByteOffset: off + 4, as: UInt16.self)
            let flags = buf.loadUnaligned(fromByteOffset: off + 6, as: UInt16.self)
            let seq = buf.loadUnaligned(fromByteOffset: off + 8, as: UInt32.self)
            guard len >= Self.headerSize, len <= buf.count - off else {
                throw .malformed("message length \(len) at offset \(off) of \(buf.count)")
            }
            let next = off + ((len + 3) & ~3)
            defer { off = next }
            if let sequence, seq != sequence { continue }
            if flags & Self.dumpInterrupted != 0 { interrupted = true }
            let payload = UnsafeRawBufferPointer(rebasing: buf[(off + Self.headerSize)..<(off + len)])
            switch type {
            case Self.done:
                // A dump that failed part-way ends with NLMSG_DONE carrying a negative errno;
                // libmnl treats it as a clean end, which would turn a failure into an empty listing.
                // One to three bytes are a cut error code: whether the dump failed cannot be told.
                if payload.count >= 4 {
                    let code = Int32(bitPattern: payload.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
                    if code < 0 { throw try Self.kernelError(code) }
                } else if !payload.isEmpty {
                    throw .malformed("short NLMSG_DONE")
                }
                doneOffset = min(next, buf.count)
                return .done(interrupted: interrupted)
            case Self.error:
                guard payload.count >= 4 else { throw .malformed("short NLMSG_ERROR") }
                let code = Int32(bitPattern: payload.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
                // An ACK (error 0) is not expected for a dump, but is not a failure either.
                if code < 0 { throw try Self.kernelError(code) }
                if code > 0 { throw .kernel(Errno(rawValue: code)) }
            case Self.overrun:
                throw .kernel(.noBufferSpace)
            case UInt16(NLMSG_NOOP):
                continue
            default:
                try message(type, payload)
            }
        }
        return .more
    }

    /// The error for a negative code. `-code` traps for `Int32.min` (found by fuzzing): no kernel
    /// sends that, so it is a malformed reply.
    static func kernelError(_ code: Int32) throws(DumpError) -> DumpError {
        guard code != .min else { throw .malformed("error code \(code)") }
        return .kernel(Errno(rawValue: -code))
    }
}

/// The kernel's inet_diag numbers, from <linux/inet_diag.h> and <linux/sock_diag.h>.
public enum InetDiag {
    /// Reply message types: `SOCK_DIAG_BY_FAMILY`, and the legacy `TCPDIAG_GETSOCK`.
    public static let sockDiagByFamily = UInt16(SOCK_DIAG_BY_FAMILY)
    public static let tcpDiagGetSock = UInt16(TCPDIAG_GETSOCK)
    /// Attribute types of the reply.
    public static let attrInfo = UInt16(INET_DIAG_INFO)
    public static let attrCong = UInt16(INET_DIAG_CONG)
    public static let attrSkMemInfo = UInt16(INET_DIAG_SKMEMINFO)
    public static let attrVegasInfo = UInt16(INET_DIAG_VEGASINFO)
    public static let attrDCTCPInfo = UInt16(INET_DIAG_DCTCPINFO)
    public static let attrBBRInfo = UInt16(INET_DIAG_BBRINFO)
    public static let attrMark = UInt16(INET_DIAG_MARK)
    public static let attrCgroupID = UInt16(INET_DIAG_CGROUP_ID)
    /// `idiag_ext` bits asking for those attributes (bit `type - 1`).
    public static let extInfo = UInt8(1 << (INET_DIAG_INFO - 1))
    public static let extCong = UInt8(1 << (INET_DIAG_CONG - 1))
    /// Also brings BBR's and DCTCP's details (the kernel asks the algorithm for its info on this bit).
    public static let extVegasInfo = UInt8(1 << (INET_DIAG_VEGASINFO - 1))
    public static let extSkMemInfo = UInt8(1 << (INET_DIAG_SKMEMINFO - 1))
    /// `sizeof(struct inet_diag_msg)`: the fixed part before the attributes.
    public static let messageSize = MemoryLayout<inet_diag_msg>.size

    /// Where `struct inet_diag_msg`'s fields lie, from the header's struct (a parser copies this
    /// once, so the per-socket reads cost no lookup).
    public struct MessageLayout: Sendable {
        public let family, state, timer, retrans, sport, dport, src, dst, interface, cookie, expires, rqueue, wqueue, uid,
                   inode: Int
    }

    public static let layout: MessageLayout = {
        func at(_ k: PartialKeyPath<inet_diag_msg>) -> Int { MemoryLayout<inet_diag_msg>.offset(of: k)! }
        return MessageLayout(family: at(\.idiag_family), state: at(\.idiag_state), timer: at(\.idiag_timer),
                             retrans: at(\.idiag_retrans), sport: at(\.id.idiag_sport),
                             dport: at(\.id.idiag_dport), src: at(\.id.idiag_src), dst: at(\.id.idiag_dst),
                             interface: at(\.id.idiag_if), cookie: at(\.id.idiag_cookie), expires: at(\.idiag_expires),
                             rqueue: at(\.idiag_rqueue),
                             wqueue: at(\.idiag_wqueue), uid: at(\.idiag_uid), inode: at(\.idiag_inode))
    }()
}
