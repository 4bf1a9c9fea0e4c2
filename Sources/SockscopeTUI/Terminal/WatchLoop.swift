import CCursesShim
import Dispatch
import SockscopeCollect
import SockscopeModel
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One refresh's result, handed from the collector thread to the UI thread.
struct Refresh: Sendable {
    var sockets: [TrackedSocket]
    var source: SourceKind?
    var notices: [String]
    var error: String?
    /// The tracker's clock at the snapshot.
    var time: Double
    /// CPU the collector thread spent on collection and tracking, and the socket count.
    var cpuSeconds: Double
    var count: Int
}

/// What the UI and collector threads share. Every access goes through the mutex; the semaphore
/// only wakes the collector early (interval change, resume, quit).
final class CollectorControl: Sendable {
    struct State {
        var interval: Double
        var paused = false
        /// Whether to scan /proc for owners (the owner column is shown).
        var owners: Bool
        var stop = false
        var latest: Refresh?
    }

    let state: Mutex<State>
    let wake = DispatchSemaphore(value: 0)

    init(interval: Double, owners: Bool) { state = Mutex(State(interval: interval, owners: owners)) }

    /// The collector's loop: collect, track, publish, wake the UI, sleep; until told to stop.
    func run(retention: Double, collect: @Sendable (_ owners: Bool) throws -> Snapshot) {
        var tracker = ChangeTracker(closedRetention: retention)
        let clock = ContinuousClock()
        let start = clock.now
        func seconds() -> Double {
            let d = start.duration(to: clock.now).components
            return Double(d.seconds) + Double(d.attoseconds) * 1e-18
        }
        var noticesShown = false
        while true {
            let (stop, paused, interval, owners) = state.withLock { ($0.stop, $0.paused, $0.interval, $0.owners) }
            if stop { return }
            if paused {
                _ = wake.wait(timeout: .now() + 1)
                continue
            }
            let began = seconds()
            let cpu0 = sockscope_thread_cpu_us()
            var refresh: Refresh
            do {
                let snapshot = try collect(owners)
                let time = seconds()
                _ = tracker.update(snapshot, at: time)
                refresh = Refresh(sockets: tracker.sockets, source: snapshot.source,
                                  notices: noticesShown ? [] : snapshot.notices, error: nil, time: time,
                                  cpuSeconds: 0, count: snapshot.records.count)
                noticesShown = noticesShown || !snapshot.notices.isEmpty
            } catch {
                refresh = Refresh(sockets: tracker.sockets, source: nil, notices: [], error: "\(error)",
                                  time: tracker.lastUpdate ?? seconds(), cpuSeconds: 0, count: 0)
            }
            let cpu1 = sockscope_thread_cpu_us()
            refresh.cpuSeconds = cpu0 >= 0 && cpu1 >= cpu0 ? Double(cpu1 - cpu0) / 1e6 : 0
            let published = refresh
            state.withLock { $0.latest = published }
            sockscope_wake()
            let remaining = began + interval - seconds()
            if remaining > 0 { _ = wake.wait(timeout: .now() + remaining) }
        }
    }
}

/// The live view's main loop: a collector thread produces refreshes; this thread waits for keys,
/// signals and refreshes, updates the view model and draws. The terminal is restored on every way out.
public enum WatchLoop {
    /// Runs until `q`, a terminating signal, or the terminal going away. `collect` runs on the
    /// collector thread; its argument says whether owners are wanted (the owner column is on).
    /// Returns the exit status:
    /// 0 on `q`, 128+signal for SIGINT/SIGTERM/SIGHUP, 129 when the terminal hangs up, 1 on errors.
    public static func run(settings: WatchSettings, style: TerminalStyle, closedRetention: Double = 5,
                           collect: @escaping @Sendable (_ owners: Bool) throws -> Snapshot) throws(TerminalError) -> Int32 {
        // Handlers first: ncurses then leaves SIGINT, SIGTSTP and SIGWINCH to us.
        let signalFD = sockscope_signals_install()
        guard signalFD >= 0 else { throw TerminalError("cannot set up signal handling") }
        defer { sockscope_signals_uninstall() }
        let screen = try CursesScreen(style: style)
        defer { screen.end() }

        let control = CollectorControl(interval: settings.interval, owners: settings.showOwners)
        let retention = closedRetention
        DispatchQueue(label: "sockscope.collector").async {
            control.run(retention: retention, collect: collect)
        }
        defer {
            control.state.withLock { $0.stop = true }
            control.wake.signal()
        }

        var model = ViewModel(settings: settings)
        var (rows, cols) = screen.size
        var dirty = true
        var idleReads = 0
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            if dirty {
                screen.draw(model.render(width: cols, height: rows))
                dirty = false
            }
            let ready = sockscope_wait(0, signalFD, 1000)
            if ready & 4 != 0 {
                let n = buffer.withUnsafeMutableBufferPointer { sockscope_drain(signalFD, $0.baseAddress, Int32($0.count)) }
                for b in buffer.prefix(Int(n)) {
                    switch Int32(b) {
                    case 0: break  // a refresh is ready
                    case SIGINT, SIGTERM, SIGHUP: return 128 + Int32(b)
                    case SIGWINCH:
                        screen.resize()
                        (rows, cols) = screen.size
                        dirty = true
                    case SIGTSTP:
                        screen.suspend()
                        (rows, cols) = screen.size
                        dirty = true
                    case SIGCONT:
                        screen.repaint()
                        (rows, cols) = screen.size
                        dirty = true
                    default: break
                    }
                }
            }
            if ready & 1 != 0 {
                var gotAny = false
                while let key = screen.readKey() {
                    gotAny = true
                    if let key {
                        model.handle(key)
                        dirty = true
                    }
                    if model.quitRequested { return 0 }
                }
                // Readable yet nothing to read is end of input or a read error: a gone terminal,
                // which would otherwise spin here.
                idleReads = gotAny ? 0 : idleReads + 1
                if idleReads >= 20 { return 129 }
            } else if ready & 2 != 0 {
                return 129  // hang-up with nothing left to read
            }
            if let refresh = control.state.withLock({ s -> Refresh? in
                defer { s.latest = nil }
                return s.latest
            }) {
                if !model.paused {
                    if let source = refresh.source {
                        model.ingest(refresh.sockets, source: source, at: refresh.time)
                    }
                    if let e = refresh.error { model.status = "refresh failed: " + e }
                    if let notice = refresh.notices.first { model.status = notice }
                    model.lastRefreshCost = (refresh.cpuSeconds, refresh.count)
                    dirty = true
                }
            }
            let (paused, interval, owners) = (model.paused, model.interval, model.showOwners)
            let changed = control.state.withLock { s -> Bool in
                let changed = s.paused != paused || s.interval != interval || s.owners != owners
                s.paused = paused
                s.interval = interval
                s.owners = owners
                return changed
            }
            if changed { control.wake.signal() }
        }
    }
}
