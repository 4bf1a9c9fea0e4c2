/// Totals over a snapshot, like `ss -s`, plus where the connections go.
public struct SocketSummary: Sendable, Hashable, Codable {
    /// Sockets of one protocol and family.
    public struct ProtocolCount: Sendable, Hashable, Codable {
        public var proto: TransportProtocol
        public var family: AddressFamily
        public var count: Int
        public init(proto: TransportProtocol, family: AddressFamily, count: Int) {
            self.proto = proto; self.family = family; self.count = count
        }
    }

    /// Sockets of one protocol in one state (kernel spelling, `UNCONN` for unconnected UDP).
    public struct StateCount: Sendable, Hashable, Codable {
        public var proto: TransportProtocol
        public var state: String
        public var count: Int
        public init(proto: TransportProtocol, state: String, count: Int) {
            self.proto = proto; self.state = state; self.count = count
        }
    }

    /// A local TCP port with listeners, and the established connections it serves.
    public struct ListeningPort: Sendable, Hashable, Codable {
        public var port: UInt16
        public var listeners: Int
        public var established: Int
        public init(port: UInt16, listeners: Int, established: Int) {
            self.port = port; self.listeners = listeners; self.established = established
        }
    }

    /// A remote address and how many established TCP connections this host has with it.
    public struct Peer: Sendable, Hashable, Codable {
        public var address: IPAddress
        public var established: Int
        public init(address: IPAddress, established: Int) { self.address = address; self.established = established }
    }

    public var total: Int
    public var protocols: [ProtocolCount]
    public var states: [StateCount]
    /// Listening ports, most established connections first.
    public var topListeningPorts: [ListeningPort]
    /// Remote addresses, most established connections first.
    public var topPeers: [Peer]
    /// Kernel-wide `ListenOverflows` / `ListenDrops` since boot; nil when unreadable.
    public var listenOverflows: UInt64?
    public var listenDrops: UInt64?
    /// Source ports in use per destination against the ephemeral range; nil when unknown.
    public var ephemeralPorts: EphemeralReport?
    /// The kernel's counters in `ss -s`'s terms; nil when /proc/net/sockstat cannot be read.
    public var kernel: KernelSocketCounts?
    /// UNIX sockets by type and state; nil when the UNIX table was not read.
    public var unix: UnixSocketCounts?

    public init(total: Int, protocols: [ProtocolCount], states: [StateCount], topListeningPorts: [ListeningPort],
                topPeers: [Peer]) {
        self.total = total; self.protocols = protocols; self.states = states
        self.topListeningPorts = topListeningPorts; self.topPeers = topPeers
    }

    enum CodingKeys: String, CodingKey {
        case total, protocols, states, topListeningPorts = "top_listening_ports", topPeers = "top_peers"
        case listenOverflows = "listen_overflows", listenDrops = "listen_drops", ephemeralPorts = "ephemeral_ports"
        case kernel = "sockstat", unix
    }
}

/// The kernel's own socket counters, read from `/proc/net/sockstat`, `sockstat6` and `snmp`, in
/// `ss -s`'s terms: what the first lines of `-s` print, so the two can be compared line by line.
public struct KernelSocketCounts: Sendable, Hashable, Codable {
    /// IPv4 and IPv6 counts of one transport row.
    public struct Row: Sendable, Hashable, Codable {
        public var ipv4: Int
        public var ipv6: Int
        public var total: Int { ipv4 + ipv6 }
        public init(ipv4: Int, ipv6: Int) { self.ipv4 = ipv4; self.ipv6 = ipv6 }

        enum CodingKeys: String, CodingKey { case ipv4, ipv6, total }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(total, forKey: .total); try c.encode(ipv4, forKey: .ipv4); try c.encode(ipv6, forKey: .ipv6)
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(ipv4: try c.decode(Int.self, forKey: .ipv4), ipv6: try c.decode(Int.self, forKey: .ipv6))
        }
    }

    /// `sockets: used`: every socket of the namespace, of any family (ss's `Total:`).
    public var sockets: Int
    /// TCP sockets allocated plus TIME_WAIT ones (ss's `TCP:` count).
    public var tcpTotal: Int
    /// `Tcp: CurrEstab` of /proc/net/snmp.
    public var tcpEstablished: Int
    /// Allocated TCP sockets in no table: not yet bound, or closed and still held (ss's `closed`).
    public var tcpClosed: Int
    public var tcpOrphaned: Int
    public var tcpTimeWait: Int
    public var raw: Row, udp: Row, tcp: Row, frag: Row
    /// RAW, UDP and TCP together (ss's `INET` row).
    public var inet: Row { Row(ipv4: raw.ipv4 + udp.ipv4 + tcp.ipv4, ipv6: raw.ipv6 + udp.ipv6 + tcp.ipv6) }

    enum CodingKeys: String, CodingKey {
        case sockets, tcpTotal = "tcp_total", tcpEstablished = "tcp_established", tcpClosed = "tcp_closed"
        case tcpOrphaned = "tcp_orphaned", tcpTimeWait = "tcp_timewait", raw, udp, tcp, frag
    }

    public init(sockets: Int, tcpTotal: Int, tcpEstablished: Int, tcpClosed: Int, tcpOrphaned: Int, tcpTimeWait: Int,
                raw: Row, udp: Row, tcp: Row, frag: Row) {
        self.sockets = sockets; self.tcpTotal = tcpTotal; self.tcpEstablished = tcpEstablished; self.tcpClosed = tcpClosed
        self.tcpOrphaned = tcpOrphaned; self.tcpTimeWait = tcpTimeWait
        self.raw = raw; self.udp = udp; self.tcp = tcp; self.frag = frag
    }
}

/// UNIX sockets by type and state (from the UNIX table, which sockstat does not count).
public struct UnixSocketCounts: Sendable, Hashable, Codable {
    public var stream: Int, dgram: Int, seqpacket: Int
    public var listening: Int, connected: Int, unconnected: Int
    public var total: Int { stream + dgram + seqpacket }

    public init(stream: Int = 0, dgram: Int = 0, seqpacket: Int = 0, listening: Int = 0, connected: Int = 0, unconnected: Int = 0) {
        self.stream = stream; self.dgram = dgram; self.seqpacket = seqpacket
        self.listening = listening; self.connected = connected; self.unconnected = unconnected
    }
}
