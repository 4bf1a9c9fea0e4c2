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

/// How a collection's rows are kept: a netlink dump's de-duplicated (`add`) and taken back (as far
/// as the keeper can) when the dump fails and is redone; rows that need neither (the /proc
/// tables, the other families) through `take`. The snapshot keeps them (`collect`), the stream
/// hands them on (`stream`): both gather through `gather`.
protocol RecordKeeper: RecordSink {
    /// How many rows are kept or handed on so far.
    var count: Int { get }
    /// How many sockets the keeper was sized for (from sockstat's count).
    var expected: Int { get }
    mutating func startDump()
    mutating func add(_ r: SocketRecord)
    mutating func rollBack()
    /// A verifying dump of the `redone` protocols, which `dump` makes into the keeper it is given.
    mutating func redo(_ redone: Set<TransportProtocol>,
                       _ dump: (inout Self) throws(SocketCollector.NetlinkFailure) -> Void) throws(SocketCollector.NetlinkFailure)
    mutating func take(contentsOf records: [SocketRecord])
    /// Drops the rows kept since there were `count` of them, when the keeper can (rows handed on
    /// are out of reach); false when it cannot.
    mutating func discard(since count: Int) -> Bool
}

extension RecordKeeper {
    mutating func take(contentsOf records: [SocketRecord]) { for r in records { take(r) } }
}

/// Records passed on to a sink as they are decoded, each socket once: nothing is held but the
/// cookies seen. A row handed over cannot be taken back, so a failed dump's rows stay (they were
/// sockets the kernel reported) and its retry, like a verifying redo, adds only sockets not seen yet.
struct StreamedRecords<S: RecordSink>: RecordKeeper, RecordSink {
    var seen: SeenSockets
    /// How many records went to the sink.
    var count = 0
    let expected: Int
    /// Last: the fields before it keep fixed offsets in unspecialized code.
    var sink: S

    init(sink: consuming S, capacity: Int) {
        seen = SeenSockets(capacity: capacity + 64)
        expected = capacity
        self.sink = sink
    }

    mutating func inetSource(_ source: SourceKind) { sink.inetSource(source) }

    mutating func discard(since n: Int) -> Bool { n == count }

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
        var streamed = StreamedRecords(sink: sink, capacity: estimate ?? self.estimate(query))
        // A streamed listing is never recorded (`-D` takes the records path).
        var rawDump: [UInt8] = []
        let (source, notices) = try gather(query, into: &streamed, rawDump: &rawDump)
        let count = streamed.count
        return (streamed.sink, StreamOutcome(source: source, notices: notices, count: count))
    }
}
