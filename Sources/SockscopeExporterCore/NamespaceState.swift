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
    public var notices: [String]

    public init(label: String, records: [SocketRecord], backlogKnown: Bool, listenCounters: ListenCounters?,
                ephemeralRange: EphemeralRange?, connections: [ConnectionCounters.Key: ConnectionCounters.Counts],
                notices: [String] = []) {
        self.label = label; self.records = records; self.backlogKnown = backlogKnown
        self.listenCounters = listenCounters; self.ephemeralRange = ephemeralRange
        self.connections = connections; self.notices = notices
    }
}

/// How to read a namespace (the same for all of them).
public struct ReadOptions: Sendable {
    public var query: Query
    public var source: SourceChoice
    /// Ask for `tcp_info` (the RTT histogram needs it).
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
    private var serving = ServingSockets([])
    private var destroyNotice: String?

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
        let collector = SocketCollector(options: CollectOptions(source: options.source, procRoot: Self.netRoot,
                                                                 tcpInfo: options.tcpInfo))
        let snapshot: Snapshot
        do {
            snapshot = try collector.collect(options.query)
        } catch {
            throw CollectFailure("netns \(label): \(error)")
        }
        var notices = snapshot.notices.map { "netns \(label): \($0)" }
        if let n = destroyNotice { notices.append(n); destroyNotice = nil }
        if options.connections {
            let destroyed = destroy?.drain().map(\.record) ?? []
            if destroy?.takeLostEvents() == true {
                notices.append("netns \(label): some destroy events were lost; connection counts rely on dump differences")
            }
            counters.update(live: snapshot.records, destroyed: destroyed, now: Clock.monotonic())
            serving = ServingSockets(snapshot.records)
        }
        return NamespaceReading(
            label: label, records: snapshot.records, backlogKnown: snapshot.source == .netlink,
            listenCounters: options.netstat ? NetstatParser.loadListenCounters(procRoot: Self.netRoot) : nil,
            // /proc/sys/net is resolved against the opening thread's namespace.
            ephemeralRange: options.ephemeral ? EphemeralRangeParser.load(procRoot: "/proc") : nil,
            connections: counters.counts, notices: notices)
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
