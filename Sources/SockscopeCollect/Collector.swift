import SockscopeFilter
import SockscopeModel
import SockscopeSystem
import SystemPackage

/// Which kernel interface to read.
public enum SourceChoice: String, Sendable, CaseIterable {
    /// Netlink, falling back to /proc (with one notice) where netlink diagnostics are refused.
    case auto
    case netlink
    case proc
}

/// How to collect.
public struct CollectOptions: Sendable {
    public var source: SourceChoice
    /// Where procfs is mounted (tests point this at fixture trees).
    public var procRoot: String
    /// Ask for `INET_DIAG_INFO` and `INET_DIAG_CONG` (netlink only).
    public var tcpInfo: Bool
    /// Ask for `INET_DIAG_SKMEMINFO` (netlink only).
    public var memory: Bool
    /// Keep each socket's pending timer (netlink only).
    public var timers = false
    /// Keep the raw reply bytes of the dumps the snapshot was read from (`Snapshot.rawDump`, in the
    /// dump file format of `DumpFile`). One dump per protocol, read once: the file holds exactly
    /// what was listed.
    public var recordDump = false
    /// Keep each socket's cgroup id (`INET_DIAG_CGROUP_ID`), for `--cgroup`.
    public var cgroups = false
    /// `-T`: owners per thread (see `OwnerScanner.threads`).
    public var threads = false
    /// `-b`: the classic BPF program attached to each packet socket (netlink only).
    public var packetFilters = false
    /// Compile port filters to kernel bytecode (netlink only).
    public var kernelFilter: Bool
    /// Re-check every record with the userspace evaluator. Tests turn this off to prove the bytecode alone.
    public var userspaceFilter: Bool
    /// Ask unix_diag for each socket's uid and bound file too (JSON and `-e` show them; a plain
    /// table does not, and leaving them out trims the kernel's share of a large dump).
    public var unixIdentity = true
    /// Called (netlink only) with the payload of every inet_diag reply message, before it is decoded,
    /// including those of a dump that is then redone: for a reader that needs one field of each
    /// socket without a decoded record (the exporter's RTTs, read from `INET_DIAG_INFO` in place).
    public var messageObserver: (@Sendable (UnsafeRawBufferPointer) -> Void)? = nil
    /// `idiag_ext` bits added to TCP dump requests for `messageObserver` (not decoded into records).
    public var observedTCPExtensions: UInt8 = 0

    public init(source: SourceChoice = .auto, procRoot: String = "/proc", tcpInfo: Bool = false, memory: Bool = false,
                kernelFilter: Bool = true, userspaceFilter: Bool = true) {
        self.source = source; self.procRoot = procRoot; self.tcpInfo = tcpInfo; self.memory = memory
        self.kernelFilter = kernelFilter; self.userspaceFilter = userspaceFilter
    }
}

/// A collection that could not be completed: nothing partial is returned.
public struct CollectError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads the socket tables for a query from netlink or /proc, and returns de-duplicated records.
public struct SocketCollector: Sendable {
    public var options: CollectOptions
    /// How many malformed /proc/net lines are reported one by one (the rest as a count).
    static let malformedShown = 5
    /// How many times a dump that was interrupted, truncated or overrun is redone before giving up.
    public static let dumpAttempts = 4

    public init(options: CollectOptions = CollectOptions()) { self.options = options }

    /// Collects every protocol the query selects: the inet ones through inet_diag (or /proc/net),
    /// raw sockets through inet_diag where the kernel has raw_diag and /proc/net/raw{,6} where it
    /// does not, and the UNIX, packet and netlink tables through their own diag messages.
    public func collect(_ query: Query) throws(CollectError) -> Snapshot {
        // Sized once from sockstat (plus slack for sockets opened meanwhile): see SockstatParser.
        let estimate = estimate(query)
        var kept = KeptRecords(capacity: estimate + estimate / 8 + 64)
        var rawDump: [UInt8] = []
        let (source, notices) = try gather(query, into: &kept, rawDump: &rawDump)
        var snapshot = Snapshot(records: kept.records, source: source, notices: notices)
        snapshot.rawDump = rawDump
        return snapshot
    }

    /// Every part of `query` into `keeper`, in listing order: the inet protocols, raw sockets
    /// (through /proc/net/raw where the kernel has no raw_diag), then the other families. Returns
    /// where the inet sockets were read from, and the notices. `rawDump` gets the netlink dump's
    /// bytes when `options.recordDump` asks for them.
    func gather<K: RecordKeeper>(_ query: Query, into keeper: inout K,
                                 rawDump: inout [UInt8]) throws(CollectError) -> (source: SourceKind, notices: [String]) {
        var source: SourceKind = options.source == .proc ? .proc : .netlink
        var notices: [String] = []
        var inet = query
        inet.protocols = query.protocols.filter { p in p.families.contains { $0.isIP } && p != .raw }
        inet.families = query.families.filter(\.isIP)
        if !inet.protocols.isEmpty && !inet.families.isEmpty {
            let part = try gatherInet(inet, into: &keeper, rawDump: &rawDump, fallingBack: true, announce: true)
            source = part.source
            notices += part.notices
        }
        if query.protocols.contains(.raw) && !inet.families.isEmpty {
            var raw = inet
            raw.protocols = [.raw]
            let before = keeper.count
            // Raw sockets stay out of a recorded dump (the file holds the inet tables): a kernel
            // without raw_diag would leave its refusal in it, which a reader takes for a failed dump.
            var unrecorded: [UInt8] = []
            do {
                notices += try gatherInet(raw, into: &keeper, rawDump: &unrecorded, fallingBack: false).notices
            } catch {
                // No raw_diag in this kernel (NLMSG_DONE carrying ENOENT): /proc/net/raw has the same
                // rows, once whatever the failed dump kept is taken back (a stream's rows cannot be).
                guard options.source == .auto, keeper.discard(since: before) else { throw error }
                notices += try procDump(raw, notices: [], into: &keeper)
            }
        }
        if query.protocols.contains(where: { !$0.families.contains { $0.isIP } }) {
            let part = try FamilyRecords.collect(query, options)
            keeper.take(contentsOf: part.records)
            notices += part.notices
            if part.source == .proc { source = .proc }
        }
        return (source, notices)
    }

    /// The inet protocols of a query. With `fallingBack` false, netlink's refusal is an error even
    /// under `--source auto` (the caller falls back for this part alone). Netlink refused after
    /// rows were handed on (a stream) is an error too: /proc's would come twice.
    private func gatherInet<K: RecordKeeper>(_ query: Query, into keeper: inout K, rawDump: inout [UInt8], fallingBack: Bool,
                                             announce: Bool = false) throws(CollectError) -> (source: SourceKind, notices: [String]) {
        if options.source == .proc {
            if announce { keeper.inetSource(.proc) }
            return (.proc, try procDump(query, notices: [], estimate: keeper.expected, into: &keeper))
        }
        if announce { keeper.inetSource(.netlink) }
        let before = keeper.count
        do {
            // A recorded dump is one pass as read (its bytes are the file); otherwise a protocol
            // whose table changed during the dump is redone: see ConsistentDump.swift.
            if options.recordDump { return (.netlink, try netlinkDump(query, into: &keeper, rawDump: &rawDump)) }
            return (.netlink, try verifiedNetlinkDump(query, into: &keeper))
        } catch {
            switch error {
            case .unavailable(let why) where options.recordDump:
                throw CollectError("netlink sock_diag is unavailable: \(why); a dump needs it")
            case .unavailable(let reason) where options.source == .auto && fallingBack:
                // Refused midway: what netlink gave is taken back first, or /proc's rows would come
                // twice; a stream cannot take back rows it handed on.
                guard keeper.discard(since: before) else {
                    throw CollectError("netlink sock_diag is unavailable: \(reason) (try --source proc)")
                }
                let notice = "netlink sock_diag is unavailable (\(reason)); reading \(options.procRoot)/net instead"
                if announce { keeper.inetSource(.proc) }
                return (.proc, try procDump(query, notices: [notice], estimate: keeper.expected, into: &keeper))
            case .unavailable(let reason):
                throw CollectError("netlink sock_diag is unavailable: \(reason) (try --source proc)")
            case .failed(let message):
                throw CollectError(message)
            }
        }
    }

    /// The /proc files to read, in listing order: TCP before UDP, IPv4 before IPv6, like `ss`.
    /// Only TCP, UDP and raw have `/proc/net/<proto>[6]` tables this reader parses.
    static func parts(_ q: Query) -> [(TransportProtocol, AddressFamily)] {
        var out: [(TransportProtocol, AddressFamily)] = []
        for p in TransportProtocol.allCases where q.protocols.contains(p) {
            switch p {
            case .tcp, .udp, .raw:
                for f in p.families where q.families.contains(f) { out.append((p, f)) }
            case .mptcp, .sctp, .unixStream, .unixDgram, .unixSeqpacket, .packetRaw, .packetDgram, .netlink:
                continue
            }
        }
        return out
    }

    /// One netlink dump of the plan: a protocol and a family, or TCP of both IP families at once
    /// (`family` nil, the legacy request).
    struct DumpPart { var proto: TransportProtocol; var family: AddressFamily? }

    /// The dumps a query needs, per protocol and family, in listing order. Every inet protocol is
    /// asked of `inet_diag` by its protocol number (MPTCP's through the request's protocol
    /// attribute); UNIX, packet and netlink sockets need their own diag messages (`unix_diag`,
    /// `packet_diag`, `netlink_diag`), which are not read yet: `unplanned` names them, so the
    /// listing can say it is incomplete rather than pass for complete.
    static func dumpParts(_ q: Query, legacyTCP: Bool) -> (parts: [DumpPart], unplanned: [TransportProtocol]) {
        var out: [DumpPart] = [], unplanned: [TransportProtocol] = []
        for p in TransportProtocol.allCases where q.protocols.contains(p) {
            switch p {
            case .tcp where legacyTCP && q.families.isSuperset(of: AddressFamily.ip):
                out.append(DumpPart(proto: .tcp, family: nil))
            case .tcp, .udp, .raw, .mptcp, .sctp:
                for f in p.families where q.families.contains(f) { out.append(DumpPart(proto: p, family: f)) }
            case .unixStream, .unixDgram, .unixSeqpacket, .packetRaw, .packetDgram, .netlink:
                unplanned.append(p)
            }
        }
        return (out, unplanned)
    }

    // MARK: netlink

    enum NetlinkFailure: Error {
        /// Netlink diagnostics are refused here (permissions, no kernel support): /proc can stand in.
        case unavailable(String)
        /// A dump went wrong and could not be completed.
        case failed(String)
    }

    static func openSocket() throws(NetlinkFailure) -> SockDiagSocket {
        do {
            return try SockDiagSocket()
        } catch {
            switch error.errno {
            case .notPermitted, .permissionDenied, .addressFamilyNotSupported, .protocolNotSupported:
                throw .unavailable(error.description)
            default:
                throw .failed("cannot open netlink socket: \(error)")
            }
        }
    }

    /// Dumps every part of `query` into `kept`, redoing a part whose dump failed (up to
    /// `dumpAttempts`); returns the notices.
    func netlinkDump<K: RecordKeeper>(_ query: Query, into kept: inout K, rawDump: inout [UInt8]) throws(NetlinkFailure) -> [String] {
        var socket = try Self.openSocket()
        var notices: [String] = []
        var bytecodeRefused = false
        var markAllowed = true
        let predicate = query.predicate
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: SockDiagSocket.receiveBufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var interfaceNames = InterfaceNames()

        var (parts, unplanned) = Self.dumpParts(query, legacyTCP: true)
        for p in unplanned { notices.append("\(p.rawValue) sockets are not collected (no reader for their diag messages yet)") }
        var partIndex = 0
        while partIndex < parts.count {
            let (proto, family) = (parts[partIndex].proto, parts[partIndex].family)
            partIndex += 1
            let states = query.states.restricted(to: proto).mask
            if states == 0 { continue }
            var ext: UInt8 = 0
            // INET_DIAG_VEGASINFO also brings BBR's and DCTCP's details.
            if options.tcpInfo && proto == .tcp { ext |= InetDiag.extInfo | InetDiag.extCong | InetDiag.extVegasInfo }
            if options.memory { ext |= InetDiag.extSkMemInfo }
            if proto == .tcp { ext |= options.observedTCPExtensions }
            var failures: [String] = []
            while true {
                let kernel = options.kernelFilter && !bytecodeRefused
                    ? InetDiagBytecode.plan(predicate, allowMark: markAllowed, ephemeral: query.ephemeral) : nil
                let bytecode = kernel?.bytecode
                // Where the whole expression ran in the kernel its answer stands; autobound and fwmark
                // are then left to it (it knows how a port was bound, and TIME_WAIT marks).
                let kernelExact = kernel?.exact == true && (bytecode != nil || predicate == .all)
                let filterInUserspace = predicate != .all
                    && (!kernelExact || (options.userspaceFilter && !predicate.usesAutobound && !predicate.usesMark))
                var markMissing = false
                // Rows go straight into `kept`; a dump that must be redone is taken back as far as the keeper can.
                let rawStart = rawDump.count
                kept.startDump()
                func rollback() {
                    kept.rollBack()
                    rawDump.removeSubrange(rawStart...)
                }
                if options.recordDump { socket.setNextSequence(DumpFile.sequence(for: proto)) }
                let outcome = try dump(socket, buffer, proto: proto, family: family, states: states, ext: ext,
                                       bytecode: bytecode, markInProgram: kernel?.usesMark == true,
                                       decodeMark: predicate.usesMark, decodeCgroup: predicate.usesCgroup || options.cgroups,
                                       recording: options.recordDump, record: { rawDump.append(contentsOf: $0) },
                                       names: &interfaceNames, into: &kept) { r in
                    guard filterInUserspace else { return true }
                    if predicate.usesMark && r.mark == nil && r.state != .timeWait && r.state != .synRecv
                        && r.state != .newSynRecv { markMissing = true }
                    return predicate.evaluate(r, ephemeral: query.ephemeral)
                }
                switch outcome {
                case .complete:
                    if markMissing {
                        throw .failed("fwmark: the kernel reports and filters socket marks only for CAP_NET_ADMIN; "
                            + "run with that capability or leave out the fwmark rule")
                    }
                case .markRefused:
                    // EPERM for INET_DIAG_BC_MARK_COND: ask again without it and judge marks here.
                    rollback()
                    markAllowed = false
                    socket = try Self.openSocket()
                    continue
                case .retry, .bytecodeRefused:
                    rollback()
                    if case .retry(let why) = outcome {
                        failures.append(why)
                        if failures.count >= Self.dumpAttempts {
                            throw .failed("netlink dump of \(proto.rawValue)/\(family?.rawValue ?? "any") failed \(failures.count) times: \(why)")
                        }
                    } else {
                        bytecodeRefused = true
                        notices.append("the kernel refused the filter bytecode; filtering in userspace")
                    }
                    // The old socket may still hold the rest of the failed dump: start on a new one.
                    socket = try Self.openSocket()
                    continue
                case .unsupported(let why):
                    if family == nil {
                        // This kernel has no legacy TCP interface: ask family by family instead.
                        rollback()
                        parts.insert(contentsOf: AddressFamily.ip.map { DumpPart(proto: .tcp, family: $0) }, at: partIndex)
                        socket = try Self.openSocket()
                        break
                    }
                    throw .unavailable(why)
                }
                break
            }
        }
        return notices
    }

    /// Interface names by index, each looked up once per collection.
    struct InterfaceNames {
        var names: [UInt32: [UInt8]?] = [:]
        mutating func name(_ index: UInt32) -> [UInt8]? {
            if let known = names[index] { return known }
            let name = Interfaces.rawName(index: index)
            names[index] = .some(name)
            return name
        }
    }

    /// The records of a snapshot, each socket once, and what the current dump added (so a redo
    /// can take it back). Passed to the dump as one inout value: captured by the dump's callback,
    /// each variable cost a dynamic exclusivity check per socket, 3.4 % of `-tan` at 100k sockets
    /// with three of them (perf: swift_beginAccess).
    struct KeptRecords: RecordKeeper {
        var records: [SocketRecord] = []
        var seen: SeenSockets
        var dumpStart = 0
        let expected: Int

        init(capacity: Int) {
            records.reserveCapacity(capacity)
            seen = SeenSockets(capacity: capacity, remembersAdded: true)
            expected = capacity
        }

        var count: Int { records.count }

        /// Rows de-duplicated by the caller (the /proc tables, the other families).
        mutating func take(_ r: SocketRecord) { records.append(r) }

        mutating func discard(since n: Int) -> Bool {
            for r in records[n...] { seen.remove(r) }
            records.removeSubrange(n...)
            seen.forgetAdded()
            return true
        }

        /// Taken over when there is nothing before them (a UNIX-only listing): no second copy.
        mutating func take(contentsOf more: [SocketRecord]) {
            if records.isEmpty { records = more } else { records += more }
        }

        mutating func startDump() {
            seen.forgetAdded()
            dumpStart = records.count
        }

        /// Keeps `r` unless this snapshot has it already (tables changing under the dump can list
        /// a socket twice).
        mutating func add(_ r: SocketRecord) {
            if seen.insert(r) { records.append(r) }
        }

        /// Takes back what the current dump added.
        mutating func rollBack() {
            records.removeSubrange(dumpStart...)
            seen.removeAdded()
            startDump()
        }

        /// A verifying dump goes into a keeper of its own and is merged: a socket in both is kept
        /// in its later state (see `merge`).
        mutating func redo(_ redone: Set<TransportProtocol>,
                           _ dump: (inout KeptRecords) throws(NetlinkFailure) -> Void) throws(NetlinkFailure) {
            var next = KeptRecords(capacity: records.count / 2 + 64)
            try dump(&next)
            records = SocketCollector.merge(records, next.records, redone: redone)
            seen.formUnion(next.seen)
        }
    }

    enum DumpOutcome { case complete, retry(String), bytecodeRefused, markRefused, unsupported(String) }

    /// One dump request to completion. Anything that makes its result untrustworthy becomes `.retry`.
    private func dump(_ socket: SockDiagSocket, _ buffer: UnsafeMutableRawBufferPointer, proto: TransportProtocol,
                      family: AddressFamily?, states: UInt32, ext: UInt8, bytecode: [UInt8]?,
                      markInProgram: Bool = false, decodeMark: Bool = false, decodeCgroup: Bool = false,
                      recording: Bool = false, record: (UnsafeRawBufferPointer) -> Void = { _ in },
                      names: inout InterfaceNames, into kept: inout some RecordKeeper,
                      accept: (SocketRecord) -> Bool) throws(NetlinkFailure) -> DumpOutcome {
        let seq: UInt32
        do {
            if let family {
                guard let number = proto.ipProtocol else { return .unsupported("\(proto.rawValue) is not an inet protocol") }
                seq = try socket.requestDump(family: family.rawFamily, protocol: number, states: states,
                                             extensions: ext, bytecode: bytecode)
            } else {
                seq = try socket.requestLegacyTCPDump(states: states, extensions: ext, bytecode: bytecode)
            }
        } catch {
            if error.errno == .notPermitted || error.errno == .permissionDenied {
                return .unsupported(error.description)
            }
            throw .failed("netlink request failed: \(error)")
        }
        var parser = InetDiagParser(proto: proto, sequence: seq, decodeInfo: options.tcpInfo, decodeMemory: options.memory)
        parser.decodeTimer = options.timers
        parser.decodeMark = decodeMark
        parser.decodeCgroup = decodeCgroup
        while true {
            let n: Int
            do {
                n = try socket.receive(into: buffer)
            } catch {
                switch error.errno {
                case .noBufferSpace, .noSpace, .ioError:
                    // ENOBUFS: the kernel dropped replies; ENOSPC: a reply was truncated (MSG_TRUNC).
                    return .retry(error.description)
                default:
                    throw .failed("netlink receive failed: \(error)")
                }
            }
            if n == 0 { return .retry("netlink socket closed mid-dump") }
            if recording { record(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
            if let observe = options.messageObserver {
                // Framing errors are the parser's to report, just below.
                var frames = NetlinkDumpFrames(sequence: seq)
                _ = try? frames.walk(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { type, payload in
                    if type == InetDiag.sockDiagByFamily || type == InetDiag.tcpDiagGetSock { observe(payload) }
                }
            }
            do {
                // `kept` is an inout parameter here, not a capture: no dynamic exclusivity check per socket.
                switch try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), emit: { r in
                    // The kernel checks the state when it picks a socket and reads it again when it
                    // fills the reply: one that closed in between comes in its new state (seen under
                    // churn: CLOSE sockets, local port 0, in a connected-only listing).
                    guard states & r.state.maskBit != 0, accept(r) else { return }
                    guard r.interfaceIndex != 0 else { kept.add(r); return }
                    var named = r
                    named.rawInterface = names.name(r.interfaceIndex)
                    kept.add(named)
                }) {
                case .more: continue
                case .done(let interrupted):
                    return interrupted ? .retry("the dump was interrupted by concurrent changes (NLM_F_DUMP_INTR)") : .complete
                }
            } catch {
                switch error {
                case .kernel(let e) where bytecode != nil && e == .invalidArgument:
                    return .bytecodeRefused
                case .kernel(.notPermitted) where markInProgram:
                    return .markRefused
                case .kernel(.noSuchFileOrDirectory), .kernel(.notSupported), .kernel(.protocolNotSupported),
                     .kernel(.addressFamilyNotSupported):
                    return .unsupported("\(proto.rawValue)/\(family?.rawValue ?? "any") diagnostics: \(error)")
                case .kernel(.notPermitted), .kernel(.permissionDenied):
                    return .unsupported("\(error)")
                default:
                    return .retry(error.description)
                }
            }
        }
    }

    // MARK: /proc

    /// The /proc/net tables of `query`, each socket handed to `sink` once; returns the notices.
    /// `estimate`: how many sockets sockstat counts (read here when the caller has not).
    func procDump(_ query: Query, notices: [String], estimate: Int? = nil,
                  into sink: inout some RecordSink) throws(CollectError) -> [String] {
        var notices = notices
        let predicate = query.predicate
        if predicate.contains(where: { if case .device = $0 { return true }; if case .mark = $0 { return true }
            if case .cgroup = $0 { return true }; return false }) {
            throw CollectError("dev, fwmark and cgroup rules need netlink sock_diag: \(options.procRoot)/net has no such fields")
        }
        let estimate = estimate ?? SockstatParser.estimate(procRoot: options.procRoot, protocols: query.protocols)
        // Inodes are unique per socket; only inode-0 rows (TIME_WAIT, request sockets) need the tuple.
        // A cookie set, not `Set<UInt64>`: inodes come from a counter too (2.4 % of `--source proc -tan`).
        var seenInodes = CookieSet(minimumCapacity: estimate + 64)
        var seenTuples = Set<ProcKey>()
        // Files are parsed as they are read, a MiB at a time: holding a 100k-socket file whole (15 MB)
        // and growing its buffer cost more page faults than the parsing itself (measured with perf).
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        for (proto, family) in Self.parts(query) {
            let states = query.states.restricted(to: proto)
            if states.mask == 0 { continue }
            let name = proto.rawValue + (family == .inet6 ? "6" : "")
            let path = options.procRoot + "/net/" + name
            let parser = ProcNetParser(proto: proto, family: family)
            // The first few bad lines are kept for the notices, the rest only counted: a hostile
            // file of endless garbage must not grow memory line by line.
            var bad: [MalformedLine] = [], badCount = 0
            do {
                let file = try ReadOnlyFile(path)
                var filled = 0, lines = 0, total = 0
                while true {
                    let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                    filled += n
                    total += n
                    let done = n == 0
                    if total > ReadLimit.socketTable.bytes || lines > ReadLimit.maxTableLines {
                        throw CollectError("cannot read \(path): more than \(ReadLimit.maxTableLines) lines "
                            + "or \(ReadLimit.socketTable.bytes) bytes; not a socket table")
                    }
                    let (consumed, seen) = parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]),
                                                        linesBefore: lines, isEnd: done, emit: { r in
                        guard states.contains(r.state), predicate == .all || predicate.evaluate(r, ephemeral: query.ephemeral) else { return }
                        let fresh = r.inode != 0 ? seenInodes.insert(r.inode) : seenTuples.insert(ProcKey(r)).inserted
                        if fresh { sink.take(r) }
                    }, malformed: { b in
                        badCount += 1
                        if bad.count < Self.malformedShown { bad.append(b) }
                    })
                    lines += seen
                    if done { break }
                    // Keep the partial last line. A table line is at most 178 bytes: one that fills
                    // the buffer is no socket table (a zero-filled or binary file), and reading on to
                    // the byte limit took 15 s of a debug build for nothing.
                    let rest = filled - consumed
                    if rest == chunk {
                        throw CollectError("cannot read \(path): line \(lines + 1) is longer than \(chunk) bytes; not a socket table")
                    }
                    if consumed > 0 && rest > 0 {
                        buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + consumed, byteCount: rest)
                    }
                    filled = rest
                }
            } catch let error as CollectError {
                throw error
            } catch let error as SystemError {
                // No tcp6/udp6 means IPv6 is disabled: there are simply no such sockets.
                if family == .inet6 && error.errno == .noSuchFileOrDirectory && error.operation == "open" { continue }
                throw CollectError("cannot read \(path): \(error.reason)")
            } catch {
                throw CollectError("cannot read \(path): \(error)")
            }
            for b in bad { notices.append("\(path): skipped malformed \(b)") }
            if badCount > bad.count { notices.append("\(path): skipped \(badCount - bad.count) more malformed lines") }
        }
        return notices
    }
}

/// The sockets a collection has handed on or kept: by cookie, or (a record without one) by
/// protocol, tuple and inode. The snapshot and the stream de-duplicate alike through it.
struct SeenSockets {
    private var cookies: CookieSet
    private var withoutCookie = Set<CookieKey>()
    /// What `insert` added since `forgetAdded`, when remembered: a snapshot takes a failed dump's
    /// sockets back, a stream never does.
    private let remembersAdded: Bool
    private var addedCookies: [UInt64] = [], addedKeys: [CookieKey] = []

    init(capacity: Int, remembersAdded: Bool = false) {
        cookies = CookieSet(minimumCapacity: capacity)
        self.remembersAdded = remembersAdded
    }

    /// Marks `r` seen; false when it was seen already.
    mutating func insert(_ r: SocketRecord) -> Bool {
        if let c = r.cookie, c != 0 {
            guard cookies.insert(c) else { return false }
            if remembersAdded { addedCookies.append(c) }
        } else {
            let k = CookieKey(r)
            guard withoutCookie.insert(k).inserted else { return false }
            if remembersAdded { addedKeys.append(k) }
        }
        return true
    }

    mutating func forgetAdded() {
        addedCookies.removeAll(keepingCapacity: true)
        addedKeys.removeAll()
    }

    /// Unmarks what `insert` added since `forgetAdded`.
    mutating func removeAdded() {
        for c in addedCookies { cookies.remove(c) }
        for k in addedKeys { withoutCookie.remove(k) }
        forgetAdded()
    }

    /// Unmarks `r`.
    mutating func remove(_ r: SocketRecord) {
        if let c = r.cookie, c != 0 { cookies.remove(c) } else { withoutCookie.remove(CookieKey(r)) }
    }

    mutating func formUnion(_ other: SeenSockets) {
        cookies.formUnion(other.cookies)
        withoutCookie.formUnion(other.withoutCookie)
    }
}

/// De-duplication key for netlink rows: the cookie is unique per socket for its lifetime.
/// The protocol and 5-tuple are included so that a zero cookie (a fixture) cannot merge sockets.
struct CookieKey: Hashable {
    var proto: TransportProtocol
    var cookie: UInt64
    var tuple: FiveTuple
    var inode: UInt64
    init(_ r: SocketRecord) { proto = r.proto; cookie = r.cookie ?? 0; tuple = r.fiveTuple; inode = r.inode }
}

/// De-duplication key for /proc rows with no inode (TIME_WAIT, request sockets), which are unique
/// by protocol and 5-tuple in the kernel's tables. Hashed by hand over five words: the synthesized
/// hash walked every nested field and showed up in profiles.
struct ProcKey: Hashable {
    var tuple: FiveTuple
    init(_ r: SocketRecord) { tuple = r.fiveTuple }

    func hash(into h: inout Hasher) {
        h.combine(tuple.local.address.high ^ tuple.local.address.low)
        h.combine(tuple.remote.address.high ^ tuple.remote.address.low)
        h.combine(UInt64(tuple.local.port) << 32 | UInt64(tuple.remote.port) << 8 | UInt64(tuple.proto.rank))
    }
}
