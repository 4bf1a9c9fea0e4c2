import CSockShim
import Glibc

/// The process's one signal mechanism: a self-pipe written by async-signal-safe handlers (one
/// byte, the signal number) and by `wake()` from other threads (a byte 0). The live view's loop
/// waits on it together with the terminal; the streams wait on it between refreshes. Installed
/// once; `uninstall()` restores the previous dispositions and closes it, so every thread that
/// may call `wake()` must have been stopped first.
public enum SignalPipe {
    /// Installs handlers for `signals` (at most 8) and returns the pipe's read end.
    public static func install(_ signals: [Int32]) throws(SystemError) -> Int32 {
        let fd = signals.withUnsafeBufferPointer { sockscope_signals_install($0.baseAddress, Int32($0.count)) }
        if fd < 0 { throw SystemError("signal pipe", errno: currentErrno) }
        return fd
    }

    public static func uninstall() { sockscope_signals_uninstall() }

    /// Wakes the waiting thread. Safe from any thread; a no-op once uninstalled.
    public static func wake() { sockscope_signals_wake() }

    /// Stops the process as SIGTSTP's default action would, and re-arms the handler once continued.
    public static func stopSelf() { sockscope_signals_stop_self() }

    /// What is in the pipe now, without waiting: signal numbers, and 0 for each wake-up.
    public static func drain(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 64)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return out }
            out += buf[0..<n]
        }
    }

    /// Waits up to `milliseconds` (-1: no limit) for the pipe to hold something, and drains it.
    public static func wait(_ fd: Int32, milliseconds: Int32) -> [UInt8] {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, milliseconds) <= 0 { return [] }
        return drain(fd)
    }
}

/// A thread of its own, joined by its owner (`join()`), for loops that block in system calls
/// (netlink receives, /proc reads) and must be known to have ended before what they use goes away.
///
/// `@unchecked Sendable`: the handle is written once in `init` and used only by the owner.
public final class JoinedThread: @unchecked Sendable {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private var thread = pthread_t()
    private var joined = false

    /// Starts `body` on a new thread.
    public init(_ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            Unmanaged<Body>.fromOpaque(arg).takeRetainedValue().run()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Body>.fromOpaque(box).release()
            throw SystemError("pthread_create", errno: .init(rawValue: rc))
        }
    }

    /// Waits for the body to return (once; later calls return at once).
    public func join() {
        if joined { return }
        joined = true
        pthread_join(thread, nil)
    }

    deinit { if !joined { pthread_detach(thread) } }
}
