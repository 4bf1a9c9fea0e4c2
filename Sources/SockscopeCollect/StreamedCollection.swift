import SockscopeFilter
import SockscopeModel

/// Where a streamed collection's records go, one call per socket, as they are decoded.
public protocol RecordSink {
    mutating func take(_ record: SocketRecord)
    /// Called before the inet sockets' records with where they are read from (netlink, or /proc
    /// when netlink is refused): a /proc listener's send queue is not its backlog.
    mutating func inetSource(_ source: SourceKind)
}

extension RecordSink {
    public mutating func inetSource(_ source: SourceKind) {}
}

/// A sink that keeps every record, in order.
public struct RecordArray: RecordSink {
    public var records: [SocketRecord] = []
    public init() {}
    public mutating func take(_ record: SocketRecord) { records.append(record) }
}

/// How a dump's rows are kept: de-duplicated, and taken back (as far as the keeper can) when the
/// dump fails and is redone.
protocol RecordKeeper {
    mutating func startDump()
    mutating func add(_ r: SocketRecord)
    mutating func rollBack()
    /// A verifying dump of the `redone` protocols, which `dump` makes into the keeper it is given.
    mutating func redo(_ redone: Set<TransportProtocol>,
                       _ dump: (inout Self) throws(SocketCollector.NetlinkFailure) -> Void) throws(SocketCollector.NetlinkFailure)
}

/// Records passed on to a sink as they are decoded, each socket once: nothing is held but the
/// cookies seen. A row handed over cannot be taken back, so a failed dump's rows stay (they were
/// sockets the kernel reported) and its retry, like a verifying redo, adds only sockets not seen yet.
struct StreamedRecords<S: RecordSink>: RecordKeeper, RecordSink {
    var seen: SeenSockets
    /// How many records went to the sink.
    var count = 0
    /// The socket count the sets were sized for (sockstat's).
    let capacity: Int
    /// Last: the fields before it keep fixed offsets in unspecialized code.
    var sink: S

    init(sink: consuming S, capacity: Int) {
        seen = SeenSockets(capacity: capacity + 64)
        self.capacity = capacity
        self.sink = sink
    }

    mutating func startDump() {}

    mutating func add(_ r: SocketRecord) {
        if seen.insert(r) { take(r) }
    }

    /// Rows de-duplicated by the caller (the /proc tables, the other families).
    mutating func take(_ r: SocketRecord) {
        count += 1
        sink.take(r)
    }

    mutating func rollBack() {}

    mutating func redo(_ redone: Set<TransportProtocol>,
                       _ dump: (inout StreamedRecords) throws(SocketCollector.NetlinkFailure) -> Void) throws(SocketCollector.NetlinkFailure) {
        try dump(&self)
    }
}

extension SocketCollector {
    /// How many sockets of `query`'s protocols the kernel counts (/proc/net/sockstat, under the
    /// proc root), 0 when unknown: what a sink that keeps rows can size itself by.
    public func estimate(_ query: Query) -> Int {
        SockstatParser.estimate(procRoot: options.procRoot, protocols: query.protocols)
    }

    /// What a streamed collection says besides its records.
    public struct StreamOutcome: Sendable {
        public var source: SourceKind
        public var notices: [String]
        /// How many records went to the sink.
        public var count: Int
    }

    /// Collects what `collect(_:)` does, in the same order, handing each record to `sink` as it
    /// is decoded instead of keeping them all: a listing that needs nothing across rows holds
    /// only what it shows. The consistency redo still runs (see ConsistentDump.swift); a socket
    /// is handed over when first seen, and a redo adds only sockets not seen yet. Returns the
    /// sink with everything it took.
    ///
    /// A netlink dump that fails after handing over rows is not replaced by /proc (its rows would
    /// come twice): that is an error, as it is under `--source netlink`.
    ///
    /// - Parameter estimate: the socket count `estimate(_:)` gives, when the caller read it to size
    ///   its sink (read here otherwise).
    public func stream<S: RecordSink>(_ query: Query, into sink: consuming S,
                                      estimate: Int? = nil) throws(CollectError) -> (sink: S, outcome: StreamOutcome) {
        let estimate = estimate ?? self.estimate(query)
        // The cookie set grows if the table outgrew sockstat's count meanwhile.
        var streamed = StreamedRecords(sink: sink, capacity: estimate)
        var outcome = StreamOutcome(source: options.source == .proc ? .proc : .netlink, notices: [], count: 0)
        var inet = query
        inet.protocols = query.protocols.filter { p in p.families.contains { $0.isIP } && p != .raw }
        inet.families = query.families.filter(\.isIP)
        if !inet.protocols.isEmpty && !inet.families.isEmpty {
            let part = try streamInet(inet, into: &streamed, fallingBack: true, announce: true)
            outcome.source = part.source
            outcome.notices += part.notices
        }
        if query.protocols.contains(.raw) && !inet.families.isEmpty {
            var raw = inet
            raw.protocols = [.raw]
            do {
                outcome.notices += try streamInet(raw, into: &streamed, fallingBack: false).notices
            } catch {
                guard options.source == .auto else { throw error }
                // No raw_diag in this kernel (NLMSG_DONE carrying ENOENT): /proc/net/raw has the same rows.
                outcome.notices += try procDump(raw, notices: [], into: &streamed)
            }
        }
        if query.protocols.contains(where: { !$0.families.contains { $0.isIP } }) {
            let part = try FamilyRecords.collect(query, options)
            for r in part.records { streamed.take(r) }
            outcome.notices += part.notices
            if part.source == .proc { outcome.source = .proc }
        }
        outcome.count = streamed.count
        return (streamed.sink, outcome)
    }

    /// The inet part of `stream`, as `collectInet` does it.
    private func streamInet<S>(_ query: Query, into streamed: inout StreamedRecords<S>, fallingBack: Bool,
                               announce: Bool = false) throws(CollectError) -> (source: SourceKind, notices: [String]) {
        if options.source == .proc {
            if announce { streamed.sink.inetSource(.proc) }
            return (.proc, try procDump(query, notices: [], estimate: streamed.capacity, into: &streamed))
        }
        if announce { streamed.sink.inetSource(.netlink) }
        let before = streamed.count
        do {
            return (.netlink, try verifiedNetlinkDump(query, into: &streamed))
        } catch {
            switch error {
            case .unavailable(let reason) where options.source == .auto && fallingBack && streamed.count == before:
                let notice = "netlink sock_diag is unavailable (\(reason)); reading \(options.procRoot)/net instead"
                if announce { streamed.sink.inetSource(.proc) }
                return (.proc, try procDump(query, notices: [notice], estimate: streamed.capacity, into: &streamed))
            case .unavailable(let reason):
                throw CollectError("netlink sock_diag is unavailable: \(reason) (try --source proc)")
            case .failed(let message):
                throw CollectError(message)
            }
        }
    }
}
