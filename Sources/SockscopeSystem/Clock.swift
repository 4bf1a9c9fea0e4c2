import Glibc
import Synchronization

/// Time sources for live modes.
public enum Clock {
    /// Seconds on a monotonic clock: for intervals and rates, immune to wall-clock steps.
    public static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Seconds since the epoch (wall clock), for timestamps.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// RFC 3339 in UTC with milliseconds: `2026-11-21T17:45:01.123Z`.
    public static func rfc3339(_ epochSeconds: Double) -> String {
        var t = time_t(epochSeconds.rounded(.down))
        var ms = Int((epochSeconds - Double(t)) * 1000)
        if ms >= 1000 { ms = 999 }
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T" +
            "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }

    /// Sleeps up to `seconds`, waking early (returning false) when `keepGoing` turns false.
    public static func sleep(_ seconds: Double, while keepGoing: () -> Bool) -> Bool {
        let end = monotonic() + seconds
        while true {
            if !keepGoing() { return false }
            let left = end - monotonic()
            if left <= 0 { return true }
            var ts = timespec(tv_sec: 0, tv_nsec: Int(min(left, 0.05) * 1e9))
            nanosleep(&ts, nil)
        }
    }
}

/// SIGINT and SIGTERM turned into a flag that long-running output modes check between refreshes,
/// so they end cleanly (status 0, output flushed) instead of dying mid-line.
public enum StopSignals {
    /// Installs the handlers. The handler only stores to a lock-free flag: async-signal-safe.
    public static func install() {
        stopRequested.store(0, ordering: .relaxed)
        signal(SIGINT, stopHandler)
        signal(SIGTERM, stopHandler)
        // A blocked mask is inherited across exec (a supervisor, a test runner's thread): unblock
        // these two, or the handler would never run and Ctrl-C would not end the stream.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// True once SIGINT or SIGTERM arrived.
    public static var requested: Bool { stopRequested.load(ordering: .relaxed) != 0 }
}

/// Lock-free, so the handler's store is async-signal-safe. `install()` touches it first, so the
/// global's one-time initialisation never runs inside the handler.
private let stopRequested = Atomic<Int>(0)

private let stopHandler: @convention(c) (Int32) -> Void = { _ in stopRequested.store(1, ordering: .relaxed) }
