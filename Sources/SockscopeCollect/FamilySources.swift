import SockscopeModel
import SockscopeSystem
import SystemPackage

/// A parser of one sock_diag family's dump replies.
public protocol DiagReplyParser {
    associatedtype Entry
    init(sequence: UInt32?, decodeMemory: Bool)
    mutating func parse(_ buf: UnsafeRawBufferPointer, emit: (Entry) -> Void) throws(DumpError) -> DumpProgress
}

extension UnixDiagParser: DiagReplyParser {}
extension PacketDiagParser: DiagReplyParser {}
extension NetlinkDiagParser: DiagReplyParser {}

/// The sockets of one non-inet family, and where they were read from.
public struct FamilyTable<Entry: Sendable>: Sendable {
    public var entries: [Entry]
    public var source: SourceKind
    public var notices: [String]
}

/// Reads the UNIX, packet and netlink socket tables: netlink sock_diag first, `/proc/net` when
/// netlink diagnostics are refused (`--source auto`), or only one of them when asked.
///
/// A dump that the kernel marks interrupted (`NLM_F_DUMP_INTR`), or that loses replies (ENOBUFS),
/// is redone on a fresh socket, as the inet collector does; one that keeps failing is an error,
/// never a partial table.
public enum FamilySources {
    /// - Parameters:
    ///   - states: a `SocketState.maskBit` mask; the kernel skips sockets in other states.
    ///   - details: ask for everything (`UDIAG_SHOW_*`, MEMINFO only with `options.memory`);
    ///     without it only type, state and inode come back (enough to count).
    public static func unix(_ options: CollectOptions, states: UInt32 = 0xFFFF_FFFF,
                            details: Bool = true) throws(CollectError) -> FamilyTable<UnixSocketEntry> {
        var show = details ? UnixDiagShow.all : 0
        if !options.memory { show &= ~UnixDiagShow.meminfo }
        return try unix(options, states: states, show: show, map: { $0 })
    }

    /// The UNIX table with each entry turned into a `T` as it is parsed (nil drops it), so a large
    /// table is never held twice. `show` is the `UDIAG_SHOW_*` mask to ask for.
    public static func unix<T>(_ options: CollectOptions, states: UInt32, show: UInt32, capacity: Int = 0,
                               map: (UnixSocketEntry) -> T?) throws(CollectError) -> FamilyTable<T> {
        try read(options, family: "unix", as: UnixDiagParser.self, capacity: capacity, map: map, request: { (s) throws(SystemError) in
            try s.requestUnixDump(states: states, show: show)
        }, proc: { () throws(CollectError) in
            var parser = ProcUnixParser()
            var out: [T] = []
            let notices = try readProc(options.procRoot + "/net/unix") { b, before, end, bad in
                parser.parse(b, linesBefore: before, isEnd: end, emit: { e in
                    // A connection still queued at a listener has no inode and unix_diag does not list
                    // it: leaving it out keeps both sources' tables the same (the listener counts it).
                    if e.inode != 0 && states & e.state.maskBit != 0, let t = map(e) { out.append(t) }
                }, malformed: bad)
            }
            return (out, notices)
        })
    }

    public static func packet(_ options: CollectOptions) throws(CollectError) -> FamilyTable<PacketSocketEntry> {
        try read(options, family: "packet", as: PacketDiagParser.self, map: { $0 }, request: { (s) throws(SystemError) in
            try s.requestPacketDump(show: PacketDiagShow.info | PacketDiagShow.meminfo | (options.packetFilters ? PacketDiagShow.filter : 0))
        }, proc: { () throws(CollectError) in
            var out: [PacketSocketEntry] = []
            let notices = try readProc(options.procRoot + "/net/packet") { b, before, end, bad in
                ProcPacketParser.parse(b, linesBefore: before, isEnd: end, emit: { out.append($0) }, malformed: bad)
            }
            return (out, notices)
        })
    }

    public static func netlink(_ options: CollectOptions) throws(CollectError) -> FamilyTable<NetlinkSocketEntry> {
        var table = try read(options, family: "netlink", as: NetlinkDiagParser.self, map: { $0 }, request: { (s) throws(SystemError) in
            try s.requestNetlinkDump(show: NetlinkDiagShow.meminfo | NetlinkDiagShow.groups)
        }, proc: { () throws(CollectError) in
            var out: [NetlinkSocketEntry] = []
            let notices = try readProc(options.procRoot + "/net/netlink") { b, before, end, bad in
                ProcNetlinkParser.parse(b, linesBefore: before, isEnd: end, emit: { out.append($0) }, malformed: bad)
            }
            return (out, notices)
        })
        // netlink_diag walks the bound sockets and then the multicast listeners, so a bound socket
        // that joined a group comes twice (seen on 6.18): keep the first.
        var seen = Set<UInt64>()
        table.entries = table.entries.filter { $0.inode == 0 || seen.insert($0.inode).inserted }
        return table
    }

    /// Whether the kernel answers a sock_diag dump for `family` (`AF_VSOCK` 40, …): nil when it
    /// does, else why not (ENOENT: no diag handler for that family).
    public static func diagRefusal(family: UInt8) -> String? {
        struct Ignore: DiagReplyParser {
            init(sequence: UInt32?, decodeMemory: Bool) { frames = NetlinkDumpFrames(sequence: sequence) }
            var frames: NetlinkDumpFrames
            mutating func parse(_ buf: UnsafeRawBufferPointer, emit: (Int) -> Void) throws(DumpError) -> DumpProgress {
                try frames.walk(buf) { _, _ throws(DumpError) in }
            }
        }
        do {
            _ = try dump(Ignore.self, memory: false, family: "family \(family)", map: { $0 }, request: { (s) throws(SystemError) in
                try s.requestUnixDump(states: 0xFFFF_FFFF, show: 0, family: family)
            })
            return nil
        } catch {
            switch error {
            case .unavailable(let why), .failed(let why): return why
            }
        }
    }

    // MARK: the shared dump loop

    static func read<P: DiagReplyParser, T>(_ options: CollectOptions, family: String, as: P.Type, capacity: Int = 0,
                                            map: (P.Entry) -> T?,
                                            request: (SockDiagSocket) throws(SystemError) -> UInt32,
                                            proc: () throws(CollectError) -> ([T], [String]))
        throws(CollectError) -> FamilyTable<T> {
        if options.source == .proc {
            let (e, n) = try proc()
            return FamilyTable(entries: e, source: .proc, notices: n)
        }
        do {
            return FamilyTable(entries: try dump(P.self, memory: options.memory, family: family, capacity: capacity,
                                                 map: map, request: request),
                               source: .netlink, notices: [])
        } catch {
            switch error {
            case .unavailable(let reason) where options.source == .auto:
                let (e, n) = try proc()
                return FamilyTable(entries: e, source: .proc,
                                   notices: ["netlink \(family)_diag is unavailable (\(reason)); reading \(options.procRoot)/net instead"] + n)
            case .unavailable(let reason):
                throw CollectError("netlink \(family)_diag is unavailable: \(reason) (try --source proc)")
            case .failed(let message):
                throw CollectError(message)
            }
        }
    }

    static func dump<P: DiagReplyParser, T>(_: P.Type, memory: Bool, family: String, capacity: Int = 0,
                                            map: (P.Entry) -> T?,
                                            request: (SockDiagSocket) throws(SystemError) -> UInt32)
        throws(SocketCollector.NetlinkFailure) -> [T] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: SockDiagSocket.receiveBufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var failures: [String] = []
        while failures.count < SocketCollector.dumpAttempts {
            let socket = try SocketCollector.openSocket()
            let seq: UInt32
            do { seq = try request(socket) } catch {
                if error.errno == .notPermitted || error.errno == .permissionDenied { throw .unavailable(error.description) }
                throw .failed("netlink request failed: \(error)")
            }
            var parser = P(sequence: seq, decodeMemory: memory)
            var out: [T] = []
            out.reserveCapacity(capacity)
            attempt: while true {
                let n: Int
                do { n = try socket.receive(into: buffer) } catch {
                    switch error.errno {
                    case .noBufferSpace, .noSpace, .ioError: failures.append(error.description); break attempt
                    default: throw .failed("netlink receive failed: \(error)")
                    }
                }
                if n == 0 { failures.append("netlink socket closed mid-dump"); break attempt }
                do {
                    switch try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), emit: { e in
                        if let t = map(e) { out.append(t) }
                    }) {
                    case .more: continue
                    case .done(let interrupted):
                        if !interrupted { return out }
                        failures.append("the dump was interrupted by concurrent changes (NLM_F_DUMP_INTR)")
                        break attempt
                    }
                } catch {
                    switch error {
                    case .kernel(let e) where [.noSuchFileOrDirectory, .notSupported, .protocolNotSupported,
                                               .addressFamilyNotSupported, .notPermitted, .permissionDenied].contains(e):
                        throw .unavailable("\(family) diagnostics: \(error)")
                    default:
                        failures.append(error.description)
                        break attempt
                    }
                }
            }
        }
        throw .failed("netlink dump of \(family) sockets failed \(failures.count) times: \(failures.last ?? "")")
    }

    /// Reads a /proc table a MiB at a time, feeding `parse` (bytes, lines before, at end, malformed sink).
    static func readProc(_ path: String,
                         _ parse: (UnsafeRawBufferPointer, Int, Bool, (MalformedLine) -> Void) -> (consumed: Int, lines: Int))
        throws(CollectError) -> [String] {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var bad: [MalformedLine] = []
        do {
            let file = try ReadOnlyFile(path)
            var filled = 0, lines = 0
            while true {
                let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                filled += n
                let done = n == 0
                let (consumed, seen) = parse(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]), lines, done) { bad.append($0) }
                lines += seen
                if done { break }
                let rest = filled - consumed
                if rest == chunk {
                    bad.append(MalformedLine(line: lines + 1, reason: "line longer than \(chunk) bytes"))
                    filled = 0
                    continue
                }
                if consumed > 0 && rest > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + consumed, byteCount: rest) }
                filled = rest
            }
        } catch {
            // No such table: the kernel has no such family (a kernel without AF_PACKET has no
            // /proc/net/packet), so there are no such sockets.
            if error.errno == .noSuchFileOrDirectory && error.operation == "open" { return [] }
            throw CollectError("cannot read \(path): \(SystemError.message(error.errno))")
        }
        var notices: [String] = []
        for b in bad.prefix(5) { notices.append("\(path): skipped malformed \(b)") }
        if bad.count > 5 { notices.append("\(path): skipped \(bad.count - 5) more malformed lines") }
        return notices
    }
}
