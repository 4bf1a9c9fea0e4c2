import CSockShim
import Glibc
import SystemPackage

/// The type of a directory entry as `readdir` reports it (`d_type`); `.unknown` on file systems
/// that do not fill it in, where a caller that cares must `stat`.
public enum DirectoryEntryType: Sendable, Equatable {
    case directory, symbolicLink, regular, other, unknown

    init(_ t: UInt8) {
        switch Int32(t) {
        case Int32(DT_DIR): self = .directory
        case Int32(DT_LNK): self = .symbolicLink
        case Int32(DT_REG): self = .regular
        case Int32(DT_UNKNOWN): self = .unknown
        default: self = .other
        }
    }
}

/// An open directory: its entries, and reads relative to it (`openat`, `readlinkat`), so that a
/// scan of `/proc/PID/fd` resolves each name against the directory it listed, not a path that may
/// by then name another process.
///
/// Not `Sendable`: one thread owns it from open to close (it wraps a `DIR *` with a read position).
public final class Directory {
    private let stream: OpaquePointer
    /// The path it was opened with, for error messages.
    public let path: String

    /// The underlying file descriptor (owned by the directory: do not close it).
    public var fd: Int32 { dirfd(stream) }

    /// Opens `path` as a directory (`O_DIRECTORY`, close-on-exec).
    public convenience init(path: String) throws(SystemError) {
        let fd = try retryingEINTR("open", path: path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        try self.init(adopting: fd, path: path)
    }

    /// Opens `name` relative to `parent` (`openat`): `name` may be a relative path such as `"123/fd"`.
    public convenience init(at parent: Directory, _ name: String) throws(SystemError) {
        let full = parent.path + "/" + name
        let fd = try retryingEINTR("open", path: full) { openat(parent.fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        try self.init(adopting: fd, path: full)
    }

    private init(adopting fd: Int32, path: String) throws(SystemError) {
        guard let s = fdopendir(fd) else {
            let e = currentErrno.rawValue
            close(fd)
            throw SystemError("fdopendir", path: path, errno: Errno(rawValue: e))
        }
        stream = s
        self.path = path
    }

    deinit { closedir(stream) }

    /// Calls `body` with each entry's name (the bytes, without the NUL, valid only during the
    /// call) and type, skipping `.` and `..`, in the order the file system returns them.
    ///
    /// Throws only when reading the directory itself fails (e.g. `ENOENT` when a /proc process
    /// exits mid-listing); entries seen before the failure have already been passed to `body`.
    public func forEachEntry(_ body: (UnsafeBufferPointer<UInt8>, DirectoryEntryType) -> Void) throws(SystemError) {
        rewinddir(stream)
        while true {
            Glibc.errno = 0
            guard let ent = readdir(stream) else {
                let e = currentErrno.rawValue
                if e == 0 { return }
                if e == EINTR { continue }
                throw SystemError("readdir", path: path, errno: Errno(rawValue: e))
            }
            // d_name is a fixed-size char array inside the dirent that readdir owns: read it in place.
            guard let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name) else { return }
            let name = (UnsafeRawPointer(ent) + offset).assumingMemoryBound(to: UInt8.self)
            let len = strlen(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self))
            if (len == 1 && name[0] == 0x2E) || (len == 2 && name[0] == 0x2E && name[1] == 0x2E) { continue }
            body(UnsafeBufferPointer(start: name, count: len), DirectoryEntryType(ent.pointee.d_type))
        }
    }

    /// Every entry's name as a `String` (lossily decoded), skipping `.` and `..`.
    public func entryNames() throws(SystemError) -> [String] {
        var out: [String] = []
        try forEachEntry { name, _ in out.append(String(decoding: name, as: UTF8.self)) }
        return out
    }

    /// Reads the target of the symbolic link `name` relative to this directory (`readlinkat`),
    /// into `buffer`; returns the target's length. A target longer than the buffer is cut to
    /// the buffer's size (the kernel truncates silently): callers needing whole targets pass
    /// a buffer of `PATH_MAX` bytes.
    ///
    /// - Parameter name: a NUL-terminated name.
    public func readLink(_ name: UnsafePointer<CChar>, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let n = readlinkat(fd, name, base.assumingMemoryBound(to: CChar.self), buffer.count)
        if n < 0 {
            throw SystemError("readlink", path: path + "/" + String(cString: name), errno: currentErrno)
        }
        return n
    }

    /// The target of the symbolic link `name` relative to this directory, whole (up to `PATH_MAX`).
    public func readLink(_ name: String) throws(SystemError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let result: Result<Int, SystemError> = name.withCString { cName in
            buf.withUnsafeMutableBytes { raw in
                do throws(SystemError) { return .success(try readLink(cName, into: raw)) } catch { return .failure(error) }
            }
        }
        let n = try result.get()
        return Array(buf.prefix(n))
    }

    /// Reads the whole file `name` relative to this directory (see `Files.readAll`).
    public func readFile(_ name: String, sizeHint: Int = 4096, limit: Int = 1 << 20) throws(SystemError) -> [UInt8] {
        let fd = try retryingEINTR("open", path: path + "/" + name) { openat(self.fd, name, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try Files.readAll(fd: fd, path: path + "/" + name, sizeHint: sizeHint, limit: limit)
    }

    /// The owner uid of `name` relative to this directory (`fstatat`, not following links).
    public func ownerUID(of name: String) throws(SystemError) -> UInt32 {
        var st = stat()
        _ = try retryingEINTR("stat", path: path + "/" + name) { fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) }
        return st.st_uid
    }
}

extension Files {
    /// Reads an open file to EOF (the descriptor stays open). The loop behind `readAll(_:)`.
    public static func readAll(fd: Int32, path: String, sizeHint: Int = 4096, limit: Int = 1 << 30) throws(SystemError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(sizeHint, 256))
        var used = 0
        while true {
            if used == out.count {
                if out.count >= limit { break }
                out.append(contentsOf: repeatElement(0, count: out.count))
            }
            let n = try retryingEINTR("read", path: path) {
                out.withUnsafeMutableBytes { buf in read(fd, buf.baseAddress! + used, buf.count - used) }
            }
            if n == 0 { break }
            used += n
        }
        out.removeSubrange(used...)
        return out
    }
}

/// Who this process runs as.
public enum Identity {
    /// `geteuid()`.
    public static var effectiveUID: UInt32 { geteuid() }
}

/// Processes and threads.
public enum Tasks {
    /// Whether two tasks share one file descriptor table (`kcmp(KCMP_FILES)`): true when they do,
    /// false when they do not, nil when the kernel cannot say (no kcmp, no permission, task gone).
    public static func shareFileTable(_ a: Int32, _ b: Int32) -> Bool? {
        let r = sockscope_kcmp_files(a, b)
        return r < 0 ? nil : r == 0
    }
}

/// User names by uid (`getpwuid_r`), each uid looked up once: NSS may be slow (LDAP, sssd).
///
/// Not `Sendable`: give each thread its own.
public final class UserNames {
    private var cache: [UInt32: String?] = [:]

    public init() {}

    /// The user name for `uid`, or nil when there is no such user (or NSS fails).
    public func name(of uid: UInt32) -> String? {
        if let hit = cache[uid] { return hit }
        let found = Self.lookup(uid)
        cache[uid] = .some(found)
        return found
    }

    static func lookup(_ uid: UInt32) -> String? {
        var size = max(Int(sysconf(Int32(_SC_GETPW_R_SIZE_MAX))), 1024)
        while size <= 1 << 20 {
            var pw = passwd()
            var result: UnsafeMutablePointer<passwd>? = nil
            var buf = [CChar](repeating: 0, count: size)
            // pw_name points into buf: copy it out before buf's pointer goes out of scope.
            let (rc, name): (Int32, String?) = buf.withUnsafeMutableBufferPointer { b in
                guard let base = b.baseAddress else { return (ERANGE, nil) }
                let rc = getpwuid_r(uid_t(uid), &pw, base, b.count, &result)
                guard rc == 0, result != nil, let n = pw.pw_name else { return (rc, nil) }
                return (rc, String(cString: n))
            }
            if rc == ERANGE { size *= 2; continue }
            if rc == EINTR { continue }
            return name
        }
        return nil
    }
}
