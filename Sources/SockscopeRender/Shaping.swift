import SockscopeModel

/// One key of `--sort KEY[,KEY…]`; a leading `-` sorts that key in descending order.
public struct SortKey: Sendable, Hashable {
    /// What a listing can be sorted by.
    public enum Field: String, Sendable, CaseIterable {
        case proto, family, state, local, remote, port, rport, recvQ = "recv-q", sendQ = "send-q", uid, inode
        case rtt, owner, pid

        /// `rtt` reads tcp_info; `owner` and `pid` read the owners (`-p`).
        public var needsTCPInfo: Bool { self == .rtt }
        public var needsOwners: Bool { self == .owner || self == .pid }
    }

    public var field: Field
    public var descending: Bool

    public init(_ field: Field, descending: Bool = false) { self.field = field; self.descending = descending }

    /// The keys' names as `--sort` accepts them (also the completion list).
    public static var names: [String] { Field.allCases.map(\.rawValue) }

    /// `state,-recv-q,local` → keys; throws a message naming the bad key.
    public static func parse(_ text: String) throws(ShapeError) -> [SortKey] {
        var keys: [SortKey] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let descending = raw.hasPrefix("-")
            let name = descending ? raw.dropFirst() : raw[...]
            guard let field = Field(rawValue: String(name).lowercased().replacingUnderscores) else {
                throw ShapeError("unknown sort key '\(raw)' (try: \(names.joined(separator: ", ")); -KEY for descending)")
            }
            keys.append(SortKey(field, descending: descending))
        }
        return keys
    }

    /// Sorts `records` by `keys` in order; ties keep the order they came in (the kernel's).
    /// A record lacking the key's value (no tcp_info for `rtt`, no owner for `owner`) sorts last
    /// either way, so the top of a `--limit` is always records that have it.
    public static func sort(_ records: [SocketRecord], by keys: [SortKey]) -> [SocketRecord] {
        guard !keys.isEmpty else { return records }
        let indexed = records.enumerated().map { ($0.offset, $0.element) }
        return indexed.sorted { a, b in
            for k in keys {
                switch k.compare(a.1, b.1) {
                case .less: return true
                case .greater: return false
                case .same: continue
                }
            }
            return a.0 < b.0
        }.map(\.1)
    }

    enum Order { case less, same, greater }

    func compare(_ a: SocketRecord, _ b: SocketRecord) -> Order {
        func by<T: Comparable>(_ x: T?, _ y: T?) -> Order {
            switch (x, y) {
            case (nil, nil): return .same
            case (nil, _): return .greater
            case (_, nil): return .less
            case let (x?, y?):
                if x == y { return .same }
                return (x < y) != descending ? .less : .greater
            }
        }
        switch field {
        case .proto: return by(a.proto, b.proto)
        case .family: return by(a.family, b.family)
        case .state: return by(a.state, b.state)
        case .local: return by(a.local, b.local)
        case .remote: return by(a.remote, b.remote)
        case .port: return by(a.local.port, b.local.port)
        case .rport: return by(a.remote.port, b.remote.port)
        case .recvQ: return by(a.recvQueue, b.recvQueue)
        case .sendQ: return by(a.sendQueue, b.sendQueue)
        case .uid: return by(a.uid, b.uid)
        case .inode: return by(a.inode, b.inode)
        case .rtt: return by(a.tcpInfo?.rttUs, b.tcpInfo?.rttUs)
        case .owner: return by(a.processes?.min().map { $0.rawName.lexicographicalKey }, b.processes?.min().map { $0.rawName.lexicographicalKey })
        case .pid: return by(a.processes?.min()?.pid, b.processes?.min()?.pid)
        }
    }
}

/// A bad `--sort` or `--limit` value.
public struct ShapeError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension String {
    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? "-" : $0 }) }
}

extension Array where Element == UInt8 {
    /// Bytes compared lexicographically (a process name need not be UTF-8).
    fileprivate var lexicographicalKey: ByteString { ByteString(bytes: self) }
}

struct ByteString: Comparable {
    var bytes: [UInt8]
    static func < (a: Self, b: Self) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// Writes the listing as CSV (RFC 4180): a header line (unless `header` is false), one record per
/// socket, CRLF line ends. A field holding `"`, `,`, CR or LF is double-quoted with `"` doubled;
/// names from the kernel or other processes are first made terminal-safe (`Escape.terminal`), so a
/// hostile name can neither split a record nor reach a terminal as control characters.
///
/// Columns: proto, family, state, local_address, local_port, remote_address, remote_port, recv_q,
/// send_q, backlog (netlink TCP listeners; empty otherwise), uid, inode, interface; with -e cookie;
/// with -p pid, process (the lowest pid holding the socket), owners (how many processes hold it);
/// with -i rtt_us, rttvar_us, cwnd, retrans, total_retrans, bytes_acked, bytes_received,
/// bytes_sent, delivery_rate; with -m rmem_alloc, rcvbuf, wmem_alloc, sndbuf, drops. An unknown
/// value is an empty field.
public struct CSVRenderer: Sendable {
    public var header: Bool
    public var extended: Bool
    public var processes: Bool
    public var info: Bool
    public var memory: Bool
    /// As `JSONRenderer.listenerBacklog`: the records come from netlink.
    public var listenerBacklog: Bool

    public init(header: Bool = true, extended: Bool = false, processes: Bool = false, info: Bool = false,
                memory: Bool = false, listenerBacklog: Bool = false) {
        self.header = header; self.extended = extended; self.processes = processes; self.info = info
        self.memory = memory; self.listenerBacklog = listenerBacklog
    }

    public var columns: [String] {
        var c = ["proto", "family", "state", "local_address", "local_port", "remote_address", "remote_port",
                 "recv_q", "send_q", "backlog", "uid", "inode", "interface"]
        if extended { c.append("cookie") }
        if processes { c += ["pid", "process", "owners"] }
        if info {
            c += ["rtt_us", "rttvar_us", "cwnd", "retrans", "total_retrans", "bytes_acked", "bytes_received",
                  "bytes_sent", "delivery_rate"]
        }
        if memory { c += ["rmem_alloc", "rcvbuf", "wmem_alloc", "sndbuf", "drops"] }
        return c
    }

    public func render(_ records: [SocketRecord], into out: inout [UInt8],
                       flush: (inout [UInt8]) throws -> Void) rethrows {
        if header { line(columns.map { Array($0.utf8) }, to: &out) }
        for r in records {
            var f: [[UInt8]] = [Array(r.proto.rawValue.utf8), Array(r.family.rawValue.utf8), Array(r.stateName.utf8)]
            f.append(Self.text(r.local.address)); f.append(Self.number(r.local.port))
            f.append(Self.text(r.remote.address)); f.append(Self.number(r.remote.port))
            f.append(Self.number(r.recvQueue)); f.append(Self.number(r.sendQueue))
            f.append(listenerBacklog && r.proto == .tcp && r.state == .listen ? Self.number(r.sendQueue) : [])
            f.append(Self.number(r.uid)); f.append(Self.number(r.inode))
            f.append(r.hasInterface ? Escape.terminalBytes(r.interfaceLabelBytes) : [])
            if extended { f.append(r.cookie.map { Self.number($0) } ?? []) }
            if processes {
                let first = r.processes?.min()
                f.append(first.map { Self.number($0.pid) } ?? [])
                f.append(first.map { Escape.terminalBytes($0.rawName) } ?? [])
                f.append(r.processes.map { Self.number($0.count) } ?? [])
            }
            if info {
                let t = r.tcpInfo
                f.append(Self.optional(t?.rttUs)); f.append(Self.optional(t?.rttvarUs)); f.append(Self.optional(t?.cwnd))
                f.append(Self.optional(t?.retrans)); f.append(Self.optional(t?.totalRetrans))
                f.append(Self.optional(t?.bytesAcked)); f.append(Self.optional(t?.bytesReceived))
                f.append(Self.optional(t?.bytesSent)); f.append(Self.optional(t?.deliveryRate))
            }
            if memory {
                let m = r.memory
                f.append(Self.optional(m?.rmemAlloc)); f.append(Self.optional(m?.rcvbuf))
                f.append(Self.optional(m?.wmemAlloc)); f.append(Self.optional(m?.sndbuf)); f.append(Self.optional(m?.drops))
            }
            line(f, to: &out)
            if out.count >= 1 << 16 { try flush(&out) }
        }
    }

    /// One record: fields joined by commas, quoted where RFC 4180 requires it, then CRLF.
    func line(_ fields: [[UInt8]], to out: inout [UInt8]) {
        for (i, f) in fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            Self.field(f, to: &out)
        }
        out.append(contentsOf: [0x0D, 0x0A])
    }

    /// A field, double-quoted (with `"` doubled) when it holds `"`, `,`, CR or LF.
    public static func field(_ bytes: [UInt8], to out: inout [UInt8]) {
        let special: Set<UInt8> = [UInt8(ascii: "\""), UInt8(ascii: ","), 0x0D, 0x0A]
        guard bytes.contains(where: special.contains) else { out.append(contentsOf: bytes); return }
        out.append(UInt8(ascii: "\""))
        for c in bytes {
            if c == UInt8(ascii: "\"") { out.append(c) }
            out.append(c)
        }
        out.append(UInt8(ascii: "\""))
    }

    static func number(_ v: some BinaryInteger) -> [UInt8] {
        var out: [UInt8] = []
        appendDecimal(UInt64(clamping: v), to: &out)
        return out
    }

    static func optional(_ v: (some BinaryInteger)?) -> [UInt8] { v.map { number($0) } ?? [] }

    static func text(_ a: IPAddress) -> [UInt8] {
        var out: [UInt8] = []
        a.write(to: &out)
        return out
    }
}
