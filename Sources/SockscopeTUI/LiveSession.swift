import Dispatch
import SockscopeAnalysis
import SockscopeModel
import Synchronization

/// One refresh's result, handed from the collector thread to the UI thread.
struct Refresh: Sendable {
    /// Sorted for the ordering the UI wanted when the refresh began; nil when collection failed.
    var table: PreparedTable?
    /// `table` filtered with the filter the UI had when the refresh began.
    var filtered: FilteredRows?
    var notices: [String]
    var error: String?
    /// CPU the collector thread spent on collection, tracking and preparing, and the socket count.
    var cpuSeconds: Double
    var count: Int
}

/// What the UI thread, the collector thread and the sort job share. Every access goes through
/// the mutex, and only to swap values in or out: nothing slow ever runs under it, so the UI
/// thread never waits for a collection or a sort. The semaphore only wakes the collector early
/// (interval change, resume, quit).
public final class CollectorControl: Sendable {
    struct State {
        var interval: Double
        var paused = false
        /// Whether to scan /proc for owners (the owner column is shown).
        var owners: Bool
        /// Whether host names are shown (the collector then has the addresses looked up).
        var names: Bool
        var stop = false
        /// What the UI shows, so a refresh is prepared for it: sorted and filtered off the UI thread.
        var ordering: Ordering
        var filter: ViewFilter
        var latest: Refresh?
        /// The newest re-sort the UI asked for (older ones are dropped unstarted).
        var sortRequest: (table: PreparedTable, ordering: Ordering)?
        var sortRunning = false
        var sorted: PreparedTable?
        /// Tables the UI let go of. Freeing 100k tracked sockets takes milliseconds, so it is
        /// done by the collector thread, not the UI thread.
        var retired: [PreparedTable] = []
    }

    let state: Mutex<State>
    let wake = DispatchSemaphore(value: 0)
    let settings: WatchSettings
    /// Wakes the UI thread (a byte on its signal pipe in the terminal; anything in tests).
    let notify: @Sendable () -> Void
    let sortQueue = DispatchQueue(label: "sockscope.sort")

    init(settings: WatchSettings, ordering: Ordering, filter: ViewFilter, notify: @escaping @Sendable () -> Void) {
        self.settings = settings
        self.notify = notify
        state = Mutex(State(interval: settings.interval, owners: settings.showOwners, names: settings.resolveNames,
                            ordering: ordering, filter: filter))
    }

    /// Frees what the UI retired (on the calling thread, which is never the UI's).
    func dropRetired() {
        let garbage = state.withLock { s -> [PreparedTable] in
            defer { s.retired = [] }
            return s.retired
        }
        _ = garbage
    }

    /// The collector's loop: collect, track, prepare for the UI's ordering and filter, publish,
    /// wake the UI, sleep; until told to stop. `cpuMicroseconds` reads this thread's CPU clock.
    /// `collect` is told whether owners are shown and whether host names are.
    public func run(retention: Double, cpuMicroseconds: @Sendable () -> Int64 = { -1 },
             collect: @Sendable (_ owners: Bool, _ names: Bool) throws -> Snapshot) {
        var tracker = ChangeTracker(closedRetention: retention)
        let clock = ContinuousClock()
        let start = clock.now
        func seconds() -> Double {
            let d = start.duration(to: clock.now).components
            return Double(d.seconds) + Double(d.attoseconds) * 1e-18
        }
        var noticesShown = false
        var generation = 0
        while true {
            dropRetired()
            let (stop, paused, interval, owners, names) = state.withLock { ($0.stop, $0.paused, $0.interval, $0.owners, $0.names) }
            if stop { return }
            if paused {
                _ = wake.wait(timeout: .now() + 1)
                continue
            }
            let began = seconds()
            let cpu0 = cpuMicroseconds()
            var refresh: Refresh
            do {
                let snapshot = try collect(owners, names)
                let time = seconds()
                tracker.track(snapshot, at: time)
                generation += 1
                // Read late, so a sort or filter key pressed during the collection is honoured.
                let (ordering, filter) = state.withLock { ($0.ordering, $0.filter) }
                let table = PreparedTable(sockets: tracker.sockets, source: snapshot.source, time: time,
                                          generation: generation, ordering: ordering, settings: settings)
                refresh = Refresh(table: table, filtered: table.filtered(by: filter),
                                  notices: noticesShown ? [] : snapshot.notices, error: nil, cpuSeconds: 0,
                                  count: snapshot.records.count)
                noticesShown = noticesShown || !snapshot.notices.isEmpty
            } catch {
                refresh = Refresh(table: nil, filtered: nil, notices: [], error: "\(error)", cpuSeconds: 0, count: 0)
            }
            let cpu1 = cpuMicroseconds()
            refresh.cpuSeconds = cpu0 >= 0 && cpu1 >= cpu0 ? Double(cpu1 - cpu0) / 1e6 : 0
            let published = refresh
            // A refresh the UI never took is replaced, and freed here.
            let unread = state.withLock { s -> Refresh? in
                defer { s.latest = published }
                return s.latest
            }
            _ = unread
            notify()
            let remaining = began + interval - seconds()
            if remaining > 0 { _ = wake.wait(timeout: .now() + remaining) }
        }
    }

    /// Tells the collector loop to return, and wakes it from its sleep between refreshes.
    public func stop() {
        state.withLock { $0.stop = true }
        wake.signal()
    }

    /// Asks for `table` sorted for `ordering` on the sort queue; the result comes back in
    /// `State.sorted` with a `notify()`. Requests made while one runs replace each other.
    func requestSort(_ table: PreparedTable, for ordering: Ordering) {
        let start = state.withLock { s -> Bool in
            s.sortRequest = (table, ordering)
            defer { s.sortRunning = true }
            return !s.sortRunning
        }
        guard start else { return }
        sortQueue.async { [self] in
            while true {
                let request = state.withLock { s -> (table: PreparedTable, ordering: Ordering)? in
                    defer { s.sortRequest = nil }
                    if s.sortRequest == nil { s.sortRunning = false }
                    return s.sortRequest
                }
                guard let request else { return }
                let sorted = request.table.reordered(for: request.ordering, settings: settings)
                let replaced = state.withLock { s -> PreparedTable? in
                    defer { s.sorted = sorted }
                    return s.sorted
                }
                _ = replaced
                notify()
            }
        }
    }
}

/// The UI thread's side of the live view, without a terminal: the view model, and the
/// hand-over with the collector thread and the sort job. Keys go straight to the model (a filter
/// key re-filters at once, in one pass over small facts); everything that costs more than that
/// (collection, tracking, sorting, freeing old tables) happens on other threads, and the UI
/// thread only takes finished results. So a key is answered while a refresh or a sort runs.
public struct LiveSession {
    public var model: ViewModel
    public let control: CollectorControl
    /// The newest data received, sorted or not for what is wanted now.
    var newest = PreparedTable()
    /// The last re-sort asked for: data generation and ordering.
    var requested: (generation: Int, ordering: Ordering)?
    var retired: [PreparedTable] = []
    /// Closes a socket for `K` (SOCK_DESTROY) and says how it went; nil where closing is not
    /// available. Called on the UI thread: one netlink request, answered at once.
    let kill: (@Sendable (SocketRecord) -> String)?

    public init(settings: WatchSettings, notify: @escaping @Sendable () -> Void,
                hostName: (@Sendable (IPAddress) -> String?)? = nil, kill: (@Sendable (SocketRecord) -> String)? = nil) {
        model = ViewModel(settings: settings)
        model.hostName = hostName
        self.kill = kill
        model.reordersInline = false
        control = CollectorControl(settings: settings, ordering: model.ordering, filter: model.viewFilter, notify: notify)
    }

    /// Applies one key.
    public mutating func handle(_ key: Key) {
        let before = model.table
        model.handle(key)
        if let r = model.takeKillRequest() {
            model.status = kill?(r) ?? "closing sockets is not available here"
        }
        retireIfReplaced(before)
    }

    /// Takes what the other threads produced, tells them what the UI now wants, and asks for a
    /// re-sort when the shown table is not sorted as wanted. Returns whether anything changed
    /// that needs a redraw.
    public mutating func poll() -> Bool {
        var dirty = false
        let (paused, interval, owners, names, ordering, filter) =
            (model.paused, model.interval, model.showOwners, model.showNames, model.ordering, model.viewFilter)
        let garbage = retired
        retired = []
        let (refresh, sorted, changed) = control.state.withLock { s -> (Refresh?, PreparedTable?, Bool) in
            let changed = s.paused != paused || s.interval != interval || s.owners != owners || s.names != names
            s.paused = paused; s.interval = interval; s.owners = owners; s.names = names
            s.ordering = ordering; s.filter = filter
            s.retired += garbage
            defer { s.latest = nil; s.sorted = nil }
            return (s.latest, s.sorted, changed)
        }
        if changed { control.wake.signal() }
        if let sorted {
            ingest(sorted, filtered: nil)
            dirty = true
        }
        if let refresh, !model.paused {
            if let t = refresh.table {
                retired.append(newest)
                newest = t
                if t.ordering == model.ordering { ingest(t, filtered: refresh.filtered) }
            }
            if let e = refresh.error { model.status = "refresh failed: " + e }
            if let notice = refresh.notices.first { model.status = notice }
            model.lastRefreshCost = (refresh.cpuSeconds, refresh.count)
            dirty = true
        }
        let want = model.ordering
        let behind = newest.generation > model.table.generation || model.table.ordering != want
        if behind && newest.ordering != want && (requested?.generation != newest.generation || requested?.ordering != want) {
            requested = (newest.generation, want)
            control.requestSort(newest, for: want)
        }
        return dirty
    }

    /// Whether the rows shown are sorted as the user asked (false while a re-sort runs).
    var isSorted: Bool { model.needsReorder == nil }

    mutating func ingest(_ t: PreparedTable, filtered: FilteredRows?) {
        let before = model.table
        model.ingest(t, filtered: filtered)
        retireIfReplaced(before)
    }

    mutating func retireIfReplaced(_ before: PreparedTable) {
        if before.generation != model.table.generation || before.ordering != model.table.ordering {
            retired.append(before)
        }
    }
}
