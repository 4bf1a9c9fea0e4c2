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

/// SIGINT and SIGTERM for the streams, through the process's signal pipe: long-running output
/// modes wait on it between refreshes, so they end cleanly (status 0, output flushed) instead of
/// dying mid-line, and a signal ends the wait at once.
public enum StopSignals {
    /// Installs the handlers (on the signal pipe). Without a pipe (no descriptors left), the
    /// default dispositions stay: Ctrl-C still ends the program, only less politely.
    public static func install() {
        stopRequested.store(false, ordering: .relaxed)
        if let fd = try? SignalPipe.install([SIGINT, SIGTERM]) { pipe.store(fd, ordering: .relaxed) }
    }

    /// True once SIGINT or SIGTERM arrived.
    public static var requested: Bool {
        if stopRequested.load(ordering: .relaxed) { return true }
        let fd = pipe.load(ordering: .relaxed)
        if fd >= 0 && SignalPipe.drain(fd).contains(where: { $0 != 0 }) { stopRequested.store(true, ordering: .relaxed) }
        return stopRequested.load(ordering: .relaxed)
    }

    /// Sleeps up to `seconds`, returning false at once when a stop signal arrives (or already had).
    public static func sleep(_ seconds: Double) -> Bool {
        let fd = pipe.load(ordering: .relaxed)
        guard fd >= 0 else { return Clock.sleep(seconds, while: { true }) }
        let end = Clock.monotonic() + seconds
        while !requested {
            let left = end - Clock.monotonic()
            if left <= 0 { return true }
            if SignalPipe.wait(fd, milliseconds: Int32(min(left, 3600) * 1000) + 1).contains(where: { $0 != 0 }) {
                stopRequested.store(true, ordering: .relaxed)
            }
        }
        return false
    }
}

private let stopRequested = Atomic<Bool>(false)
private let pipe = Atomic<Int32>(-1)
