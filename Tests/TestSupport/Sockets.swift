import Foundation
import SockscopeModel
#if canImport(Glibc)
import Glibc
#endif

/// A socket a test opened itself, closed when released.
public final class TestSocket: @unchecked Sendable {
    public let fd: Int32
    public let family: AddressFamily
    public let proto: TransportProtocol

    init(fd: Int32, family: AddressFamily, proto: TransportProtocol) {
        self.fd = fd; self.family = family; self.proto = proto
    }

    deinit { Glibc.close(fd) }

    /// The socket's inode, as `fstat` reports it: what sockscope must report.
    public var inode: UInt64 {
        var st = stat()
        precondition(fstat(fd, &st) == 0)
        return UInt64(st.st_ino)
    }

    public var local: Endpoint { Self.endpoint(fd, getsockname) }
    public var remote: Endpoint { Self.endpoint(fd, getpeername) }

    static func endpoint(_ fd: Int32, _ get: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> Endpoint {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { get(fd, $0, &len) }
        }
        if rc != 0 { return Endpoint(address: .anyIPv4, port: 0) }
        let family = ss.ss_family
        return withUnsafePointer(to: &ss) { p -> Endpoint in
            if family == sa_family_t(AF_INET) {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                    Endpoint(address: IPAddress(ipv4: UInt32(bigEndian: a.pointee.sin_addr.s_addr)),
                             port: UInt16(bigEndian: a.pointee.sin_port))
                }
            }
            return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                let bytes = withUnsafeBytes(of: a.pointee.sin6_addr) { Array($0) }
                return Endpoint(address: IPAddress(bytes: bytes)!, port: UInt16(bigEndian: a.pointee.sin6_port))
            }
        }
    }
}

public struct SocketTestError: Error, CustomStringConvertible {
    public var description: String
}

/// Opens sockets on loopback. Every call throws rather than traps, so a test reports a clear failure.
public enum Loopback {
    static func check(_ rc: Int32, _ what: String) throws {
        if rc < 0 { throw SocketTestError(description: "\(what): \(String(cString: strerror(errno)))") }
    }

    static func make(_ family: AddressFamily, _ proto: TransportProtocol) throws -> TestSocket {
        let fd = socket(family == .inet ? AF_INET : AF_INET6,
                        Int32(proto == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try check(fd, "socket")
        return TestSocket(fd: fd, family: family, proto: proto)
    }

    static func withSockaddr<T>(_ address: String, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        if address.contains(":") {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = port.bigEndian
            _ = inet_pton(AF_INET6, address, &a.sin6_addr)
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        _ = inet_pton(AF_INET, address, &a.sin_addr)
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }

    static func bind(_ s: TestSocket, _ address: String, _ port: UInt16) throws {
        try check(withSockaddr(address, port) { Glibc.bind(s.fd, $0, $1) }, "bind \(address):\(port)")
    }

    /// A TCP listener on `address` (port 0 picks one). `dualStack` clears IPV6_V6ONLY on an IPv6 socket.
    public static func tcpListener(_ address: String = "127.0.0.1", port: UInt16 = 0, backlog: Int32 = 64,
                                   dualStack: Bool = false) throws -> TestSocket {
        let s = try make(address.contains(":") ? .inet6 : .inet, .tcp)
        var one: Int32 = 1, zero: Int32 = 0
        setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        if address.contains(":") {
            var v6only: Int32 = dualStack ? zero : one
            setsockopt(s.fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6only, 4)
        }
        try bind(s, address, port)
        try check(listen(s.fd, backlog), "listen")
        return s
    }

    /// A TCP connection to `address:port`, and the accepted server side when `listener` is given.
    public static func tcpConnect(_ address: String, _ port: UInt16) throws -> TestSocket {
        let s = try make(address.contains(":") ? .inet6 : .inet, .tcp)
        try check(withSockaddr(address, port) { Glibc.connect(s.fd, $0, $1) }, "connect \(address):\(port)")
        return s
    }

    /// A TCP connection from an explicit source address and port (bound before connecting).
    public static func tcpConnect(_ address: String, _ port: UInt16, from source: String, sourcePort: UInt16) throws -> TestSocket {
        let s = try make(address.contains(":") ? .inet6 : .inet, .tcp)
        try bind(s, source, sourcePort)
        try check(withSockaddr(address, port) { Glibc.connect(s.fd, $0, $1) }, "connect \(address):\(port)")
        return s
    }

    public static func accept(_ listener: TestSocket) throws -> TestSocket {
        let fd = Glibc.accept(listener.fd, nil, nil)
        try check(fd, "accept")
        return TestSocket(fd: fd, family: listener.family, proto: .tcp)
    }

    /// A connected pair through `listener`: (client, server side).
    public static func tcpPair(_ listener: TestSocket, connectTo address: String? = nil) throws -> (TestSocket, TestSocket) {
        let target = address ?? listener.local.address.description
        let c = try tcpConnect(target, listener.local.port)
        return (c, try accept(listener))
    }

    /// A UDP socket bound to `address`, connected to `peer` when given.
    public static func udp(_ address: String = "127.0.0.1", port: UInt16 = 0, connectTo peer: Endpoint? = nil) throws -> TestSocket {
        let s = try make(address.contains(":") ? .inet6 : .inet, .udp)
        try bind(s, address, port)
        if let peer {
            try check(withSockaddr(peer.address.description, peer.port) { Glibc.connect(s.fd, $0, $1) }, "connect udp")
        }
        return s
    }

    /// Writes bytes on a connected socket.
    public static func send(_ s: TestSocket, _ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(s.fd, $0.baseAddress! + off, bytes.count - off, 0) }
            try check(Int32(n < 0 ? -1 : 0), "send")
            off += n
        }
    }

    /// Reads exactly `count` bytes.
    public static func receive(_ s: TestSocket, count: Int) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: count)
        var off = 0
        while off < count {
            let n = buf.withUnsafeMutableBytes { recv(s.fd, $0.baseAddress! + off, count - off, 0) }
            if n <= 0 { throw SocketTestError(description: "recv: \(n)") }
            off += n
        }
        return buf
    }
}
