import CCursesShim
import Glibc
import SockscopeAnalysis
import SockscopeModel
import SockscopeSystem
import SockscopeTUI
import Synchronization

/// The live view's main loop: a collector thread produces refreshes; this thread waits for keys,
/// signals and refreshes, updates the view model and draws. The terminal is restored on every way out.
public enum WatchLoop {
    /// Runs until `q`, a terminating signal, or the terminal going away, then restores the
    /// terminal and ends the process with the exit status: 0 on `q`, 128+signal for
    /// SIGINT/SIGTERM/SIGHUP, 129 when the terminal hangs up. Throws (having restored
    /// whatever it changed) only when the terminal or the collector cannot be set up.
    /// `collect` runs on the collector thread; its argument says whether owners are wanted
    /// (the owner column is on).
    /// `hostName` answers the address columns when names are on; `kill` carries out a confirmed `K`.
    public static func run(settings: WatchSettings, style: TerminalStyle, closedRetention: Double = 5,
                           hostName: (@Sendable (IPAddress) -> String?)? = nil,
                           kill: (@Sendable (SocketRecord) -> String)? = nil,
                           collect: @escaping @Sendable (_ owners: Bool, _ names: Bool) throws -> Snapshot) throws(TerminalError) -> Never {
        // Handlers first: ncurses then leaves SIGINT, SIGTSTP and SIGWINCH to us.
        let signalFD: Int32
        do {
            signalFD = try SignalPipe.install([SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP, SIGCONT])
        } catch {
            throw TerminalError("cannot set up signal handling: \(error)")
        }
        let screen: CursesScreen
        do {
            screen = try CursesScreen(style: style)
        } catch {
            SignalPipe.uninstall()
            throw error
        }

        var session = LiveSession(settings: settings, threads: PosixLiveThreads(), notify: { SignalPipe.wake() },
                                  hostName: hostName, kill: kill)
        let control = session.control
        let retention = closedRetention
        // The collector runs on a thread of its own until the process ends (see below).
        let collector: JoinedThread
        do {
            collector = try JoinedThread {
                control.run(retention: retention, cpuMicroseconds: { sockscope_thread_cpu_us() }, collect: collect)
            }
        } catch {
            screen.end()
            SignalPipe.uninstall()
            throw TerminalError("cannot start the collector: \(error)")
        }
        let status = loop(screen: screen, session: &session, signalFD: signalFD)
        // The way out, whatever the cause: the terminal first, then the process ends here.
        // Stopping the collector would wait for the refresh it is in (a second with owners at
        // 50k sockets), and returning would free the view model, the tracker and the tables
        // (100k tracked sockets, hundreds of milliseconds): together 1-2 s between `q` and the
        // prompt. No other thread writes to the terminal (the collector, sort and name threads
        // only hand values over and wake the UI through a pipe), so nothing can follow the
        // restored modes onto it. Crashes restore the terminal in the fatal-signal handler.
        screen.end()
        fflush(nil)
        withExtendedLifetime((collector, session)) { _exit(status) }
    }

    /// The UI thread's loop: keys, signals and refreshes until a way out, whose exit status it returns.
    static func loop(screen: CursesScreen, session: inout LiveSession, signalFD: Int32) -> Int32 {
        var (rows, cols) = screen.size
        var dirty = true
        var idleReads = 0
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            if dirty {
                screen.draw(session.model.render(width: cols, height: rows))
                dirty = false
            }
            let ready = sockscope_wait(0, signalFD, 1000)
            if ready & 4 != 0 {
                let n = buffer.withUnsafeMutableBufferPointer { sockscope_drain(signalFD, $0.baseAddress, Int32($0.count)) }
                for b in buffer.prefix(Int(n)) {
                    switch Int32(b) {
                    case 0: dirty = true  // a refresh, a sort or host names are ready
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
                        session.handle(key)
                        dirty = true
                    }
                    if session.model.quitRequested { return 0 }
                }
                // Readable yet nothing to read is end of input or a read error: a gone terminal,
                // which would otherwise spin here.
                idleReads = gotAny ? 0 : idleReads + 1
                if idleReads >= 20 { return 129 }
            } else if ready & 2 != 0 {
                return 129  // hang-up with nothing left to read
            }
            // Only hand-overs here: the collection, tracking, sorting and freeing run elsewhere.
            if session.poll() { dirty = true }
        }
    }
}

/// The live session's threads: POSIX threads and a semaphore on a pthread condition, so the
/// live view needs no libdispatch (which traps when it cannot get a descriptor).
struct PosixLiveThreads: LiveThreads {
    let semaphore = Semaphore()

    func sleep(upTo seconds: Double) { semaphore.wait(seconds: seconds) }
    func wake() { semaphore.signal() }
    func start(_ body: @escaping @Sendable () -> Void) -> Bool { Threads.start(body) }
}
