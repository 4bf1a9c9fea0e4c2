import Glibc
import SystemPackage

/// Why writing output failed.
public enum OutputError: Error, Sendable, Equatable {
    /// The reader went away (EPIPE): a normal end for `sockscope … | head`.
    case closed
    /// Any other write failure (ENOSPC on `> /dev/full`, EIO, …): the output is incomplete.
    case failed(Errno)

    /// `write error: No space left on device`.
    public var message: String {
        switch self {
        case .closed: return "write error: Broken pipe"
        case .failed(let e): return "write error: \(SystemError.message(e))"
        }
    }
}

/// Unbuffered writes of whole byte buffers to a file descriptor (stdout by default).
public struct FileOutput: Sendable {
    public let fd: Int32

    public init(fd: Int32 = 1) { self.fd = fd }

    /// Writes every byte, retrying short writes (and EINTR, in `FileDescriptor.write`). A
    /// descriptor another process made non-blocking (a shared terminal or pipe) answers EAGAIN
    /// when full: then this waits in poll(2) until it drains, instead of spinning.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(OutputError) {
        let file = FileDescriptor(rawValue: fd)
        var off = 0
        while off < bytes.count {
            do {
                off += try file.write(UnsafeRawBufferPointer(rebasing: bytes[off...]))
            } catch let e as Errno where e == .resourceTemporarilyUnavailable {
                waitWritable(fd)
            } catch let e as Errno {
                throw e == .brokenPipe ? .closed : .failed(e)
            } catch {
                throw .failed(.ioError)
            }
        }
    }

    public func write(_ bytes: [UInt8]) throws(OutputError) {
        // withUnsafeBytes is not typed-throws: carry the error out by hand.
        let result: Result<Void, OutputError> = bytes.withUnsafeBytes { b in
            do throws(OutputError) { try write(b); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// True when nobody can read this output any more: the read end of a pipe was closed
    /// (POLLERR), a terminal hung up or a socket's peer went away (POLLHUP). Asked between the
    /// writes of a stream that may stay idle for long, so it ends when its reader does, not at
    /// its next write. A file or /dev/null never reports gone.
    public var readerGone: Bool {
        var p = pollfd(fd: fd, events: 0, revents: 0)
        guard poll(&p, 1, 0) == 1 else { return false }
        return p.revents & Int16(POLLERR | POLLHUP) != 0
    }

    /// Writes a line to stderr, ignoring failure (there is nowhere left to report it).
    public static func standardError(_ line: String) {
        var bytes = Array(line.utf8)
        if bytes.last != 0x0A { bytes.append(0x0A) }
        _ = try? FileOutput(fd: 2).write(bytes)
    }
}

/// Process-wide settings made once at start-up.
public enum ProcessSetup {
    /// Turns SIGPIPE into EPIPE on write, so a closed pipe ends output quietly instead of killing us mid-write.
    public static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }

    /// Makes a crash report non-interactive: call first thing in `main`.
    ///
    /// The Swift runtime catches fatal signals (SIGSEGV, SIGILL from a trap, SIGQUIT from Ctrl-\\…)
    /// and, when stdin and stdout are both terminals, defaults to an *interactive* backtracer that
    /// waits at a prompt for 30 s: in a script's terminal, or after the live view, a hung process.
    /// It reads `SWIFT_BACKTRACE` once, before `main`, so setting it now would be too late for
    /// this process: when it is unset and the runtime would go interactive, sockscope re-executes
    /// itself (the file `/proc/self/exe` names, same arguments; not the link itself, whose name
    /// `exe` would become the process name) with `SWIFT_BACKTRACE=interactive=no`; crashes
    /// then print a backtrace and exit. Only runs with a terminal on both ends pay for the second
    /// exec (a few milliseconds); pipes and scripts never do. A `SWIFT_BACKTRACE` the user set is
    /// left as it is, and when the exec fails sockscope goes on as it is.
    public static func makeCrashReportsNonInteractive() {
        guard getenv("SWIFT_BACKTRACE") == nil, isatty(0) == 1, isatty(1) == 1 else { return }
        var path = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &path, path.count - 1)
        guard n > 0, n < path.count - 1 else { return }
        guard setenv("SWIFT_BACKTRACE", "interactive=no", 1) == 0 else { return }
        _ = execv(path, CommandLine.unsafeArgv)
        unsetenv("SWIFT_BACKTRACE")
    }

    /// True when the descriptor is a terminal.
    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
}
