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

    /// True when the descriptor is a terminal.
    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
}
