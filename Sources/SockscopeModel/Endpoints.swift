/// An IP address and port: the endpoint of an `inet` or `inet6` socket.
public struct Endpoint: Sendable, Hashable, Codable, Comparable {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public static func < (a: Self, b: Self) -> Bool { (a.address, a.port) < (b.address, b.port) }
}

/// The endpoint of a UNIX socket: its name, and the inode `ss` shows in the port column (for the
/// remote end, the peer socket's inode, as `UNIX_DIAG_PEER` reports it).
public struct UnixEndpoint: Sendable, Hashable, Comparable {
    /// How a UNIX socket is named. The bytes are the kernel's, untrusted: renderers escape them.
    public enum Name: Sendable, Hashable, Comparable {
        /// A filesystem path.
        case path([UInt8])
        /// An abstract name (the bytes after the leading NUL), shown by `ss` as `@name`.
        case abstract([UInt8])
        /// Not bound to any name (shown `*`).
        case unnamed

        var order: Int {
            switch self {
            case .path: return 0
            case .abstract: return 1
            case .unnamed: return 2
            }
        }

        public static func < (a: Self, b: Self) -> Bool {
            switch (a, b) {
            case (.path(let x), .path(let y)), (.abstract(let x), .abstract(let y)): return x.lexicographicallyPrecedes(y)
            default: return a.order < b.order
            }
        }
    }

    public var name: Name
    /// 0 when unknown (an unconnected socket has no peer).
    public var inode: UInt64

    public init(name: Name, inode: UInt64 = 0) { self.name = name; self.inode = inode }

    public static func < (a: Self, b: Self) -> Bool { (a.name, a.inode) < (b.name, b.inode) }
}

/// The endpoint of an `AF_PACKET` socket: the interface it is bound to (0 for all) and the
/// link-layer protocol it receives (an ethertype such as 0x0003 `ETH_P_ALL`, host order).
public struct PacketEndpoint: Sendable, Hashable, Comparable {
    public var interfaceIndex: UInt32
    public var protocolNumber: UInt16

    public init(interfaceIndex: UInt32, protocolNumber: UInt16) {
        self.interfaceIndex = interfaceIndex; self.protocolNumber = protocolNumber
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.interfaceIndex, a.protocolNumber) < (b.interfaceIndex, b.protocolNumber)
    }
}

/// The endpoint of a netlink socket: the netlink protocol (`NETLINK_ROUTE` 0, …), the port id
/// (0 is the kernel; a process's socket usually has its pid) and the multicast groups joined
/// (the first 32, as a bitmask).
public struct NetlinkEndpoint: Sendable, Hashable, Comparable {
    public var protocolNumber: UInt8
    public var portID: UInt32
    public var groups: UInt32

    public init(protocolNumber: UInt8, portID: UInt32, groups: UInt32 = 0) {
        self.protocolNumber = protocolNumber; self.portID = portID; self.groups = groups
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.protocolNumber, a.portID, a.groups) < (b.protocolNumber, b.portID, b.groups)
    }
}

/// One end of a socket, whatever its family.
///
/// Inet code keeps reading `address` and `port` as before; they are meaningful only for `.inet`
/// (use `inet` when the family is not known to be IP): for other families they read as the
/// unspecified IPv4 address and port 0, which is what a wildcard inet end reads as, so a port
/// condition never matches a UNIX socket by accident. Writing them is ignored outside `.inet`.
public enum SocketEndpoint: Sendable, Hashable, Comparable {
    case inet(Endpoint)
    case unix(UnixEndpoint)
    case packet(PacketEndpoint)
    case netlink(NetlinkEndpoint)

    /// The address and port when this is an IP endpoint.
    public var inet: Endpoint? {
        if case .inet(let e) = self { return e }
        return nil
    }

    /// The IP address (unspecified IPv4 outside the IP families).
    public var address: IPAddress {
        get { inet?.address ?? .anyIPv4 }
        set { if case .inet(var e) = self { e.address = newValue; self = .inet(e) } }
    }

    /// The IP port (0 outside the IP families).
    public var port: UInt16 {
        get { inet?.port ?? 0 }
        set { if case .inet(var e) = self { e.port = newValue; self = .inet(e) } }
    }

    /// True when this is the inet endpoint `b`: lets inet code compare with an `Endpoint` as before.
    public static func == (a: SocketEndpoint, b: Endpoint) -> Bool { a.inet == b }
    public static func == (a: Endpoint, b: SocketEndpoint) -> Bool { b.inet == a }
    public static func != (a: SocketEndpoint, b: Endpoint) -> Bool { a.inet != b }
    public static func != (a: Endpoint, b: SocketEndpoint) -> Bool { b.inet != a }

    var order: Int {
        switch self {
        case .inet: return 0
        case .unix: return 1
        case .packet: return 2
        case .netlink: return 3
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.inet(let x), .inet(let y)): return x < y
        case (.unix(let x), .unix(let y)): return x < y
        case (.packet(let x), .packet(let y)): return x < y
        case (.netlink(let x), .netlink(let y)): return x < y
        default: return a.order < b.order
        }
    }
}

/// Encoded as `--json` prints it: an inet end is exactly `{"address", "port"}` (the documented
/// core schema); a UNIX end `{"path"}`, `{"abstract"}` or `{}` (the inodes are the record's
/// `inode` and `peer_inode`); a packet
/// end `{"interface_index", "protocol"}`; a netlink end `{"protocol", "port_id", "groups"}`.
/// Kept in the library (not only the tests) because `SocketRecord`'s `Codable` form is how
/// scripts in Swift read `--json`.
extension SocketEndpoint: Codable {
    enum CodingKeys: String, CodingKey {
        case address, port, path, abstract, inode, interfaceIndex = "interface_index", protocolNumber = "protocol"
        case portID = "port_id", groups
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.address) {
            self = .inet(Endpoint(address: try c.decode(IPAddress.self, forKey: .address),
                                  port: try c.decode(UInt16.self, forKey: .port)))
        } else if c.contains(.interfaceIndex) {
            self = .packet(PacketEndpoint(interfaceIndex: try c.decode(UInt32.self, forKey: .interfaceIndex),
                                          protocolNumber: try c.decode(UInt16.self, forKey: .protocolNumber)))
        } else if c.contains(.portID) {
            self = .netlink(NetlinkEndpoint(protocolNumber: try c.decode(UInt8.self, forKey: .protocolNumber),
                                            portID: try c.decode(UInt32.self, forKey: .portID),
                                            groups: try c.decodeIfPresent(UInt32.self, forKey: .groups) ?? 0))
        } else {
            // A UNIX end: its name, or `{}` when unnamed (the inode is the record's, not the end's).
            let name: UnixEndpoint.Name
            if let p = try c.decodeIfPresent(String.self, forKey: .path) { name = .path(Array(p.utf8)) }
            else if let a = try c.decodeIfPresent(String.self, forKey: .abstract) { name = .abstract(Array(a.utf8)) }
            else { name = .unnamed }
            self = .unix(UnixEndpoint(name: name, inode: 0))
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .inet(let e):
            try e.encode(to: encoder)
        case .unix(let u):
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch u.name {
            case .path(let p): try c.encode(String(decoding: p, as: UTF8.self), forKey: .path)
            case .abstract(let a): try c.encode(String(decoding: a, as: UTF8.self), forKey: .abstract)
            case .unnamed: break
            }
        case .packet(let p):
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(p.interfaceIndex, forKey: .interfaceIndex)
            try c.encode(p.protocolNumber, forKey: .protocolNumber)
        case .netlink(let n):
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(n.protocolNumber, forKey: .protocolNumber)
            try c.encode(n.portID, forKey: .portID)
            try c.encode(n.groups, forKey: .groups)
        }
    }
}
