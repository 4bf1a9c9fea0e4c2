import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A UNIX socket a test opened itself, closed when released.
public final class UnixTestSocket: @unchecked Sendable {
    public let fd: Int32

    init(fd: Int32) { self.fd = fd }
    deinit { Glibc.close(fd) }

    /// The socket's inode, as `fstat` reports it.
    public var inode: UInt64 {
        var st = stat()
        precondition(fstat(fd, &st) == 0)
        return UInt64(st.st_ino)
    }
}

/// Opens UNIX sockets: bound to a path or an abstract name (any bytes), or unnamed; throws rather than traps.
public enum UnixSockets {
    public enum Kind: Int32, Sendable { case stream = 1, dgram = 2, seqpacket = 5 }

    /// A name to bind: `.path` bytes (no NUL) or `.abstract` bytes (the leading NUL is added).
    public enum Name: Sendable { case path([UInt8]), abstract([UInt8]) }

    static func check(_ rc: Int32, _ what: String) throws {
        if rc < 0 { throw SocketTestError(description: "\(what): \(String(cString: strerror(errno)))") }
    }

    public static func make(_ kind: Kind) throws -> UnixTestSocket {
        let fd = socket(AF_UNIX, kind.rawValue | Int32(SOCK_CLOEXEC.rawValue), 0)
        try check(fd, "socket(AF_UNIX)")
        return UnixTestSocket(fd: fd)
    }

    static func withAddress<T>(_ name: Name, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes: [UInt8]
        switch name {
        case .path(let p): bytes = p + [0]
        case .abstract(let n): bytes = [0] + n
        }
        precondition(bytes.count <= MemoryLayout.size(ofValue: a.sun_path), "name too long for sun_path")
        withUnsafeMutableBytes(of: &a.sun_path) { dst in for (i, b) in bytes.enumerated() { dst[i] = b } }
        // An abstract name's length is exact (no terminator); a path's includes its NUL.
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        return withUnsafePointer(to: &a) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, len) } }
    }

    public static func bound(_ kind: Kind, _ name: Name) throws -> UnixTestSocket {
        let s = try make(kind)
        try check(withAddress(name) { Glibc.bind(s.fd, $0, $1) }, "bind(AF_UNIX)")
        return s
    }

    public static func listener(_ kind: Kind = .stream, _ name: Name, backlog: Int32 = 16) throws -> UnixTestSocket {
        let s = try bound(kind, name)
        try check(Glibc.listen(s.fd, backlog), "listen")
        return s
    }

    /// Connects `s` (or a new unnamed socket of `kind`) to `name`; non-blocking when `nonBlocking`
    /// (a full accept queue then fails with EAGAIN instead of waiting).
    public static func connect(_ kind: Kind, to name: Name, from s: UnixTestSocket? = nil, nonBlocking: Bool = false) throws -> UnixTestSocket {
        let c = try s ?? make(kind)
        if nonBlocking { _ = fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK) }
        try check(withAddress(name) { Glibc.connect(c.fd, $0, $1) }, "connect(AF_UNIX)")
        return c
    }

    public static func accept(_ l: UnixTestSocket) throws -> UnixTestSocket {
        let fd = Glibc.accept(l.fd, nil, nil)
        try check(fd, "accept")
        return UnixTestSocket(fd: fd)
    }

    public static func pair(_ kind: Kind) throws -> (UnixTestSocket, UnixTestSocket) {
        var fds: [Int32] = [0, 0]
        try check(socketpair(AF_UNIX, kind.rawValue | Int32(SOCK_CLOEXEC.rawValue), 0, &fds), "socketpair")
        return (UnixTestSocket(fd: fds[0]), UnixTestSocket(fd: fds[1]))
    }

    /// A fresh directory under /tmp for socket files; the caller removes it.
    public static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/sockscope-unix-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw SocketTestError(description: "mkdtemp failed") }
        return String(cString: template)
    }
}
