import SockscopeModel
import SockscopeSystem

extension UnixName {
    /// The `sun_path` bytes `UNIX_DIAG_NAME` carries: a leading NUL makes an abstract name (kept
    /// whole); a path ends at its first NUL.
    init(sunPath bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { self = .unnamed; return }
        if first == 0 {
            self = .abstract(Array(bytes.dropFirst()))
        } else {
            self = .path(Array(bytes.prefix { $0 != 0 }))
        }
    }
}

/// The socket type of a UNIX socket (`SOCK_STREAM` 1, `SOCK_DGRAM` 2, `SOCK_SEQPACKET` 5).
public enum UnixSocketKind: UInt8, Sendable, Hashable, CaseIterable {
    case stream = 1, dgram = 2, seqpacket = 5
}

/// The file a path socket is bound to. `dev` is in the encoding `stat(2)` reports (`st_dev`,
/// as `stat -c %d` prints it), not the kernel's internal one.
public struct UnixVFS: Sendable, Hashable {
    public var dev: UInt64
    public var ino: UInt64
    public init(dev: UInt64, ino: UInt64) { self.dev = dev; self.ino = ino }
}

/// One UNIX socket as `unix_diag` or `/proc/net/unix` reports it.
public struct UnixSocketEntry: Sendable, Hashable {
    public var kind: UnixSocketKind
    /// `ESTABLISHED`, `LISTEN`, `CLOSE` (unconnected, shown `UNCONN`) or `SYN_SENT` (a connection
    /// still in a listener's queue: only /proc lists those).
    public var state: SocketState
    public var inode: UInt64
    /// The socket cookie (netlink only; 0 from /proc).
    public var cookie: UInt64
    public var name: UnixName
    /// The peer socket's inode (`UNIX_DIAG_PEER`); 0 when unconnected, or when the peer is still
    /// queued at a listener (it has no inode yet). Netlink only.
    public var peerInode: UInt64
    /// The bound file's device and inode (`UNIX_DIAG_VFS`), for path sockets. Netlink only.
    public var vfs: UnixVFS?
    /// For a listener: connections in the accept queue; otherwise bytes waiting to be read.
    public var recvQueue: UInt32
    /// For a listener: the backlog; otherwise bytes written and not yet read by the peer. Netlink only.
    public var sendQueue: UInt32
    /// The owner's uid (`UNIX_DIAG_UID`); nil from /proc, which does not say.
    public var uid: UInt32?
    /// For a listener: the inodes of the peers of the connections waiting in its queue
    /// (`UNIX_DIAG_ICONS`, the connecting clients). Nil when not a listener or not asked.
    public var pending: [UInt64]?
    /// `UNIX_DIAG_MEMINFO`, when asked for.
    public var memory: SocketMemory?

    public init(kind: UnixSocketKind, state: SocketState, inode: UInt64, cookie: UInt64 = 0, name: UnixName = .unnamed,
                peerInode: UInt64 = 0, recvQueue: UInt32 = 0, sendQueue: UInt32 = 0, uid: UInt32? = nil) {
        self.kind = kind; self.state = state; self.inode = inode; self.cookie = cookie; self.name = name
        self.peerInode = peerInode; self.recvQueue = recvQueue; self.sendQueue = sendQueue; self.uid = uid
    }
}

/// An `AF_PACKET` socket as `packet_diag` or `/proc/net/packet` reports it.
public struct PacketSocketEntry: Sendable, Hashable {
    /// `SOCK_RAW` (link-layer header included) or `SOCK_DGRAM` (cooked).
    public var isRaw: Bool
    /// The ethertype it receives, host order (`0x0003` is `ETH_P_ALL`, `0x0800` IPv4).
    public var protocolNumber: UInt16
    /// The interface it is bound to; 0 for every interface.
    public var interfaceIndex: UInt32
    public var inode: UInt64
    public var cookie: UInt64
    public var uid: UInt32
    /// Bytes queued for reading (`SK_MEMINFO_RMEM_ALLOC`, as ss shows it; /proc's `Rmem`).
    public var recvQueue: UInt32
    public var memory: SocketMemory?
    /// The attached classic BPF program (`PACKET_DIAG_FILTER`, asked for with `-b`).
    public var filter: [BPFInstruction]?

    public init(isRaw: Bool, protocolNumber: UInt16, interfaceIndex: UInt32, inode: UInt64, cookie: UInt64 = 0,
                uid: UInt32 = 0, recvQueue: UInt32 = 0) {
        self.isRaw = isRaw; self.protocolNumber = protocolNumber; self.interfaceIndex = interfaceIndex
        self.inode = inode; self.cookie = cookie; self.uid = uid; self.recvQueue = recvQueue
    }
}

/// A netlink socket as `netlink_diag` or `/proc/net/netlink` reports it.
public struct NetlinkSocketEntry: Sendable, Hashable {
    /// The netlink protocol (`NETLINK_ROUTE` 0, `NETLINK_SOCK_DIAG` 4, `NETLINK_GENERIC` 16, …).
    public var protocolNumber: UInt8
    /// The port id: 0 for the kernel's own socket, usually the pid for a process's first socket.
    public var portID: UInt32
    /// The destination it is connected to (port id and group), 0 when none. Netlink only.
    public var destinationPortID: UInt32
    public var destinationGroup: UInt32
    /// The first 32 multicast groups joined, as a bitmask.
    public var groups: UInt32
    public var inode: UInt64
    public var cookie: UInt64
    /// `SK_MEMINFO_RMEM_ALLOC` and `WMEM_ALLOC` (ss's Recv-Q and Send-Q; /proc's `Rmem` and `Wmem`).
    public var recvQueue: UInt32
    public var sendQueue: UInt32
    public var memory: SocketMemory?

    public init(protocolNumber: UInt8, portID: UInt32, destinationPortID: UInt32 = 0, destinationGroup: UInt32 = 0,
                groups: UInt32 = 0, inode: UInt64, cookie: UInt64 = 0, recvQueue: UInt32 = 0, sendQueue: UInt32 = 0) {
        self.protocolNumber = protocolNumber; self.portID = portID; self.destinationPortID = destinationPortID
        self.destinationGroup = destinationGroup; self.groups = groups; self.inode = inode; self.cookie = cookie
        self.recvQueue = recvQueue; self.sendQueue = sendQueue
    }
}

/// The framing shared with the inet parser (`NetlinkDumpFrames`), and the attribute walk of the
/// UNIX, packet and netlink diag messages. Bounds are checked on every read, so any byte string
/// gives entries or an error, never a trap.
struct DiagFrames {
    var frames: NetlinkDumpFrames

    init(sequence: UInt32?) { frames = NetlinkDumpFrames(sequence: sequence) }

    /// Hands each `SOCK_DIAG_BY_FAMILY` payload of one receive buffer to `body`.
    mutating func walk(_ buf: UnsafeRawBufferPointer,
                       body: (UnsafeRawBufferPointer) throws(DumpError) -> Void) throws(DumpError) -> DumpProgress {
        try frames.walk(buf) { type, payload throws(DumpError) in
            if type == InetDiag.sockDiagByFamily { try body(payload) }
        }
    }

    /// Calls `each(type, data)` for every attribute after a fixed header of `headerSize` bytes.
    static func attributes(_ p: UnsafeRawBufferPointer, after headerSize: Int,
                           _ each: (UInt16, UnsafeRawBufferPointer) -> Void) throws(DumpError) {
        var off = headerSize
        while p.count - off >= 4 {
            let len = Int(p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
            let type = p.loadUnaligned(fromByteOffset: off + 2, as: UInt16.self) & 0x3FFF
            guard len >= 4, len <= p.count - off else { throw .malformed("attribute length \(len)") }
            each(type, UnsafeRawBufferPointer(rebasing: p[(off + 4)..<(off + len)]))
            off += (len + 3) & ~3
        }
    }

    @inline(__always)
    static func u32(_ d: UnsafeRawBufferPointer, _ o: Int = 0) -> UInt32? {
        d.count >= o + 4 ? d.loadUnaligned(fromByteOffset: o, as: UInt32.self) : nil
    }
}

/// Parses `unix_diag` replies (`struct unix_diag_msg`, 16 bytes, then `UNIX_DIAG_*` attributes).
public struct UnixDiagParser {
    static let messageSize = 16
    // UNIX_DIAG_* attribute types.
    static let attrName: UInt16 = 0, attrVFS: UInt16 = 1, attrPeer: UInt16 = 2, attrIcons: UInt16 = 3
    static let attrRQLen: UInt16 = 4, attrMemInfo: UInt16 = 5, attrUID: UInt16 = 7

    private var frames: DiagFrames
    public var decodeMemory: Bool

    public init(sequence: UInt32? = nil, decodeMemory: Bool = false) {
        frames = DiagFrames(sequence: sequence)
        self.decodeMemory = decodeMemory
    }

    /// Parses one receive buffer, emitting an entry per socket (a socket type or state this build
    /// does not know is skipped, not guessed).
    public mutating func parse(_ buf: UnsafeRawBufferPointer, emit: (UnixSocketEntry) -> Void) throws(DumpError) -> DumpProgress {
        let memory = decodeMemory
        return try frames.walk(buf) { (p) throws(DumpError) in
            guard p.count >= Self.messageSize else { throw .malformed("unix_diag_msg of \(p.count) bytes") }
            guard let kind = UnixSocketKind(rawValue: p[1]), let state = SocketState(rawValue: p[2]) else { return }
            let inode = UInt64(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let cookie = UInt64(p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                | UInt64(p.loadUnaligned(fromByteOffset: 12, as: UInt32.self)) << 32
            var e = UnixSocketEntry(kind: kind, state: state, inode: inode, cookie: cookie)
            try DiagFrames.attributes(p, after: Self.messageSize) { type, d in
                switch type {
                case Self.attrName: e.name = UnixName(sunPath: d)
                case Self.attrVFS:
                    if let ino = DiagFrames.u32(d, 0), let dev = DiagFrames.u32(d, 4) {
                        e.vfs = UnixVFS(dev: Self.userspaceDevice(dev), ino: UInt64(ino))
                    }
                case Self.attrPeer: e.peerInode = UInt64(DiagFrames.u32(d) ?? 0)
                case Self.attrIcons:
                    var list: [UInt64] = []
                    list.reserveCapacity(d.count / 4)
                    var o = 0
                    while o + 4 <= d.count { list.append(UInt64(d.loadUnaligned(fromByteOffset: o, as: UInt32.self))); o += 4 }
                    e.pending = list
                case Self.attrRQLen:
                    e.recvQueue = DiagFrames.u32(d, 0) ?? 0
                    e.sendQueue = DiagFrames.u32(d, 4) ?? 0
                case Self.attrMemInfo where memory: e.memory = InetDiagParser.memory(d)
                case Self.attrUID: e.uid = DiagFrames.u32(d)
                default: break
                }
            }
            emit(e)
        }
    }

    /// The kernel's `dev_t` (major << 20 | minor) in the encoding `stat(2)` reports (`new_encode_dev`),
    /// so `vfs.dev` compares with `stat -c %d`.
    static func userspaceDevice(_ k: UInt32) -> UInt64 {
        let major = UInt64(k >> 20), minor = UInt64(k & 0xFFFFF)
        return (minor & 0xFF) | (major & 0xFFF) << 8 | (minor & ~0xFF) << 12 | (major & ~0xFFF) << 32
    }
}

/// Parses `packet_diag` replies (`struct packet_diag_msg`, 16 bytes, then `PACKET_DIAG_*` attributes).
public struct PacketDiagParser {
    static let messageSize = 16
    static let attrInfo: UInt16 = 0, attrUID: UInt16 = 5, attrMemInfo: UInt16 = 6, attrFilter: UInt16 = 7

    private var frames: DiagFrames
    public var decodeMemory: Bool

    public init(sequence: UInt32? = nil, decodeMemory: Bool = false) {
        frames = DiagFrames(sequence: sequence)
        self.decodeMemory = decodeMemory
    }

    public mutating func parse(_ buf: UnsafeRawBufferPointer, emit: (PacketSocketEntry) -> Void) throws(DumpError) -> DumpProgress {
        let memory = decodeMemory
        return try frames.walk(buf) { (p) throws(DumpError) in
            guard p.count >= Self.messageSize else { throw .malformed("packet_diag_msg of \(p.count) bytes") }
            let type = p[1]
            guard type == 3 || type == 2 else { return }  // SOCK_RAW, SOCK_DGRAM
            // pdiag_num is the protocol in host order (the kernel converts it from the socket's network order).
            var e = PacketSocketEntry(isRaw: type == 3, protocolNumber: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self),
                                      interfaceIndex: 0, inode: UInt64(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
                                      cookie: UInt64(p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                                        | UInt64(p.loadUnaligned(fromByteOffset: 12, as: UInt32.self)) << 32)
            try DiagFrames.attributes(p, after: Self.messageSize) { type, d in
                switch type {
                case Self.attrInfo: e.interfaceIndex = DiagFrames.u32(d) ?? 0
                case Self.attrUID: e.uid = DiagFrames.u32(d) ?? 0
                case Self.attrMemInfo:
                    let m = InetDiagParser.memory(d)
                    e.recvQueue = m.rmemAlloc
                    if memory { e.memory = m }
                case Self.attrFilter: e.filter = Self.filter(d)
                default: break
                }
            }
            emit(e)
        }
    }
}

extension PacketDiagParser {
    /// `struct sock_filter` entries, 8 bytes each (a trailing partial one is ignored), host order.
    static func filter(_ d: UnsafeRawBufferPointer) -> [BPFInstruction] {
        var out: [BPFInstruction] = []
        out.reserveCapacity(d.count / 8)
        var off = 0
        while off + 8 <= d.count {
            out.append(BPFInstruction(code: d.loadUnaligned(fromByteOffset: off, as: UInt16.self), jumpTrue: d[off + 2],
                                      jumpFalse: d[off + 3], k: d.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self)))
            off += 8
        }
        return out
    }
}

/// Parses `netlink_diag` replies (`struct netlink_diag_msg`, 28 bytes, then `NETLINK_DIAG_*` attributes).
public struct NetlinkDiagParser {
    static let messageSize = 28
    static let attrMemInfo: UInt16 = 0, attrGroups: UInt16 = 1

    private var frames: DiagFrames
    public var decodeMemory: Bool

    public init(sequence: UInt32? = nil, decodeMemory: Bool = false) {
        frames = DiagFrames(sequence: sequence)
        self.decodeMemory = decodeMemory
    }

    public mutating func parse(_ buf: UnsafeRawBufferPointer, emit: (NetlinkSocketEntry) -> Void) throws(DumpError) -> DumpProgress {
        let memory = decodeMemory
        return try frames.walk(buf) { (p) throws(DumpError) in
            guard p.count >= Self.messageSize else { throw .malformed("netlink_diag_msg of \(p.count) bytes") }
            func at(_ o: Int) -> UInt32 { p.loadUnaligned(fromByteOffset: o, as: UInt32.self) }
            var e = NetlinkSocketEntry(protocolNumber: p[2], portID: at(4), destinationPortID: at(8),
                                       destinationGroup: at(12), inode: UInt64(at(16)),
                                       cookie: UInt64(at(20)) | UInt64(at(24)) << 32)
            try DiagFrames.attributes(p, after: Self.messageSize) { type, d in
                switch type {
                case Self.attrGroups: e.groups = DiagFrames.u32(d) ?? 0
                case Self.attrMemInfo:
                    let m = InetDiagParser.memory(d)
                    e.recvQueue = m.rmemAlloc
                    e.sendQueue = m.wmemAlloc
                    if memory { e.memory = m }
                default: break
                }
            }
            emit(e)
        }
    }
}
