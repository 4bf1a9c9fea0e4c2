import SockscopeModel

// Port insight: pure analyses over a snapshot's records (listener health, connection map,
// ephemeral-port pressure). The /proc files they draw on are parsed in SockscopeCollect.

// MARK: listener health

/// One listening socket's share of the established connections, by position in the input.
public struct ListenerStats: Sendable, Hashable {
    /// Index of the listener in the collection it was computed from.
    public var index: Int
    /// Established connections on this listener's address and port.
    public var established: Int
    /// Distinct remote addresses among them.
    public var peers: Int
    /// The busiest remote addresses, most connections first (as many as asked for).
    public var topPeers: [PeerCount]
}

/// Groups established TCP connections under the listening socket that accepted them. Shared by
/// `--listeners` and the live view's listeners view.
public enum ListenerAnalysis {
    struct BindKey: FlatKey {
        var family: AddressFamily
        var address: PackedAddress
        var port: UInt16
        @inline(__always) init(family: AddressFamily, address: IPAddress, port: UInt16) {
            self.family = family; self.address = PackedAddress(address); self.port = port
        }
        @inline(__always) func hash(_ seed: UInt64) -> UInt64 {
            flatMix(flatMix(flatMix(seed, address.high), address.low),
                    (family == .inet ? 0 : 1 << 18) | (address.isIPv6 ? 1 << 16 : 0) | UInt64(port))
        }
    }

    /// `aggregate` of plain records, none closed. Specialized here, and reading each record's
    /// few fields in place: from another module the generic one runs unspecialized, and its
    /// `record` closure copies every record (retaining its boxes). Measured at 100k sockets:
    /// 7.6 % of an exporter scrape, then 4.8 % with the copies alone.
    public static func aggregate(_ records: [SocketRecord], topPeers: Int = 0) -> [ListenerStats] {
        records.withUnsafeBufferPointer { buffer in
            aggregate(count: buffer.count, topPeers: topPeers) { Facts(buffer[$0], closed: false) }
        }
    }

    /// One entry per TCP LISTEN element of `items`, in their order. A live established
    /// connection counts for the listener bound to its exact local address and port, or else for
    /// the wildcard listener of its family on that port: the one the kernel would have chosen.
    /// Closed listeners (`isClosed`) are listed too, but a live one with the same binding takes
    /// the connections; closed connections are not counted.
    ///
    /// - Parameter topPeers: how many of the busiest peers to keep per listener (0: none, cheapest).
    public static func aggregate<C: Collection>(_ items: C, topPeers: Int = 0, record: (C.Element) -> SocketRecord,
                                                isClosed: (C.Element) -> Bool) -> [ListenerStats] {
        let positions = Array(items.indices)
        return aggregate(count: positions.count, topPeers: topPeers) {
            Facts(record(items[positions[$0]]), closed: isClosed(items[positions[$0]]))
        }
    }

    /// What the counting reads of a socket: plain values, no references to retain.
    struct Facts {
        var proto: TransportProtocol, family: AddressFamily, state: SocketState
        var local: SocketEndpoint, remoteAddress: IPAddress, closed: Bool
        @inline(__always) init(_ r: borrowing SocketRecord, closed: Bool) {
            proto = r.proto; family = r.family; state = r.state
            local = r.local; remoteAddress = r.remote.address; self.closed = closed
        }
    }

    /// The counting, over sockets `0..<count` as `facts` describes them.
    static func aggregate(count: Int, topPeers: Int, facts: (Int) -> Facts) -> [ListenerStats] {
        var byBind = FlatTable<BindKey>()  // binding -> position in `out`
        var out: [ListenerStats] = []
        var closed: [Bool] = []
        for i in 0..<count {
            let r = facts(i)
            guard r.proto == .tcp && r.state == .listen else { continue }
            let k = BindKey(family: r.family, address: r.local.address, port: r.local.port)
            let (b, inserted) = byBind.position(of: k)
            if inserted || (closed[Int(byBind.values[b])] && !r.closed) { byBind.values[b] = Int32(out.count) }
            out.append(ListenerStats(index: i, established: 0, peers: 0, topPeers: []))
            closed.append(r.closed)
        }
        guard !out.isEmpty else { return out }
        // One bit per listening port: most established connections are clients, whose local port
        // no listener has, answered without hashing.
        var listening = [UInt64](repeating: 0, count: 1024)
        for k in byBind.keys { listening[Int(k.port >> 6)] |= 1 << UInt64(k.port & 63) }
        // (listener, remote address) pairs, each with its connections: one flat table for every
        // listener rather than a dictionary per listener.
        var peers = FlatTable<PeerKey>()
        for i in 0..<count {
            let r = facts(i)
            guard r.proto == .tcp && r.state == .established,
                  listening[Int(r.local.port >> 6)] & (1 << UInt64(r.local.port & 63)) != 0, !r.closed else { continue }
            let exact = BindKey(family: r.family, address: r.local.address, port: r.local.port)
            let wild = BindKey(family: r.family, address: r.family == .inet ? .anyIPv4 : .anyIPv6, port: r.local.port)
            guard let b = byBind.find(exact) ?? byBind.find(wild) else { continue }
            let j = Int(byBind.values[b])
            out[j].established += 1
            let p = peers.position(of: PeerKey(listener: Int32(j), address: PackedAddress(r.remoteAddress))).position
            peers.values[p] += 1
        }
        var byListener = [[PeerCount]](repeating: [], count: topPeers > 0 ? out.count : 0)
        for (p, k) in peers.keys.enumerated() {
            out[Int(k.listener)].peers += 1
            if topPeers > 0 {
                byListener[Int(k.listener)].append(PeerCount(address: k.address.address, connections: Int(peers.values[p])))
            }
        }
        if topPeers > 0 {
            for j in out.indices where !byListener[j].isEmpty {
                out[j].topPeers = byListener[j]
                    .sorted { ($1.connections, $0.address) < ($0.connections, $1.address) }
                    .prefix(topPeers).map { $0 }
            }
        }
        return out
    }

    /// A remote address among one listener's (by position) established connections.
    struct PeerKey: FlatKey {
        var listener: Int32, address: PackedAddress
        @inline(__always) func hash(_ seed: UInt64) -> UInt64 {
            flatMix(flatMix(flatMix(seed, address.high), address.low), UInt64(UInt32(bitPattern: listener)) << 1 | (address.isIPv6 ? 1 : 0))
        }
    }

    /// Listener health for `--listeners`: one entry per TCP LISTEN record, ordered by port,
    /// family and address.
    ///
    /// - Parameter backlogKnown: the records come from netlink, whose `send_q` for a listener is
    ///   the backlog (/proc reports 0 there, which must not read as "no room").
    public static func health(_ records: [SocketRecord], backlogKnown: Bool, topPeers: Int = 3) -> [ListenerHealth] {
        inetHealth(records, backlogKnown: backlogKnown, topPeers: topPeers) + unixHealth(records, backlogKnown: backlogKnown)
    }

    /// UNIX listeners (stream and seqpacket), by name: the connections a listener accepted carry its
    /// name, so `established` counts the ESTABLISHED sockets of the same type and name (and bound
    /// file, when known); `peers` counts the distinct processes at their other ends (when owners
    /// were scanned, else the connections).
    static func unixHealth(_ records: [SocketRecord], backlogKnown: Bool) -> [ListenerHealth] {
        struct Key: Hashable { var proto: TransportProtocol; var name: UnixName; var file: UInt64? }
        func key(_ r: SocketRecord) -> Key? {
            let name = r.localUnixName
            guard name != .unnamed else { return nil }
            return Key(proto: r.proto, name: name, file: r.unix?.vfsInode)
        }
        var served: [Key: (count: Int, peers: Set<Int32>)] = [:]
        for r in records where r.family == .unix && r.state == .established {
            guard let k = key(r) else { continue }
            var v = served[k] ?? (0, [])
            v.count += 1
            for p in r.peerProcesses ?? [] { v.peers.insert(p.pid) }
            served[k] = v
        }
        return records.filter { $0.family == .unix && $0.state == .listen }
            .map { r in
                let v = key(r).flatMap { served[$0] } ?? (0, [])
                return ListenerHealth(listener: r, backlog: backlogKnown ? r.sendQueue : nil, established: v.count,
                                      peers: r.processes == nil ? v.count : v.peers.count, topPeers: [])
            }
            .sorted { ($0.listener.localUnixName, $0.listener.inode) < ($1.listener.localUnixName, $1.listener.inode) }
    }

    static func inetHealth(_ records: [SocketRecord], backlogKnown: Bool, topPeers: Int) -> [ListenerHealth] {
        let ipRecords = records.filter { $0.family.isIP }
        return aggregate(ipRecords, topPeers: topPeers)
            .map { s in
                let r = ipRecords[s.index]
                return ListenerHealth(listener: r, backlog: backlogKnown ? r.sendQueue : nil, established: s.established,
                                      peers: s.peers, topPeers: s.topPeers)
            }
            .sorted {
                ($0.listener.local.port, $0.listener.family, $0.listener.local.address, $0.listener.inode)
                    < ($1.listener.local.port, $1.listener.family, $1.listener.local.address, $1.listener.inode)
            }
    }
}

/// Local sockets that accept connections: TCP listeners and bound, unconnected UDP sockets, by
/// protocol, address (IPv4-mapped addresses as IPv4) and port. A connection whose local end is
/// one of them was accepted here (inbound); any other was opened from here (outbound).
public struct ServerBindings: Sendable {
    struct Key: FlatKey {
        var proto: TransportProtocol, address: PackedAddress, port: UInt16
        @inline(__always) init(proto: TransportProtocol, address: IPAddress, port: UInt16) {
            self.proto = proto; self.address = PackedAddress(address); self.port = port
        }
        @inline(__always) func hash(_ seed: UInt64) -> UInt64 {
            flatMix(flatMix(flatMix(seed, address.high), address.low),
                    protocolOrdinal(proto) << 24 | (address.isIPv6 ? 1 << 16 : 0) | UInt64(port))
        }
    }
    /// Binding -> index in the records. A flat table rather than a `Set`: SipHash of the struct was
    /// most of each lookup (perf, 100k sockets).
    var byKey = FlatTable<Key>()
    /// One bit per bound port: most connections' local port is no server's, answered without
    /// hashing (measured at 100k sockets: these lookups were a fifth of the ephemeral report).
    var ports = [UInt64](repeating: 0, count: 1024)

    /// Holds no reference to `records`: the exporter keeps the bindings between scrapes, and
    /// with the records inside them every scrape's 100k records stayed resident until the next.
    public init(_ records: [SocketRecord]) {
        var byKey = FlatTable<Key>()
        var ports = [UInt64](repeating: 0, count: 1024)
        // Fields read in place (see `HostConnections.init`).
        records.withUnsafeBufferPointer { b in
            for i in b.indices where b[i].local.port != 0 {
                let (proto, state, local) = (b[i].proto, b[i].state, b[i].local)
                guard (proto == .tcp && state == .listen) || (proto == .udp && state == .close && b[i].remote.port == 0) else { continue }
                ports[Int(local.port >> 6)] |= 1 << UInt64(local.port & 63)
                let (p, inserted) = byKey.position(of: Key(proto: proto, address: local.address.unmapped, port: local.port))
                // SO_REUSEPORT groups: the first socket stands for the binding; one with owners is preferred.
                if !inserted, !(b[Int(byKey.values[p])].processes ?? []).isEmpty || (b[i].processes ?? []).isEmpty { continue }
                byKey.values[p] = Int32(i)
            }
        }
        self.byKey = byKey
        self.ports = ports
    }

    /// The index in the records of the socket that would receive a connection to `endpoint`:
    /// bound to that address exactly, or to the wildcard (an IPv4 destination also reaches a
    /// dual-stack `::` socket).
    @inline(__always)
    func index(_ proto: TransportProtocol, _ endpoint: SocketEndpoint) -> Int? {
        if byKey.count == 0 || ports[Int(endpoint.port >> 6)] & (1 << UInt64(endpoint.port & 63)) == 0 { return nil }
        let a = endpoint.address.unmapped
        let p = byKey.find(Key(proto: proto, address: a, port: endpoint.port))
            ?? (a.isIPv6 ? nil : byKey.find(Key(proto: proto, address: .anyIPv4, port: endpoint.port)))
            ?? byKey.find(Key(proto: proto, address: .anyIPv6, port: endpoint.port))
        return p.map { Int(byKey.values[$0]) }
    }

    /// The socket among `records` (the ones these bindings were made from) that would receive a
    /// connection to `endpoint` (see `index`).
    func match(_ proto: TransportProtocol, _ endpoint: SocketEndpoint, in records: [SocketRecord]) -> SocketRecord? {
        index(proto, endpoint).map { records[$0] }
    }

    /// True when a server is bound where `endpoint` is, exactly or by wildcard.
    public func serves(_ proto: TransportProtocol, _ endpoint: SocketEndpoint) -> Bool { index(proto, endpoint) != nil }
}

/// Which end of each connection among a snapshot's records serves, for the map and the
/// ephemeral-port report alike.
struct HostConnections {
    let records: [SocketRecord]
    let servers: ServerBindings
    /// Local addresses some socket is bound to (IPv4-mapped as IPv4): the host's own.
    var localAddresses = Set<IPAddress>()
    /// Connections that may be one end of a local pair, by protocol and both ends; the value is
    /// the first such record's index.
    var byTuple: FlatTable<PackedTuple>
    /// Per record: its local end is bound where a server is (`servers.match`), asked once.
    var servesLocal: [Bool]
    /// Per record: its remote end is bound where a local server is, which is what its peer's
    /// `servesLocal` would be if the peer is on this host.
    var servesRemote: [Bool]
    let range: EphemeralRange
    /// Only sockets whose side `isServerSide` cannot tell from the bindings alone are paired.
    let pairsAmbiguousOnly: Bool

    /// - Parameters:
    ///   - pairing: which connected sockets may be the other end of a local pair.
    ///   - addresses: fill `localAddresses` (the map needs them, the ephemeral report does not).
    ///   - ambiguousOnly: pair only what `isServerSide` needs (then `peer(of:)` answers only for
    ///     those): a socket whose local end is bound where a server is and whose remote end is
    ///     not, or the reverse, is decided without its peer. Measured at 100k loopback sockets
    ///     (clients and accepted ends of four listeners), that is every socket: the table of
    ///     100k tuples and its lookups were a fifth of a scrape.
    ///   - servers: `ServerBindings(records)` when the caller has it already.
    init(_ records: [SocketRecord], ephemeral: EphemeralRange?, addresses: Bool = true, ambiguousOnly: Bool = false,
         servers: ServerBindings? = nil, pairing: (_ state: SocketState, _ remote: SocketEndpoint) -> Bool) {
        self.records = records
        let servers = servers ?? ServerBindings(records)
        self.servers = servers
        range = ephemeral ?? .linuxDefault
        pairsAmbiguousOnly = ambiguousOnly
        var byTuple = FlatTable<PackedTuple>(capacity: ambiguousOnly ? 64 : records.count)
        var servesLocal = [Bool](repeating: false, count: records.count)
        var servesRemote = [Bool](repeating: false, count: records.count)
        var localAddresses = Set<IPAddress>()
        // Fields read in place through the buffer: a record bound to a local is a copy that
        // retains its boxes (measured at 100k sockets: those copies were most of this loop).
        records.withUnsafeBufferPointer { b in
            for i in b.indices {
                let (proto, local, remote) = (b[i].proto, b[i].local, b[i].remote)
                if addresses && !local.address.isUnspecified { localAddresses.insert(local.address.unmapped) }
                guard ConnectionMapper.isConnection(local: local, remote: remote) else { continue }
                servesLocal[i] = servers.index(proto, local) != nil
                servesRemote[i] = servers.index(proto, remote) != nil
                if pairing(b[i].state, remote) && (!ambiguousOnly || servesLocal[i] == servesRemote[i]) {
                    let (p, inserted) = byTuple.position(of: PackedTuple(proto, local, remote))
                    if inserted { byTuple.values[p] = Int32(i) }
                }
            }
        }
        self.byTuple = byTuple
        self.servesLocal = servesLocal
        self.servesRemote = servesRemote
        self.localAddresses = localAddresses
    }

    /// The index of the socket at the other end of `records[i]`, when it is on this host too.
    func peer(of i: Int) -> Int? {
        let (proto, local, remote) = (records[i].proto, records[i].local, records[i].remote)
        guard ConnectionMapper.isConnection(local: local, remote: remote) else { return nil }
        return byTuple.find(PackedTuple(proto, remote, local)).map { Int(byTuple.values[$0]) }
    }

    /// True for the serving end: bound where a listener is; in a local pair where neither or both
    /// ends are, the one outside the ephemeral range, else the lower port (exactly one end wins).
    func isServerSide(_ i: Int) -> Bool {
        let mine = servesLocal[i]
        // A peer on this host would have `servesLocal == servesRemote[i]`: when that differs
        // from mine, mine decides whether or not the peer is here.
        if mine != servesRemote[i] { return mine }
        guard let p = peer(of: i), p != i else { return mine }
        let (local, peerLocal) = (records[i].local, records[p].local)
        let (myEph, theirEph) = (range.contains(local.port), range.contains(peerLocal.port))
        if myEph != theirEph { return !myEph }
        if local.port != peerLocal.port { return local.port < peerLocal.port }
        return local.address.unmapped < peerLocal.address.unmapped
    }
}

// MARK: connection map

/// Aggregates established connections into client → server edges (`--map`).
public enum ConnectionMapper {
    struct ConnKey: Hashable {
        var proto: TransportProtocol
        var local: Endpoint
        var remote: Endpoint
        init(_ proto: TransportProtocol, _ local: SocketEndpoint, _ remote: SocketEndpoint) {
            self.proto = proto
            self.local = Endpoint(address: local.address.unmapped, port: local.port)
            self.remote = Endpoint(address: remote.address.unmapped, port: remote.port)
        }
    }

    struct EdgeKey: Hashable {
        var proto: TransportProtocol, kind: MapEdge.Kind, client: MapNode, server: MapNode, port: UInt16
        /// With `perProcess`, the pids of both ends: one edge per pair of processes, not of names.
        var pids: [Int32] = []
    }

    struct UnixEdgeKey: Hashable {
        var proto: TransportProtocol, client: MapNode, server: MapNode, name: UnixName
        /// With `perProcess`, the pids of both ends, as for `EdgeKey`.
        var pids: [Int32] = []
    }

    /// The edges of the established connections among `records` (which should include the
    /// listeners, so that each connection's server end is known; owners make process nodes).
    ///
    /// - A connection whose other end is also in `records` (both ends on this host) becomes one
    ///   `local` edge: client process → server process, server port.
    /// - A connection accepted by a local listener, from elsewhere, becomes an `inbound` edge:
    ///   remote address → local process, local port.
    /// - Any other becomes an `outbound` edge: local process → remote address, remote port.
    ///
    /// The server end of a local pair is the one bound where a listener is; failing that, the one
    /// whose port is outside the ephemeral range, else the lower port. A server socket whose owner
    /// cannot be read (one still in the accept queue) is attributed to its listener's owner, else
    /// shown as its local port; a client socket without a readable owner is grouped by uid.
    /// IPv4-mapped addresses are shown as IPv4. Most connections first.
    ///
    /// `perProcess` makes a process node one process (the lowest pid holding the socket) rather
    /// than every process of a name: two `python3` processes are two nodes (the DOT graph).
    public static func edges(_ records: [SocketRecord], ephemeral: EphemeralRange? = nil,
                             perProcess: Bool = false) -> [MapEdge] {
        // Only ESTABLISHED peers pair up: a closing end would hide its partner's edge.
        let host = HostConnections(records, ephemeral: ephemeral, pairing: { state, _ in state == .established })
        let servers = host.servers
        func node(_ r: SocketRecord) -> (MapNode, [Int32])? { processNode(r, perProcess: perProcess) }
        func server(_ r: SocketRecord) -> (MapNode, [Int32]) { serverNode(r, servers, records, perProcess: perProcess) }
        func onHost(_ a: IPAddress) -> Bool { a.isLoopback || host.localAddresses.contains(a.unmapped) }

        var edges: [EdgeKey: (edge: MapEdge, clientPIDs: Set<Int32>, serverPIDs: Set<Int32>)] = [:]
        func add(_ r: SocketRecord, kind: MapEdge.Kind, client: (MapNode, [Int32]), server: (MapNode, [Int32]),
                 port: UInt16, localIsClient: Bool) {
            let k = EdgeKey(proto: r.proto, kind: kind, client: client.0, server: server.0, port: port,
                            pids: perProcess ? client.1 + [-1] + server.1 : [])
            var e = edges[k] ?? (MapEdge(proto: r.proto, kind: kind, client: client.0, server: server.0, port: port), [], [])
            e.edge.connections += 1
            e.clientPIDs.formUnion(client.1)
            e.serverPIDs.formUnion(server.1)
            if let t = r.tcpInfo {
                // The local socket's view: what it sent (acknowledged) and what it received.
                let sent = t.bytesAcked ?? t.bytesSent, received = t.bytesReceived
                let (up, down) = localIsClient ? (sent, received) : (received, sent)
                if let up { e.edge.bytesToServer = (e.edge.bytesToServer ?? 0) &+ up }
                if let down { e.edge.bytesToClient = (e.edge.bytesToClient ?? 0) &+ down }
            }
            edges[k] = e
        }

        for (i, r) in records.enumerated() where r.state == .established && isConnection(r) {
            let peerIndex = host.peer(of: i)
            let peer = peerIndex.map { records[$0] }
            if peerIndex == i {
                // Connected to itself (TCP simultaneous open onto its own port): one local edge.
                let me = node(r) ?? (.localPort(r.local.port), [])
                add(r, kind: .local, client: me, server: me, port: r.local.port, localIsClient: true)
                continue
            }
            if host.isServerSide(i) {
                if peer != nil { continue }  // the pair is counted once, from its client end
                add(r, kind: .inbound, client: (.remote(r.remote.address.unmapped), []),
                    server: server(r), port: r.local.port, localIsClient: false)
                continue
            }
            let client = node(r) ?? (.user(r.uid), [])
            if let peer {
                add(r, kind: .local, client: client, server: server(peer), port: r.remote.port,
                    localIsClient: true)
            } else if onHost(r.remote.address), let listener = servers.match(r.proto, r.remote, in: records) {
                add(r, kind: .local, client: client,
                    server: node(listener) ?? (.localPort(r.remote.port), []), port: r.remote.port,
                    localIsClient: true)
            } else {
                add(r, kind: .outbound, client: client, server: (.remote(r.remote.address.unmapped), []),
                    port: r.remote.port, localIsClient: true)
            }
        }
        // UNIX connections over a name: client process → the process holding the named end.
        var unixEdges: [UnixEdgeKey: (edge: MapEdge, clientPIDs: Set<Int32>, serverPIDs: Set<Int32>)] = [:]
        for r in records where r.family == .unix && r.state == .established {
            let theirs = r.remoteUnixName
            guard r.localUnixName == .unnamed, theirs != .unnamed else { continue }
            let client = processNode(r, perProcess: perProcess) ?? (.user(r.uid), [])
            let server = r.peerProcesses.flatMap { owners in
                owners.min().map { first in
                    (MapNode.process(first.rawName), perProcess ? [first.pid] : owners.filter { $0.rawName == first.rawName }.map(\.pid))
                }
            } ?? (.user(r.uid), [])
            let k = UnixEdgeKey(proto: r.proto, client: client.0, server: server.0, name: theirs,
                                pids: perProcess ? client.1 + [-1] + server.1 : [])
            var e = unixEdges[k] ?? (MapEdge(proto: r.proto, kind: .local, client: client.0, server: server.0, port: 0,
                                             unixName: theirs), [], [])
            e.edge.connections += 1
            e.clientPIDs.formUnion(client.1)
            e.serverPIDs.formUnion(server.1)
            unixEdges[k] = e
        }
        return (Array(edges.values) + Array(unixEdges.values)).map { v in
            var e = v.edge
            e.clientPIDs = v.clientPIDs.sorted()
            e.serverPIDs = v.serverPIDs.sorted()
            return e
        }.sorted {
            if $0.connections != $1.connections { return $0.connections > $1.connections }
            if ($0.kind, $0.client, $0.server, $0.port, $0.proto) != ($1.kind, $1.client, $1.server, $1.port, $1.proto) {
                return ($0.kind, $0.client, $0.server, $0.port, $0.proto) < ($1.kind, $1.client, $1.server, $1.port, $1.proto)
            }
            if ($0.unixName ?? .unnamed) != ($1.unixName ?? .unnamed) { return ($0.unixName ?? .unnamed) < ($1.unixName ?? .unnamed) }
            return ($0.clientPIDs + [-1] + $0.serverPIDs).lexicographicallyPrecedes($1.clientPIDs + [-1] + $1.serverPIDs)
        }
    }

    /// A socket with both ends set (an established TCP or connected UDP socket has them).
    static func isConnection(_ r: SocketRecord) -> Bool { isConnection(local: r.local, remote: r.remote) }

    @inline(__always)
    static func isConnection(local: SocketEndpoint, remote: SocketEndpoint) -> Bool {
        local.port != 0 && remote.port != 0 && !remote.address.isUnspecified
    }

    /// The process holding `r` (the lowest pid's name, with every pid of that name; with
    /// `perProcess` that pid alone), nil when unknown.
    static func processNode(_ r: SocketRecord, perProcess: Bool = false) -> (MapNode, [Int32])? {
        guard let owners = r.processes, let first = owners.min() else { return nil }
        if perProcess { return (.process(first.rawName), [first.pid]) }
        let pids = owners.filter { $0.rawName == first.rawName }.map(\.pid)
        return (.process(first.rawName), pids)
    }

    /// The server end: its own owner, else its listener's (a connection waiting to be accepted), else its port.
    static func serverNode(_ r: SocketRecord, _ servers: ServerBindings, _ records: [SocketRecord],
                           perProcess: Bool = false) -> (MapNode, [Int32]) {
        if let p = processNode(r, perProcess: perProcess) { return p }
        if let l = servers.match(r.proto, r.local, in: records), let p = processNode(l, perProcess: perProcess) { return p }
        return (.localPort(r.local.port), [])
    }
}

extension MapEdge {
    /// True when a process with this pid is at either end.
    public func involves(pid: Int32) -> Bool { clientPIDs.contains(pid) || serverPIDs.contains(pid) }

    /// True when a process of this name (the kernel's bytes) is at either end.
    public func involves(processName name: [UInt8]) -> Bool {
        client == .process(name) || server == .process(name)
    }
}

// MARK: ephemeral-port pressure

/// Source ports in use per destination, against the ephemeral range.
public enum EphemeralPressure {
    /// A destination: protocol, remote address (IPv4-mapped as IPv4) and port.
    struct DestinationKey: FlatKey {
        var proto: TransportProtocol, remote: PackedAddress, port: UInt16
        @inline(__always) init(_ proto: TransportProtocol, _ remote: SocketEndpoint) {
            self.proto = proto; self.remote = PackedAddress(remote.address.unmapped); port = remote.port
        }
        @inline(__always) func hash(_ seed: UInt64) -> UInt64 {
            flatMix(flatMix(flatMix(seed, remote.high), remote.low),
                    protocolOrdinal(proto) << 24 | (remote.isIPv6 ? 1 << 16 : 0) | UInt64(port))
        }
    }

    /// One local address's sockets towards a destination (by its position in the destination table).
    struct FromLocalKey: FlatKey {
        var destination: Int32, local: PackedAddress
        @inline(__always) func hash(_ seed: UInt64) -> UInt64 {
            flatMix(flatMix(flatMix(seed, local.high), local.low), UInt64(UInt32(bitPattern: destination)) << 1 | (local.isIPv6 ? 1 : 0))
        }
    }

    /// A source port of one (destination, local address) pair.
    struct PortKey: FlatKey {
        var pair: Int32, port: UInt16
        @inline(__always) func hash(_ seed: UInt64) -> UInt64 { flatMix(seed, UInt64(UInt32(bitPattern: pair)) << 16 | UInt64(port)) }
    }

    /// Every client socket in `records` (any state but LISTEN, remote port set, local port inside
    /// `range`, not the serving end of a connection: see `HostConnections.isServerSide`) counts for its remote
    /// address:port. Per destination, the local address using the most distinct source ports
    /// decides `localPorts`. Busiest first; `top` keeps that many, plus every one over half.
    /// `servers`: `ServerBindings(records)` when the caller has it already (built here otherwise).
    public static func report(_ records: [SocketRecord], range: EphemeralRange, top: Int? = nil,
                              servers: ServerBindings? = nil) -> EphemeralReport {
        // Only a socket whose remote port is in the range can be the other end of one counted
        // here (its peer's local port is that remote port): the rest need not be paired.
        let host = HostConnections(records, ephemeral: range, addresses: false, ambiguousOnly: true, servers: servers,
                                   pairing: { state, remote in state != .listen && range.contains(remote.port) })
        // Three flat tables instead of nested dictionaries of sets: destinations; (destination,
        // local address) pairs; and (pair, port), whose first insertion counts a distinct port.
        var destinations = FlatTable<DestinationKey>()
        var fromLocal = FlatTable<FromLocalKey>()
        var distinct = FlatTable<PortKey>()
        // Fields read in place (see `HostConnections.init`).
        records.withUnsafeBufferPointer { b in
            for i in b.indices {
                let (proto, local, remote) = (b[i].proto, b[i].local, b[i].remote)
                guard b[i].state != .listen, ConnectionMapper.isConnection(local: local, remote: remote),
                      range.contains(local.port),
                      // A server end's local port is its listener's (or its own bound one), not drawn from the range.
                      !host.isServerSide(i) else { continue }
                let d = destinations.position(of: DestinationKey(proto, remote)).position
                destinations.values[d] += 1
                let l = fromLocal.position(of: FromLocalKey(destination: Int32(d), local: PackedAddress(local.address.unmapped)))
                if distinct.position(of: PortKey(pair: Int32(l.position), port: local.port)).inserted {
                    fromLocal.values[l.position] += 1
                }
            }
        }
        // Per destination, the local address with the most ports; ties go to the lowest address, for stable output.
        var busiest = [Int](repeating: -1, count: destinations.count)
        for (l, k) in fromLocal.keys.enumerated() {
            let d = Int(k.destination)
            guard busiest[d] >= 0 else { busiest[d] = l; continue }
            let best = busiest[d]
            let (n, m) = (fromLocal.values[l], fromLocal.values[best])
            if n > m || (n == m && k.local.address < fromLocal.keys[best].local.address) { busiest[d] = l }
        }
        var out: [PortPressure] = []
        out.reserveCapacity(destinations.count)
        for (d, k) in destinations.keys.enumerated() {
            let l = busiest[d]
            out.append(PortPressure(proto: k.proto, remote: Endpoint(address: k.remote.address, port: k.port),
                                    localAddress: fromLocal.keys[l].local.address, localPorts: Int(fromLocal.values[l]),
                                    connections: Int(destinations.values[d]), rangeSize: range.size))
        }
        out.sort {
            if $0.localPorts != $1.localPorts { return $0.localPorts > $1.localPorts }
            return ($0.proto, $0.remote) < ($1.proto, $1.remote)
        }
        if let top, out.count > top {
            let over = out.prefix { $0.isOverHalf }.count
            out = Array(out.prefix(max(top, over)))
        }
        return EphemeralReport(range: range, destinations: out)
    }
}
