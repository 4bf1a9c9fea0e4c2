import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads for /proc and /etc, where short reads are normal.
public enum Files {
    /// Reads a file to EOF with a read(2) loop. Foundation's readers stop early on /proc files
    /// (whose size reads as 0 and which arrive a page at a time), so every /proc read goes here.
    ///
    /// - Parameter limit: stop reading past this many bytes (a guard against endless files).
    public static func readAll(_ path: String, sizeHint: Int = 64 * 1024, limit: Int = 1 << 30) throws(SystemError) -> [UInt8] {
        let fd = try retryingEINTR("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try readAll(fd: fd, path: path, sizeHint: max(sizeHint, 4096), limit: limit)
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
    /// The interface name for an index (`if_indextoname`), nil if there is none.
    public static func name(index: UInt32) -> String? {
        var buf = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(index, &buf) != nil else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A file opened for reading in chunks (for /proc tables too large to hold whole comfortably).
public final class ReadOnlyFile {
    public let path: String
    private let fd: Int32

    public init(_ path: String) throws(SystemError) {
        self.path = path
        fd = try retryingEINTR("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
    }

    deinit { close(fd) }

    /// Reads up to `buffer.count` bytes; 0 at end of file. EINTR is retried.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try retryingEINTR("read", path: path) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }
}
