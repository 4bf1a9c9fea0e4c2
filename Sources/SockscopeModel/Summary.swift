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

    public init(total: Int, protocols: [ProtocolCount], states: [StateCount], topListeningPorts: [ListeningPort],
                topPeers: [Peer]) {
        self.total = total; self.protocols = protocols; self.states = states
        self.topListeningPorts = topListeningPorts; self.topPeers = topPeers
    }

    enum CodingKeys: String, CodingKey {
        case total, protocols, states, topListeningPorts = "top_listening_ports", topPeers = "top_peers"
        case listenOverflows = "listen_overflows", listenDrops = "listen_drops", ephemeralPorts = "ephemeral_ports"
    }
}
