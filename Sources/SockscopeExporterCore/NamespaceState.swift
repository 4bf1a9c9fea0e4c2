import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeSystem

/// What one namespace's thread read for one collection.
public struct NamespaceReading: Sendable {
    public var label: String
    public var records: [SocketRecord]
    /// True when listener backlogs are known (netlink; /proc reports 0 for them).
    public var backlogKnown: Bool
    public var listenCounters: ListenCounters?
    public var ephemeralRange: EphemeralRange?
    /// Connection counters after this reading (a copy: the worker keeps the original).
    public var connections: [ConnectionCounters.Key: ConnectionCounters.Counts]
    /// RTTs of the established TCP sockets by cookie, for records without `tcpInfo` (see `RTTTable`).
    public var rtts: RTTTable?
    /// The serving sockets among `records`, when the reading built them already (nil: built when needed).
    public var serving: ServerBindings?
    public var notices: [String]

    public init(label: String, records: [SocketRecord], backlogKnown: Bool, listenCounters: ListenCounters?,
                ephemeralRange: EphemeralRange?, connections: [ConnectionCounters.Key: ConnectionCounters.Counts],
                rtts: RTTTable? = nil, notices: [String] = []) {
        self.label = label; self.records = records; self.backlogKnown = backlogKnown
        self.listenCounters = listenCounters; self.ephemeralRange = ephemeralRange
        self.connections = connections; self.rtts = rtts; self.notices = notices
    }
}

/// How to read a namespace (the same for all of them).
public struct ReadOptions: Sendable {
    public var query: Query
    public var source: SourceChoice
    /// Read RTTs (the RTT histogram needs them): the dump asks for `tcp_info`, read in place into
    /// an `RTTTable`; the records carry no `tcpInfo`.
    public var tcpInfo: Bool
    public var netstat: Bool
    public var ephemeral: Bool
    public var connections: Bool

    public init(query: Query, source: SourceChoice = .auto, tcpInfo: Bool, netstat: Bool, ephemeral: Bool,
                connections: Bool) {
        self.query = query; self.source = source; self.tcpInfo = tcpInfo; self.netstat = netstat
        self.ephemeral = ephemeral; self.connections = connections
    }
}

/// A namespace's state between collections, owned by its thread: the destroy-group listener and
/// the connection counters.
///
/// `@unchecked Sendable`: used only on its `NamespaceWorker`'s thread.
public final class NamespaceState: @unchecked Sendable {
    public let label: String
    private var destroy: DestroyListener?
    private var destroyTried = false
    private let wantDestroy: Bool
    private var counters: ConnectionCounters
    private var serving = ServerBindings([])
    private var destroyNotice: String?
    /// Sockets in the last dump: sizes the next RTT table.
    private var lastCount = 1024

    init(label: String, destroyEvents: Bool, topPorts: Int) {
        self.label = label
        wantDestroy = destroyEvents
        counters = ConnectionCounters(topPorts: topPorts)
    }

    /// Where this thread's view of the namespace's procfs files is: `/proc/thread-self` follows the
    /// calling thread's namespace, `/proc/net` (the thread group leader's) would not.
    static let netRoot = "/proc/thread-self"

    /// One collection in this namespace. Errors name the namespace; nothing partial is returned.
    public func read(_ options: ReadOptions) throws(CollectFailure) -> NamespaceReading {
        if options.connections && wantDestroy && !destroyTried {
            destroyTried = true
            // Joined before the first dump, so nothing closes unseen between the two.
            do {
                destroy = try DestroyListener(protocols: options.query.protocols, families: options.query.families)
            } catch {
                destroyNotice = "netns \(label): destroy events unavailable (\(error)); connection counts from dump differences only"
            }
        }
        var collect = CollectOptions(source: options.source, procRoot: Self.netRoot, tcpInfo: false)
        // RTTs are read in place from the dump's messages (see RTTTable), not decoded into records.
        let rttObserver = options.tcpInfo ? RTTObserver(capacity: lastCount) : nil
        if let rttObserver {
            collect.messageObserver = { rttObserver.add($0) }
            collect.observedTCPExtensions = InetDiag.extInfo
        }
        let collector = SocketCollector(options: collect)
        let snapshot: Snapshot
        do {
            snapshot = try collector.collect(options.query)
        } catch {
            throw CollectFailure("netns \(label): \(error)")
        }
        lastCount = snapshot.records.count
        // /proc has no tcp_info: no RTT histogram there, as before.
        let rtts = snapshot.source == .netlink ? rttObserver?.table : nil
        var notices = snapshot.notices.map { "netns \(label): \($0)" }
        if let n = destroyNotice { notices.append(n); destroyNotice = nil }
        // Directions, the RTT histogram and the ephemeral report ask the same question of every
        // connection: built once.
        let servingNow = options.connections || options.ephemeral || rtts != nil ? ServerBindings(snapshot.records) : nil
        if options.connections, let servingNow {
            let destroyed = destroy?.drain().map(\.record) ?? []
            if destroy?.takeLostEvents() == true {
                notices.append("netns \(label): some destroy events were lost; connection counts rely on dump differences")
            }
            counters.update(live: snapshot.records, destroyed: destroyed, now: Clock.monotonic(), serving: servingNow)
            serving = servingNow
        }
        var reading = NamespaceReading(
            label: label, records: snapshot.records, backlogKnown: snapshot.source == .netlink,
            listenCounters: options.netstat ? NetstatParser.loadListenCounters(procRoot: Self.netRoot) : nil,
            // /proc/sys/net is resolved against the opening thread's namespace.
            ephemeralRange: options.ephemeral ? EphemeralRangeParser.load(procRoot: "/proc") : nil,
            connections: counters.counts, rtts: rtts, notices: notices)
        reading.serving = servingNow
        return reading
    }

    /// Folds destroy messages that arrived since the last collection into the counters.
    func foldDestroyEvents() {
        guard let destroy else { return }
        let events = destroy.drain()
        if !events.isEmpty { counters.fold(destroyed: events.map(\.record), serving: serving) }
    }

    func close() {
        destroy?.stop()
        destroy = nil
    }
}
