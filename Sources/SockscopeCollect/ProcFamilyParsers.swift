import SockscopeModel

/// Splits a chunk of a /proc file into lines; shared by the parsers below, which are fed a file a
/// chunk at a time like `ProcNetParser` (see `SocketCollector.procDump`).
struct ProcChunk {
    /// Calls `line(start, end, number)` for each complete line of `b` (all of it when `isEnd`);
    /// returns the bytes consumed and the lines seen. Line 1 of the file is the header and skipped.
    static func lines(_ b: UnsafeBufferPointer<UInt8>, linesBefore: Int, isEnd: Bool,
                      _ line: (Int, Int, Int) -> Void) -> (consumed: Int, lines: Int) {
        var pos = 0, n = linesBefore
        while pos < b.count {
            var end = pos
            while end < b.count && b[end] != 0x0A { end += 1 }
            if end == b.count && !isEnd { break }
            n += 1
            if n > 1 { line(pos, end, n) }
            pos = end + 1
        }
        return (min(pos, b.count), n - linesBefore)
    }

    /// Whitespace-separated fields of one line, at most `limit`.
    static func fields(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, limit: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(limit)
        var i = s
        while i < e && out.count < limit {
            while i < e && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
            let start = i
            while i < e && b[i] != 0x20 && b[i] != 0x09 { i += 1 }
            if i > start { out.append(start..<i) }
        }
        return out
    }

    static func hex(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UInt64? {
        guard !r.isEmpty, r.count <= 16 else { return nil }
        var v: UInt64 = 0
        for i in r {
            guard let d = hexDigit(b[i]) else { return nil }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    static func decimal(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UInt64? {
        guard !r.isEmpty, r.count <= 19 else { return nil }
        var v: UInt64 = 0
        for i in r {
            guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
            v = v * 10 + UInt64(b[i] - 0x30)
        }
        return v
    }

    static func signedDecimal(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int64? {
        guard let f = r.first else { return nil }
        if b[f] == UInt8(ascii: "-") { return decimal(b, (f + 1)..<r.upperBound).map { -Int64($0) } }
        return decimal(b, r).map { Int64($0) }
    }
}

/// Parses `/proc/net/unix` byte by byte.
///
/// Line format (after the header): `KADDR: REFCOUNT PROTOCOL FLAGS TYPE ST INODE[ PATH]`, all hex
/// but the inode. `FLAGS` bit 16 (`__SO_ACCEPTCON`) marks a listener; `ST` is the socket's
/// `SS_*` state. The kernel prints a name's bytes raw, with `@` for the leading NUL of an abstract
/// name and for any NUL inside it, so a name holding a newline continues on the next line: a line
/// that is not a socket line is taken as the rest of the previous socket's name. (The file cannot
/// tell a NUL from `@` in an abstract name, nor hold the peer, queue, uid or VFS fields; netlink
/// can, which is why it is the first source.)
///
/// A connection still waiting in a listener's accept queue appears here (state `SYN_SENT`, inode 0)
/// though unix_diag does not list it.
public struct ProcUnixParser {
    private var pending: UnixSocketEntry?
    private var pendingLine = 0

    public init() {}

    /// Parses part of the file (see `ProcNetParser.parse(_:linesBefore:isEnd:emit:malformed:)`).
    /// The last socket of a chunk is held back until the next line shows its name is complete;
    /// `isEnd` emits it.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, linesBefore: Int, isEnd: Bool,
                               emit: (UnixSocketEntry) -> Void, malformed: (MalformedLine) -> Void) -> (consumed: Int, lines: Int) {
        let b = bytes.bindMemory(to: UInt8.self)
        var held = pending, heldLine = pendingLine
        let r = ProcChunk.lines(b, linesBefore: linesBefore, isEnd: isEnd) { s, e, n in
            if let entry = Self.socketLine(b, s, e) {
                if let h = held { emit(h) }
                held = entry; heldLine = n
            } else if var h = held {
                // The rest of a name that held a newline.
                switch h.name {
                case .path(var p): p.append(0x0A); p.append(contentsOf: b[s..<e]); h.name = .path(p)
                case .abstract(var p): p.append(0x0A); p.append(contentsOf: b[s..<e]); h.name = .abstract(p)
                case .unnamed: malformed(MalformedLine(line: n, reason: "not a socket line")); return
                }
                held = h
            } else if !ProcNetParser.isBlank(b, s, e) {
                malformed(MalformedLine(line: n, reason: "not a socket line"))
            }
        }
        if isEnd, let h = held { emit(h); held = nil }
        pending = held; pendingLine = heldLine
        return r
    }

    /// Convenience for tests and fixtures.
    public static func parse(_ bytes: [UInt8]) -> (entries: [UnixSocketEntry], malformed: [MalformedLine]) {
        var out: [UnixSocketEntry] = [], bad: [MalformedLine] = []
        var p = ProcUnixParser()
        bytes.withUnsafeBytes { _ = p.parse($0, linesBefore: 0, isEnd: true, emit: { out.append($0) }, malformed: { bad.append($0) }) }
        return (out, bad)
    }

    /// A socket line exactly as the kernel formats it, or nil.
    static func socketLine(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> UnixSocketEntry? {
        var i = s
        func hexRun(_ exact: Int?) -> UInt64? {
            let start = i
            var v: UInt64 = 0
            while i < e, let d = hexDigit(b[i]) { v = v << 4 | UInt64(d); i += 1; if i - start > 16 { return nil } }
            let n = i - start
            if n == 0 || (exact != nil && n != exact!) { return nil }
            return v
        }
        func space() -> Bool { guard i < e && b[i] == 0x20 else { return false }; i += 1; return true }
        guard hexRun(nil) != nil, i < e, b[i] == 0x3A else { return nil }
        i += 1
        guard space(), hexRun(8) != nil, space(), hexRun(8) != nil, space(), let flags = hexRun(8), space(),
              let type = hexRun(4), space(), let st = hexRun(2), space() else { return nil }
        while i < e && b[i] == 0x20 { i += 1 }
        let inoStart = i
        while i < e && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
        guard let inode = ProcChunk.decimal(b, inoStart..<i) else { return nil }
        var name = UnixName.unnamed
        if i < e {
            guard b[i] == 0x20, i + 1 < e else { return nil }
            i += 1
            name = b[i] == UInt8(ascii: "@") ? .abstract(Array(b[(i + 1)..<e])) : .path(Array(b[i..<e]))
        }
        guard let kind = UnixSocketKind(rawValue: UInt8(truncatingIfNeeded: type)), type <= 0xFF else { return nil }
        // SS_UNCONNECTED 1, SS_CONNECTING 2, SS_CONNECTED 3, SS_DISCONNECTING 4: in unix_diag's terms.
        let state: SocketState
        if flags & (1 << 16) != 0 { state = .listen } else {
            switch st {
            case 1: state = .close
            case 2: state = .synSent
            case 3: state = .established
            case 4: state = .closing
            default: return nil
            }
        }
        return UnixSocketEntry(kind: kind, state: state, inode: inode, name: name)
    }

    @inline(__always)
    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}

/// Parses `/proc/net/packet`: `SK REFCNT TYPE PROTO IFACE R RMEM USER INODE` (PROTO in hex, host order).
public enum ProcPacketParser {
    public static func parse(_ bytes: UnsafeRawBufferPointer, linesBefore: Int = 0, isEnd: Bool = true,
                             emit: (PacketSocketEntry) -> Void, malformed: (MalformedLine) -> Void) -> (consumed: Int, lines: Int) {
        let b = bytes.bindMemory(to: UInt8.self)
        return ProcChunk.lines(b, linesBefore: linesBefore, isEnd: isEnd) { s, e, n in
            if ProcNetParser.isBlank(b, s, e) { return }
            let f = ProcChunk.fields(b, s, e, limit: 10)
            guard f.count == 9, ProcChunk.hex(b, f[0]) != nil, let type = ProcChunk.decimal(b, f[2]), type == 2 || type == 3,
                  let proto = ProcChunk.hex(b, f[3]), proto <= 0xFFFF, let iface = ProcChunk.signedDecimal(b, f[4]),
                  let rmem = ProcChunk.decimal(b, f[6]), let uid = ProcChunk.decimal(b, f[7]), uid <= UInt32.max,
                  let inode = ProcChunk.decimal(b, f[8])
            else { malformed(MalformedLine(line: n, reason: "not a packet socket line")); return }
            emit(PacketSocketEntry(isRaw: type == 3, protocolNumber: UInt16(proto),
                                   interfaceIndex: iface > 0 ? UInt32(truncatingIfNeeded: iface) : 0, inode: inode,
                                   uid: UInt32(uid), recvQueue: UInt32(truncatingIfNeeded: rmem)))
        }
    }

    public static func parse(_ bytes: [UInt8]) -> (entries: [PacketSocketEntry], malformed: [MalformedLine]) {
        var out: [PacketSocketEntry] = [], bad: [MalformedLine] = []
        bytes.withUnsafeBytes { _ = parse($0, emit: { out.append($0) }, malformed: { bad.append($0) }) }
        return (out, bad)
    }
}

/// Parses `/proc/net/netlink`: `SK ETH PID GROUPS RMEM WMEM DUMP LOCKS DROPS INODE` (ETH is the
/// netlink protocol, PID the port id, GROUPS hex).
public enum ProcNetlinkParser {
    public static func parse(_ bytes: UnsafeRawBufferPointer, linesBefore: Int = 0, isEnd: Bool = true,
                             emit: (NetlinkSocketEntry) -> Void, malformed: (MalformedLine) -> Void) -> (consumed: Int, lines: Int) {
        let b = bytes.bindMemory(to: UInt8.self)
        return ProcChunk.lines(b, linesBefore: linesBefore, isEnd: isEnd) { s, e, n in
            if ProcNetParser.isBlank(b, s, e) { return }
            let f = ProcChunk.fields(b, s, e, limit: 11)
            guard f.count == 10, ProcChunk.hex(b, f[0]) != nil, let proto = ProcChunk.decimal(b, f[1]), proto <= 0xFF,
                  let port = ProcChunk.decimal(b, f[2]), port <= UInt32.max, let groups = ProcChunk.hex(b, f[3]),
                  let rmem = ProcChunk.signedDecimal(b, f[4]), let wmem = ProcChunk.signedDecimal(b, f[5]),
                  let inode = ProcChunk.decimal(b, f[9])
            else { malformed(MalformedLine(line: n, reason: "not a netlink socket line")); return }
            emit(NetlinkSocketEntry(protocolNumber: UInt8(proto), portID: UInt32(port),
                                    groups: UInt32(truncatingIfNeeded: groups), inode: inode,
                                    recvQueue: UInt32(clamping: max(0, rmem)), sendQueue: UInt32(clamping: max(0, wmem))))
        }
    }

    public static func parse(_ bytes: [UInt8]) -> (entries: [NetlinkSocketEntry], malformed: [MalformedLine]) {
        var out: [NetlinkSocketEntry] = [], bad: [MalformedLine] = []
        bytes.withUnsafeBytes { _ = parse($0, emit: { out.append($0) }, malformed: { bad.append($0) }) }
        return (out, bad)
    }
}
