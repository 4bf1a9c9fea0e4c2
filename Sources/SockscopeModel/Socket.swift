/// The kernel's socket state (`TCP_ESTABLISHED` … `TCP_NEW_SYN_RECV`), numbered as the kernel numbers it.
///
/// UDP uses `established` (connected) and `close` (unconnected, shown as `UNCONN`).
public enum SocketState: UInt8, Sendable, Hashable, CaseIterable, Comparable {
    case established = 1, synSent, synRecv, finWait1, finWait2, timeWait, close, closeWait, lastAck, listen,
         closing, newSynRecv
    /// `TCP_BOUND_INACTIVE`: bound but neither listening nor connected. Only dumped when asked for.
    case boundInactive

    /// The bit for this state in an `idiag_states` mask.
    public var maskBit: UInt32 { 1 << UInt32(rawValue) }

    /// Kernel spelling, used in JSON: `ESTABLISHED`, `SYN_SENT`, … (`UNCONN` for an unconnected UDP socket).
    public func kernelName(for proto: TransportProtocol) -> String {
        if self == .close && proto.closeIsUnconnected { return "UNCONN" }
        switch self {
        case .established: return "ESTABLISHED"
        case .synSent: return "SYN_SENT"
        case .synRecv, .newSynRecv: return "SYN_RECV"
        case .finWait1: return "FIN_WAIT1"
        case .finWait2: return "FIN_WAIT2"
        case .timeWait: return "TIME_WAIT"
        case .close: return "CLOSE"
        case .closeWait: return "CLOSE_WAIT"
        case .lastAck: return "LAST_ACK"
        case .listen: return "LISTEN"
        case .closing: return "CLOSING"
        case .boundInactive: return "BOUND_INACTIVE"
        }
    }

    /// `ss` spelling, used in the table: `ESTAB`, `SYN-SENT`, … and `UNCONN` for `close`.
    public var ssName: String {
        switch self {
        case .established: return "ESTAB"
        case .synSent: return "SYN-SENT"
        case .synRecv, .newSynRecv: return "SYN-RECV"
        case .finWait1: return "FIN-WAIT-1"
        case .finWait2: return "FIN-WAIT-2"
        case .timeWait: return "TIME-WAIT"
        case .close: return "UNCONN"
        case .closeWait: return "CLOSE-WAIT"
        case .lastAck: return "LAST-ACK"
        case .listen: return "LISTEN"
        case .closing: return "CLOSING"
        case .boundInactive: return "BOUND-INACTIVE"
        }
    }

    /// Parses the kernel spelling as JSON carries it (`UNCONN` is `close`).
    public init?(kernelName: String) {
        if kernelName == "UNCONN" { self = .close; return }
        guard let s = SocketState.allCases.first(where: { $0 != .newSynRecv && $0.kernelName(for: .tcp) == kernelName })
        else { return nil }
        self = s
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// One socket, of any family, as a kernel source reports it.
///
/// `local` and `remote` are the family's endpoints (`SocketEndpoint`): an IP address and port for
/// inet sockets, a name for UNIX ones, and so on. The core fields are what both netlink and /proc give; the optional extensions
/// (`tcpInfo`, `memory`, `processes`, `cookie`, `interface`) are filled only when asked for and
/// only by a source that can. Large extensions are boxed so that a plain listing of 100k
/// records stays small.
public struct SocketRecord: Sendable, Hashable {
    public var proto: TransportProtocol
    public var family: AddressFamily
    public var state: SocketState
    public var local: SocketEndpoint
    public var remote: SocketEndpoint
    /// Bytes waiting to be read; for a listener, connections waiting in the accept queue.
    public var recvQueue: UInt32
    /// Bytes not yet acknowledged; for a listener (netlink only), the accept backlog.
    public var sendQueue: UInt32
    public var uid: UInt32
    /// The bound interface index (`SO_BINDTODEVICE`, or an IPv6 scope), 0 when none. Netlink only.
    /// (Declared before `inode` so that it fills the gap the endpoints' tag bytes leave: the record
    /// stays 104 bytes, as it was with plain inet endpoints.)
    public var interfaceIndex: UInt32
    /// Socket inode; 0 for TIME_WAIT and SYN_RECV request sockets, which have no file.
    public var inode: UInt64
    /// The cookie, 0 when there is none: the kernel never hands out 0, and a plain integer keeps
    /// the record trivially copyable (an optional would add a word per record at 100k records).
    private var storedCookie: UInt64
    /// The owners: none asked for, a list of this record's own, or a shared table looked up by inode.
    private var ownerSlot: OwnerSlot = .none
    private var box: Indirect<Extensions>?

    /// One pointer either way, as the optional array it replaces was.
    enum OwnerSlot: Sendable {
        case none
        case list([SocketOwner])
        case table(SocketOwnerTable)
    }

    /// An inet socket's record.
    public init(proto: TransportProtocol, family: AddressFamily, state: SocketState,
                local: Endpoint, remote: Endpoint, recvQueue: UInt32 = 0, sendQueue: UInt32 = 0,
                uid: UInt32 = 0, inode: UInt64 = 0, interfaceIndex: UInt32 = 0, interface: String? = nil,
                cookie: UInt64? = nil) {
        self.init(proto: proto, family: family, state: state, local: .inet(local), remote: .inet(remote),
                  recvQueue: recvQueue, sendQueue: sendQueue, uid: uid, inode: inode, interfaceIndex: interfaceIndex,
                  interface: interface, cookie: cookie)
    }

    /// A record of any family; the endpoints' case must be the family's.
    public init(proto: TransportProtocol, family: AddressFamily, state: SocketState,
                local: SocketEndpoint, remote: SocketEndpoint, recvQueue: UInt32 = 0, sendQueue: UInt32 = 0,
                uid: UInt32 = 0, inode: UInt64 = 0, interfaceIndex: UInt32 = 0, interface: String? = nil,
                cookie: UInt64? = nil) {
        self.proto = proto
        self.family = family
        self.state = state
        self.local = local
        self.remote = remote
        self.recvQueue = recvQueue
        self.sendQueue = sendQueue
        self.uid = uid
        self.inode = inode
        self.interfaceIndex = interfaceIndex
        self.storedCookie = cookie ?? 0
        if let interface { self.interface = interface }
    }

    /// Rarely present, so kept out of line: a plain listing's records stay small and cheap to copy.
    struct Extensions: Sendable, Hashable {
        // The two large ones boxed again: a record with any extension carries a box (a named UNIX
        // socket, one whose peer's owners are a list), and inline they made each box ~300 bytes
        // (measured: -xap at 100k UNIX sockets, when every record's peer owners were a boxed list).
        var tcpInfoBox: Indirect<TCPInfo>? = nil
        var memoryBox: Indirect<SocketMemory>? = nil
        var tcpInfo: TCPInfo? {
            get { tcpInfoBox?.value }
            set { tcpInfoBox = newValue.map { Indirect($0) } }
        }
        var memory: SocketMemory? {
            get { memoryBox?.value }
            set { memoryBox = newValue.map { Indirect($0) } }
        }
        var interface: [UInt8]? = nil
        var unixName: [UInt8]? = nil
        var peerUnixName: [UInt8]? = nil
        var unix: UnixDetails? = nil
        var peerProcesses: [SocketOwner]? = nil
        var timer: SocketTimer? = nil
        var mark: UInt32? = nil
        var cgroupID: UInt64? = nil
        var packetFilter: [BPFInstruction]? = nil
    }

    /// Sets the netlink extensions together, replacing any set before: one box per record where a
    /// setter per field copied the extensions once each (a dump parser's path).
    public mutating func setDiagExtensions(tcpInfo: TCPInfo?, memory: SocketMemory?, timer: SocketTimer?) {
        if tcpInfo == nil && memory == nil && timer == nil && box == nil { return }
        var e = box?.value ?? Extensions()
        e.tcpInfo = tcpInfo; e.memory = memory; e.timer = timer
        box = Indirect(e)
    }

    /// Calls `body` with the TCP internals in place, when there are any: a renderer reads a
    /// few hundred bytes per socket without copying them out of the record first.
    public func withTCPInfo(_ body: (borrowing TCPInfo) -> Void) {
        guard let b = box, let t = b.value.tcpInfoBox else { return }
        body(t.value)
    }

    /// A UNIX socket's bound name: the path's bytes, or an abstract name's (without the leading
    /// NUL), as `local`'s `UnixEndpoint.kind` says; nil when unnamed or not a UNIX socket.
    /// Untrusted bytes: renderers escape them.
    public var unixName: [UInt8]? {
        get { box?.value.unixName }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.unixName = newValue; box = Indirect(e)
        }
    }

    /// The bound name of a connected UNIX socket's peer (bytes as for `unixName`, the kind in
    /// `remote`'s `UnixEndpoint`); nil when the peer is unnamed, unknown, or not a UNIX socket.
    public var peerUnixName: [UInt8]? {
        get { box?.value.peerUnixName }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.peerUnixName = newValue; box = Indirect(e)
        }
    }

    /// The kernel's socket cookie (netlink only): unique for the socket's lifetime.
    public var cookie: UInt64? {
        get { storedCookie == 0 ? nil : storedCookie }
        set { storedCookie = newValue ?? 0 }
    }

    /// The bound interface's name, when `interfaceIndex` is non-zero and the name is known,
    /// decoded as UTF-8 (invalid sequences as U+FFFD). Renderers use `rawInterface`.
    public var interface: String? {
        get { rawInterface.map { String(decoding: $0, as: UTF8.self) } }
        set { rawInterface = newValue.map { Array($0.utf8) } }
    }

    /// The bound interface's name as the kernel keeps it: bytes, not necessarily UTF-8.
    public var rawInterface: [UInt8]? {
        get { box?.value.interface }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.interface = newValue; box = Indirect(e)
        }
    }

    /// The socket mark (`SO_MARK`) from `INET_DIAG_MARK`: collected only when a filter reads it, and
    /// only reported by the kernel to CAP_NET_ADMIN.
    public var mark: UInt32? {
        get { box?.value.mark }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.mark = newValue; box = Indirect(e)
        }
    }

    /// The cgroup v2 id from `INET_DIAG_CGROUP_ID`: collected only when a filter reads it.
    public var cgroupID: UInt64? {
        get { box?.value.cgroupID }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.cgroupID = newValue; box = Indirect(e)
        }
    }

    /// The pending timer (asked for with `-o`); nil when none is armed or it was not asked for.
    public var timer: SocketTimer? {
        get { box?.value.timer }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.timer = newValue; box = Indirect(e)
        }
    }

    /// TCP internals from `INET_DIAG_INFO` and `INET_DIAG_CONG` (asked for with `-i`).
    public var tcpInfo: TCPInfo? {
        get { box?.value.tcpInfo }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.tcpInfo = newValue; box = Indirect(e)
        }
    }

    /// Socket memory from `INET_DIAG_SKMEMINFO` (asked for with `-m`).
    public var memory: SocketMemory? {
        get { box?.value.memory }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.memory = newValue; box = Indirect(e)
        }
    }

    /// The classic BPF program attached to a packet socket (`SO_ATTACH_FILTER`), with `-b`; nil
    /// when none is attached or it was not asked for.
    public var packetFilter: [BPFInstruction]? {
        get { box?.value.packetFilter }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.packetFilter = newValue; box = Indirect(e)
        }
    }

    /// What a UNIX socket has beyond its endpoints (the bound file, the queued connections); nil
    /// for other families and when the source cannot say (/proc).
    public var unix: UnixDetails? {
        get { box?.value.unix }
        set {
            if newValue == nil && box == nil { return }
            var e = box?.value ?? Extensions(); e.unix = newValue; box = Indirect(e)
        }
    }

    /// Processes holding this socket open (asked for with `-p`); nil when not asked.
    public var processes: [SocketOwner]? {
        get {
            switch ownerSlot {
            case .none: return nil
            case .list(let l): return l
            case .table(let t): return t.owners(of: inode)
            }
        }
        set {
            // The peer's owners came from the table too: they stay what they were.
            if case .table(let t) = ownerSlot, tablePeerInode != 0 { setBoxedPeerProcesses(t.owners(of: tablePeerInode)) }
            ownerSlot = newValue.map { .list($0) } ?? .none
        }
    }

    /// The processes holding the other end of a connected UNIX socket (with `-p`; the peer is on
    /// this host by definition); nil when not asked or not a connected UNIX socket.
    public var peerProcesses: [SocketOwner]? {
        get {
            if case .table(let t) = ownerSlot, tablePeerInode != 0 { return t.owners(of: tablePeerInode) }
            return box?.value.peerProcesses
        }
        set {
            if case .table(let t) = ownerSlot, tablePeerInode != 0 { ownerSlot = .list(t.owners(of: inode)) }
            setBoxedPeerProcesses(newValue)
        }
    }

    private mutating func setBoxedPeerProcesses(_ list: [SocketOwner]?) {
        if list == nil && box?.value.peerProcesses == nil { return }
        var e = box?.value ?? Extensions(); e.peerProcesses = list; box = Indirect(e)
    }

    /// The inode whose owners are this record's `peerProcesses` when it reads them from a table:
    /// a connected UNIX socket's peer; 0 for every other record.
    private var tablePeerInode: UInt64 { family == .unix ? peerInode : 0 }

    /// Gives the record its owners from `table`: `processes` (empty when the table has none, as for
    /// TIME_WAIT), and for a connected UNIX socket `peerProcesses`, both looked up by the record's
    /// `inode` and peer inode when read. Costs one reference per record, where lists cost one or
    /// two arrays each (and a box for the peer's).
    public mutating func attachOwners(_ table: SocketOwnerTable) {
        if tablePeerInode != 0 { setBoxedPeerProcesses(nil) }
        ownerSlot = .table(table)
    }

    /// `processes != nil`, without building the list.
    public var hasProcesses: Bool {
        if case .none = ownerSlot { return false }
        return true
    }

    /// `peerProcesses != nil`, without building the list.
    public var hasPeerProcesses: Bool {
        if case .table = ownerSlot, tablePeerInode != 0 { return true }
        return box?.value.peerProcesses != nil
    }

    /// Calls `body` with each of `processes` (or of `peerProcesses`, with `peer`) in order, without
    /// building an array when they come from a table: a renderer's path.
    public func forEachProcess(peer: Bool = false, _ body: (SocketOwner) throws -> Void) rethrows {
        if case .table(let t) = ownerSlot {
            if !peer { return try t.forEachOwner(of: inode, body) }
            if tablePeerInode != 0 { return try t.forEachOwner(of: tablePeerInode, body) }
        }
        for o in (peer ? peerProcesses : processes) ?? [] { try body(o) }
    }

    /// The kernel spelling of the state (`UNCONN` for unconnected UDP), as JSON carries it.
    public var stateName: String { state.kernelName(for: proto) }

    /// The protocol, family and both endpoints: unique among live sockets, except unconnected
    /// sockets sharing a port (`SO_REUSEPORT`), which `inode` tells apart.
    public var fiveTuple: FiveTuple { FiveTuple(proto: proto, local: local, remote: remote) }

    /// Equal when every field reads the same, whether the owners are a record's own lists or come
    /// from a table.
    public static func == (a: SocketRecord, b: SocketRecord) -> Bool {
        a.proto == b.proto && a.family == b.family && a.state == b.state && a.local == b.local && a.remote == b.remote
            && a.recvQueue == b.recvQueue && a.sendQueue == b.sendQueue && a.uid == b.uid
            && a.interfaceIndex == b.interfaceIndex && a.inode == b.inode && a.storedCookie == b.storedCookie
            && a.processes == b.processes && a.peerProcesses == b.peerProcesses
            && (a.box === b.box || a.extensionsWithoutPeers == b.extensionsWithoutPeers)
    }

    public func hash(into h: inout Hasher) {
        h.combine(proto); h.combine(family); h.combine(state); h.combine(local); h.combine(remote)
        h.combine(recvQueue); h.combine(sendQueue); h.combine(uid); h.combine(interfaceIndex); h.combine(inode)
        h.combine(storedCookie); h.combine(processes); h.combine(peerProcesses); h.combine(extensionsWithoutPeers)
    }

    /// The extensions but the peer's owners (compared as `peerProcesses` reads them).
    private var extensionsWithoutPeers: Extensions {
        var e = box?.value ?? Extensions()
        e.peerProcesses = nil
        return e
    }
}

/// Protocol and both endpoints of a connection.
public struct FiveTuple: Sendable, Hashable, Codable, Comparable {
    public var proto: TransportProtocol
    public var local: SocketEndpoint
    public var remote: SocketEndpoint

    public init(proto: TransportProtocol, local: SocketEndpoint, remote: SocketEndpoint) {
        self.proto = proto
        self.local = local
        self.remote = remote
    }

    /// An inet connection's tuple.
    public init(proto: TransportProtocol, local: Endpoint, remote: Endpoint) {
        self.init(proto: proto, local: .inet(local), remote: .inet(remote))
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.proto, a.local, a.remote) < (b.proto, b.local, b.remote)
    }
}

/// An immutable heap box, so rarely-present large fields cost one pointer in a record.
final class Indirect<Value: Sendable & Hashable>: Sendable, Hashable {
    let value: Value
    init(_ value: Value) { self.value = value }
    static func == (a: Indirect, b: Indirect) -> Bool { a === b || a.value == b.value }
    func hash(into h: inout Hasher) { value.hash(into: &h) }
}
