// Port insight: what a port number means on this host, listener health, the connection
// map and ephemeral-port pressure. Plain values only; the analysis lives in SockscopeCollect.

/// The IANA class of a port number (RFC 6335): `system` 0–1023, `registered` 1024–49151,
/// `dynamic` 49152–65535.
public enum PortClass: String, Sendable, Hashable, Codable, CaseIterable {
    case system, registered, dynamic

    public init(port: UInt16) {
        switch port {
        case 0...1023: self = .system
        case 1024...49151: self = .registered
        default: self = .dynamic
        }
    }
}

/// The local port range the kernel picks source ports from (`net.ipv4.ip_local_port_range`,
/// which applies to IPv6 too).
public struct EphemeralRange: Sendable, Hashable, Codable {
    public var low: UInt16
    public var high: UInt16

    /// nil when `low > high`: the kernel refuses such a range, so it cannot describe this host.
    public init?(low: UInt16, high: UInt16) {
        guard low <= high else { return nil }
        self.low = low; self.high = high
    }

    /// Linux's default, 32768–60999.
    public static let linuxDefault = EphemeralRange(uncheckedLow: 32768, high: 60999)

    private init(uncheckedLow low: UInt16, high: UInt16) { self.low = low; self.high = high }

    /// How many ports the range holds (at least 1).
    public var size: Int { Int(high) - Int(low) + 1 }

    public func contains(_ port: UInt16) -> Bool { port >= low && port <= high }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let low = try c.decode(UInt16.self, forKey: .low), high = try c.decode(UInt16.self, forKey: .high)
        guard low <= high else {
            throw DecodingError.dataCorruptedError(forKey: .high, in: c, debugDescription: "low > high")
        }
        self.low = low; self.high = high
    }
}

/// What renderers need to describe a port beyond its number: the services table (empty with `-n`)
/// and this host's ephemeral range (nil when it could not be read). Passed in as a value so that
/// rendering does no I/O.
public struct PortContext: Sendable, Hashable {
    public var services: ServiceTable
    public var ephemeral: EphemeralRange?

    public init(services: ServiceTable = ServiceTable(), ephemeral: EphemeralRange? = nil) {
        self.services = services; self.ephemeral = ephemeral
    }

    /// The service name of a port for a protocol; nil for port 0 (no port) or an unknown one.
    public func service(_ port: UInt16, _ proto: TransportProtocol) -> String? {
        port == 0 ? nil : services.name(port: port, proto: proto)
    }

    /// `service(_:_:)` as the name's bytes from the services file (not necessarily UTF-8).
    public func rawService(_ port: UInt16, _ proto: TransportProtocol) -> [UInt8]? {
        port == 0 ? nil : services.rawName(port: port, proto: proto)
    }

    /// The `userInfo` key under which `SocketRecord`'s `Encodable` looks for a context, so that
    /// `JSONEncoder` output and the hand-written renderer stay the same object.
    public static let userInfoKey: CodingUserInfoKey? = CodingUserInfoKey(rawValue: "sockscope.portContext")
}

extension ServiceTable {
    /// The service a socket is about: the local port's for a listener or unconnected socket,
    /// otherwise the remote port's when known, else the local port's. Untrusted: escape before showing.
    public func name(describing r: SocketRecord) -> String? {
        if r.state == .listen || (r.proto == .udp && r.state == .close) || r.remote.port == 0 {
            return name(port: r.local.port, proto: r.proto)
        }
        return name(port: r.remote.port, proto: r.proto) ?? name(port: r.local.port, proto: r.proto)
    }

    /// `name(describing:)` as the name's bytes from the services file.
    public func rawName(describing r: SocketRecord) -> [UInt8]? {
        if r.state == .listen || (r.proto == .udp && r.state == .close) || r.remote.port == 0 {
            return rawName(port: r.local.port, proto: r.proto)
        }
        return rawName(port: r.remote.port, proto: r.proto) ?? rawName(port: r.local.port, proto: r.proto)
    }
}

extension IPAddress {
    /// The IPv4 address for `::ffff:a.b.c.d`, itself otherwise: the same host seen from an IPv4
    /// socket and from a dual-stack IPv6 one.
    public var unmapped: IPAddress {
        isIPv4Mapped ? IPAddress(ipv4: UInt32(truncatingIfNeeded: low)) : self
    }
}

/// An endpoint as `--json` prints it when a `PortContext` is given: `address`, `port`, and for a
/// non-zero port `class`, `service` (when known) and `ephemeral` (when the range is known).
struct AnnotatedEndpoint: Encodable {
    var endpoint: Endpoint
    var proto: TransportProtocol
    var context: PortContext

    enum CodingKeys: String, CodingKey { case address, port, service, portClass = "class", ephemeral }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(endpoint.address, forKey: .address)
        try c.encode(endpoint.port, forKey: .port)
        guard endpoint.port != 0 else { return }
        try c.encodeIfPresent(context.service(endpoint.port, proto), forKey: .service)
        try c.encode(PortClass(port: endpoint.port), forKey: .portClass)
        if let range = context.ephemeral { try c.encode(range.contains(endpoint.port), forKey: .ephemeral) }
    }
}

extension SocketRecord {
    /// Encodes `local` or `remote`, annotated when the encoder carries a `PortContext`.
    func encodeEndpoint(_ e: SocketEndpoint, forKey key: CodingKeys, in c: inout KeyedEncodingContainer<CodingKeys>,
                        encoder: Encoder) throws {
        if let k = PortContext.userInfoKey, let context = encoder.userInfo[k] as? PortContext, let inet = e.inet {
            try c.encode(AnnotatedEndpoint(endpoint: inet, proto: proto, context: context), forKey: key)
        } else {
            try c.encode(e, forKey: key)
        }
    }
}

// MARK: listener health

/// A remote address and how many connections it has.
public struct PeerCount: Sendable, Hashable, Codable {
    public var address: IPAddress
    public var connections: Int
    public init(address: IPAddress, connections: Int) { self.address = address; self.connections = connections }
}

/// One listening TCP socket and what it serves.
public struct ListenerHealth: Sendable, Hashable {
    /// The listening socket (with `processes` when owners were scanned).
    public var listener: SocketRecord
    /// The accept backlog; nil when the source does not report it (/proc).
    public var backlog: UInt32?
    /// Established connections on this listener's address and port.
    public var established: Int
    /// Distinct remote addresses among them.
    public var peers: Int
    /// The remote addresses with the most connections, most first.
    public var topPeers: [PeerCount]

    public init(listener: SocketRecord, backlog: UInt32?, established: Int, peers: Int, topPeers: [PeerCount]) {
        self.listener = listener; self.backlog = backlog; self.established = established; self.peers = peers
        self.topPeers = topPeers
    }

    /// Connections completed by the kernel and waiting for `accept` (netlink and /proc agree).
    public var acceptQueue: UInt32 { listener.recvQueue }

    /// True when the accept queue is more than half the backlog: the application is falling behind.
    /// (A backlog of 0 still admits one connection, so any queue over it counts.)
    public var isQueueOverHalf: Bool {
        guard let backlog else { return false }
        return UInt64(acceptQueue) * 2 > UInt64(backlog)
    }

    /// The queue as a percentage of the backlog (rounded down); nil when the backlog is unknown or 0.
    public var queuePercent: Int? {
        guard let backlog, backlog > 0 else { return nil }
        return Int(UInt64(acceptQueue) * 100 / UInt64(backlog))
    }
}

/// Kernel-wide listen queue counters from `/proc/net/netstat` (`TcpExt:`), since boot.
public struct ListenCounters: Sendable, Hashable, Codable {
    /// Times a completed connection found the accept queue full.
    public var overflows: UInt64
    /// Connection requests dropped by listeners (overflows included).
    public var drops: UInt64
    public init(overflows: UInt64, drops: UInt64) { self.overflows = overflows; self.drops = drops }
}

// MARK: connection map

/// One end of a map edge.
public enum MapNode: Sendable, Hashable, Comparable {
    /// Processes of this name (the kernel's bytes: untrusted, escape before showing).
    case process([UInt8])
    /// A local server port whose owner could not be read.
    case localPort(UInt16)
    /// Local client sockets of this uid whose owner could not be read (their source ports are
    /// arbitrary, so grouping by port would give one edge per connection).
    case user(UInt32)
    /// A remote host.
    case remote(IPAddress)

    private var rank: Int {
        switch self {
        case .process: return 0
        case .localPort: return 1
        case .user: return 2
        case .remote: return 3
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.process(let x), .process(let y)): return x.lexicographicallyPrecedes(y)
        case (.localPort(let x), .localPort(let y)): return x < y
        case (.user(let x), .user(let y)): return x < y
        case (.remote(let x), .remote(let y)): return x < y
        default: return a.rank < b.rank
        }
    }
}

/// Established connections between a client and a server, aggregated.
public struct MapEdge: Sendable, Hashable {
    /// Where the connections run.
    public enum Kind: String, Sendable, Hashable, Codable, Comparable {
        /// From a local client to a remote server.
        case outbound
        /// From a remote client to a local server.
        case inbound
        /// Both ends on this host: client process ↔ server process.
        case local

        public static func < (a: Self, b: Self) -> Bool { a.order < b.order }
        private var order: Int { self == .local ? 0 : self == .outbound ? 1 : 2 }
    }

    public var proto: TransportProtocol
    public var kind: Kind
    public var client: MapNode
    public var server: MapNode
    /// The server's port.
    public var port: UInt16
    /// Process ids behind `client` / `server` when they are processes, sorted.
    public var clientPIDs: [Int32]
    public var serverPIDs: [Int32]
    public var connections: Int
    /// Bytes from client to server and back, summed over the connections' `tcp_info` (with `-i`);
    /// nil when no connection had it.
    public var bytesToServer: UInt64?
    public var bytesToClient: UInt64?
    /// For a UNIX connection: the server's name (a path, or an abstract name), over which the two
    /// processes talk; `port` is 0 then.
    public var unixName: UnixName?

    public init(proto: TransportProtocol, kind: Kind, client: MapNode, server: MapNode, port: UInt16,
                clientPIDs: [Int32] = [], serverPIDs: [Int32] = [], connections: Int = 0,
                bytesToServer: UInt64? = nil, bytesToClient: UInt64? = nil, unixName: UnixName? = nil) {
        self.unixName = unixName
        self.proto = proto; self.kind = kind; self.client = client; self.server = server; self.port = port
        self.clientPIDs = clientPIDs; self.serverPIDs = serverPIDs; self.connections = connections
        self.bytesToServer = bytesToServer; self.bytesToClient = bytesToClient
    }

    /// Both directions together; nil without `tcp_info`.
    public var bytes: UInt64? {
        if bytesToServer == nil && bytesToClient == nil { return nil }
        return (bytesToServer ?? 0) &+ (bytesToClient ?? 0)
    }
}

// MARK: ephemeral-port pressure

/// Local source ports in use towards one remote address and port.
///
/// A connection is unique by its 5-tuple, so from one local address a client can hold at most
/// `rangeSize` connections to one remote address:port: `localPorts` counts the distinct source
/// ports of the local address that uses the most.
public struct PortPressure: Sendable, Hashable, Codable {
    public var proto: TransportProtocol
    public var remote: Endpoint
    /// The local address using the most source ports towards `remote`.
    public var localAddress: IPAddress
    /// Distinct source ports (from the ephemeral range) from `localAddress` to `remote`.
    public var localPorts: Int
    /// Sockets towards `remote` from every local address, in any state (TIME_WAIT holds its port too).
    public var connections: Int
    public var rangeSize: Int

    public init(proto: TransportProtocol, remote: Endpoint, localAddress: IPAddress, localPorts: Int,
                connections: Int, rangeSize: Int) {
        self.proto = proto; self.remote = remote; self.localAddress = localAddress; self.localPorts = localPorts
        self.connections = connections; self.rangeSize = rangeSize
    }

    /// More than half of the range is in use: new connections will soon fail with EADDRNOTAVAIL.
    public var isOverHalf: Bool { rangeSize > 0 && localPorts * 2 > rangeSize }

    /// `localPorts` as a percentage of the range, rounded down.
    public var percent: Int { rangeSize > 0 ? localPorts * 100 / rangeSize : 0 }

    enum CodingKeys: String, CodingKey {
        case proto, address, port, localAddress = "local_address", localPorts = "local_ports", connections
        case rangeSize = "range_size", percent, overHalf = "over_half"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        proto = try c.decode(TransportProtocol.self, forKey: .proto)
        remote = Endpoint(address: try c.decode(IPAddress.self, forKey: .address), port: try c.decode(UInt16.self, forKey: .port))
        localAddress = try c.decode(IPAddress.self, forKey: .localAddress)
        localPorts = try c.decode(Int.self, forKey: .localPorts)
        connections = try c.decode(Int.self, forKey: .connections)
        rangeSize = try c.decode(Int.self, forKey: .rangeSize)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(proto, forKey: .proto)
        try c.encode(remote.address, forKey: .address)
        try c.encode(remote.port, forKey: .port)
        try c.encode(localAddress, forKey: .localAddress)
        try c.encode(localPorts, forKey: .localPorts)
        try c.encode(connections, forKey: .connections)
        try c.encode(rangeSize, forKey: .rangeSize)
        try c.encode(percent, forKey: .percent)
        try c.encode(isOverHalf, forKey: .overHalf)
    }
}

/// Ephemeral-port use per destination, busiest first.
public struct EphemeralReport: Sendable, Hashable, Codable {
    public var range: EphemeralRange
    public var destinations: [PortPressure]

    public init(range: EphemeralRange, destinations: [PortPressure]) {
        self.range = range; self.destinations = destinations
    }

    /// The destinations using more than half the range.
    public var warnings: [PortPressure] { destinations.filter(\.isOverHalf) }

    enum CodingKeys: String, CodingKey { case low, high, size, destinations }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let r = EphemeralRange(low: try c.decode(UInt16.self, forKey: .low), high: try c.decode(UInt16.self, forKey: .high))
        else { throw DecodingError.dataCorruptedError(forKey: .high, in: c, debugDescription: "low > high") }
        range = r
        destinations = try c.decode([PortPressure].self, forKey: .destinations)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(range.low, forKey: .low)
        try c.encode(range.high, forKey: .high)
        try c.encode(range.size, forKey: .size)
        try c.encode(destinations, forKey: .destinations)
    }
}
