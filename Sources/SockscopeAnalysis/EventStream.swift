import SockscopeModel

/// The event stream's bookkeeping: refresh diffs from the tracker, merged with the sockets that only
/// the kernel's destroy notifications saw (opened and closed between two refreshes).
///
/// Pure: the caller collects, drains the destroy listener and writes.
public struct EventStream: Sendable {
    public private(set) var tracker: ChangeTracker
    /// The stream's filter, as applied to destroyed sockets (the collection applied it to the rest).
    public let selects: @Sendable (SocketRecord) -> Bool

    /// `refreshInterval`: closed sockets are kept two refreshes (at least 2 s) so that a late destroy
    /// notification for one is recognised as already reported.
    public init(refreshInterval: Double, selects: @escaping @Sendable (SocketRecord) -> Bool) {
        self.selects = selects
        tracker = ChangeTracker(closedRetention: max(2 * refreshInterval, 2))
    }

    /// The events of one refresh (the first: one `.snapshot` per socket).
    public mutating func refresh(_ snapshot: Snapshot, at time: Double) -> [SocketEvent] {
        tracker.update(snapshot, at: time)
    }

    /// The destroyed sockets to report as an open and a close: those no snapshot ever showed, that
    /// the filter selects, and that were bound (a port 0 socket never existed for a reader).
    public func unseen(_ destroyed: [DestroyedSocket]) -> [DestroyedSocket] {
        guard !destroyed.isEmpty else { return [] }
        let known = Set(tracker.sockets.map(\.key))
        return destroyed.filter { d in
            let r = d.record
            return !known.contains(SocketKey(r)) && r.local.port != 0 && selects(r)
        }
    }
}
