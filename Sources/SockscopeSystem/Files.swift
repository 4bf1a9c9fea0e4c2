import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// How much of a file sockscope will read: files from procfs and /etc are untrusted (a test tree,
/// a bind mount, a symlink to `/dev/zero` under `--proc-root`), so every read has a ceiling, and
/// a file that goes past it is an error rather than a silently cut read.
public struct ReadLimit: Sendable, Hashable {
    /// At most this many bytes.
    public var bytes: Int
    /// What the buffer starts at (procfs files report size 0, so fstat cannot size it).
    public var sizeHint: Int

    public init(bytes: Int, sizeHint: Int = 4096) {
        self.bytes = bytes; self.sizeHint = min(sizeHint, bytes)
    }

    /// `net/sockstat`, `sockstat6`, `PID/stat`, `PID/comm`, `ip_local_port_range`: a few hundred bytes.
    public static let small = ReadLimit(bytes: 16 << 10, sizeHint: 1024)
    /// `PID/cgroup`: one line per v1 hierarchy, each path at most PATH_MAX.
    public static let cgroup = ReadLimit(bytes: 128 << 10, sizeHint: 512)
    /// `PID/status`: its `Groups:` line alone may list 65,536 gids.
    public static let status = ReadLimit(bytes: 1 << 20, sizeHint: 2048)
    /// `net/snmp`, `net/netstat`: a few KiB of counters, growing slowly with kernel versions.
    public static let counters = ReadLimit(bytes: 1 << 20, sizeHint: 8192)
    /// `/etc/services`: about 12 KiB on Debian; a generous ceiling for hand-extended ones.
    public static let services = ReadLimit(bytes: 16 << 20, sizeHint: 64 << 10)

    /// A socket table (`net/tcp`, `udp6`…): this many lines at most. Four million sockets is more
    /// than the socket estimate ever sizes for; an endless or absurd file stops here.
    public static let maxTableLines = 4_000_000
    /// The longest line of any socket table (`tcp6`: 178 bytes) rounded up, times the line limit.
    public static let socketTable = ReadLimit(bytes: maxTableLines * 256, sizeHint: 1 << 20)
}

/// Whole-file reads for /proc and /etc, where short reads are normal.
public enum Files {
    /// Reads a regular file to EOF with a read(2) loop. Foundation's readers stop early on /proc
    /// files (whose size reads as 0 and which arrive a page at a time), so every /proc read goes here.
    ///
    /// A FIFO, device or socket at `path` is an error naming it (it is opened with `O_NONBLOCK`,
    /// so a FIFO without a writer cannot hang the open), and so is a file longer than `limit`.
    public static func read(_ path: String, limit: ReadLimit) throws(SystemError) -> [UInt8] {
        let fd = try openRegular(path)
        defer { close(fd) }
        // A file already longer than the limit is refused before reading it: a 2 GiB dump file was
        // read to the 1 GiB limit first (1 GiB resident, then the error). procfs files say size 0.
        var st = stat()
        if fstat(fd, &st) == 0 && Int64(st.st_size) > Int64(limit.bytes) {
            throw SystemError("read", path: path, errno: .fileTooLarge, detail: "longer than \(limit.bytes) bytes")
        }
        return try readAll(fd: fd, path: path, limit: limit)
    }

    /// Opens `path` for reading, refusing anything but a regular file (see `read(_:limit:)`).
    public static func openRegular(_ path: String) throws(SystemError) -> Int32 {
        let fd = try retryingEINTR("open", path: path) { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        do throws(SystemError) {
            try requireRegular(fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Throws unless `fd` is a regular file: procfs and sysfs files are, and nsfs files too.
    static func requireRegular(_ fd: Int32, path: String) throws(SystemError) {
        var st = stat()
        _ = try retryingEINTR("stat", path: path) { fstat(fd, &st) }
        let type = st.st_mode & S_IFMT
        guard type != S_IFREG else { return }
        let what: String
        switch type {
        case S_IFIFO: what = "a FIFO"
        case S_IFCHR: what = "a character device"
        case S_IFBLK: what = "a block device"
        case S_IFSOCK: what = "a socket"
        case S_IFDIR: what = "a directory"
        default: what = "not a plain file"
        }
        throw SystemError("open", path: path, errno: .invalidArgument, detail: "not a regular file (\(what))")
    }

    /// Reads an open file to EOF (the descriptor stays open). More than `limit.bytes` is an error.
    public static func readAll(fd: Int32, path: String, limit: ReadLimit) throws(SystemError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(min(limit.sizeHint, limit.bytes + 1), 256))
        var used = 0
        while true {
            if used == out.count {
                // One byte past the limit tells a file of exactly `limit` bytes from a longer one.
                if out.count > limit.bytes {
                    throw SystemError("read", path: path, errno: .fileTooLarge,
                                      detail: "longer than \(limit.bytes) bytes")
                }
                out.append(contentsOf: repeatElement(0, count: min(out.count, limit.bytes + 1 - out.count)))
            }
            let n = try retryingEINTR("read", path: path) {
                out.withUnsafeMutableBytes { buf in Glibc.read(fd, buf.baseAddress! + used, buf.count - used) }
            }
            if n == 0 { break }
            used += n
        }
        out.removeSubrange(used...)
        return out
    }

    /// `read(_:limit:)` with a byte ceiling given as a number (1 MiB unless said).
    public static func readAll(_ path: String, sizeHint: Int = 64 * 1024, limit: Int = 1 << 20) throws(SystemError) -> [UInt8] {
        try read(path, limit: ReadLimit(bytes: limit, sizeHint: max(sizeHint, 256)))
    }

    /// Creates or truncates a file and writes `bytes` to it; a failed write or close is an error.
    public static func writeAll(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
        let fd = try retryingEINTR("open", path: path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        do {
            try FileOutput(fd: fd).write(bytes)
        } catch {
            close(fd)
            let e: Errno = if case .failed(let e) = error { e } else { .brokenPipe }
            throw SystemError("write", path: path, errno: e)
        }
        if close(fd) != 0 { throw SystemError("close", path: path, errno: Errno(rawValue: errno)) }
    }

    /// True when the path exists (any type).
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }
}

/// Network interfaces by index.
public enum Interfaces {
    /// The interface name for an index, decoded as UTF-8 (invalid sequences as U+FFFD); nil if none.
    public static func name(index: UInt32) -> String? {
        rawName(index: index).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The interface name's bytes for an index (`if_indextoname`), nil if there is none. Bytes, not
    /// a `String`: a name is whatever the creator chose, not necessarily UTF-8.
    public static func rawName(index: UInt32) -> [UInt8]? {
        var buf = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(index, &buf) != nil else { return nil }
        return buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    }
}

/// A regular file opened for reading in chunks (for /proc tables too large to hold whole comfortably).
public final class ReadOnlyFile {
    public let path: String
    private let fd: Int32

    /// Opens `path`, refusing a FIFO, device or socket (see `Files.read(_:limit:)`).
    public init(_ path: String) throws(SystemError) {
        self.path = path
        fd = try Files.openRegular(path)
    }

    deinit { close(fd) }

    /// Reads up to `buffer.count` bytes; 0 at end of file. EINTR is retried.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try retryingEINTR("read", path: path) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }
}
