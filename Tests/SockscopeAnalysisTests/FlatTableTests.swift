import SockscopeAnalysis
import SockscopeModel
import TestSupport
import Testing

/// The ephemeral report and the listener counts hash words in flat tables; these tests hold them
/// to a plain model of the same rules written with `Dictionary` and `Set`, on random snapshots
/// whose addresses, ports and states collide often (IPv4, IPv4-mapped and IPv6 ends, local
/// pairs, listeners on wildcards, UDP).
@Suite struct FlatTableDifferentialTests {
    struct Model {
        let records: [SocketRecord]
        let range: EphemeralRange

        static func isConnection(_ r: SocketRecord) -> Bool {
            r.local.port != 0 && r.remote.port != 0 && !r.remote.address.isUnspecified
        }

        struct ServerKey: Hashable { var proto: TransportProtocol; var address: IPAddress; var port: UInt16 }
        var servers: Set<ServerKey> {
            Set(records.filter {
                $0.local.port != 0
                    && (($0.proto == .tcp && $0.state == .listen) || ($0.proto == .udp && $0.state == .close && $0.remote.port == 0))
            }.map { ServerKey(proto: $0.proto, address: $0.local.address.unmapped, port: $0.local.port) })
        }

        func serves(_ servers: Set<ServerKey>, _ r: SocketRecord) -> Bool {
            let a = r.local.address.unmapped, p = r.local.port
            return servers.contains(ServerKey(proto: r.proto, address: a, port: p))
                || (!a.isIPv6 && servers.contains(ServerKey(proto: r.proto, address: .anyIPv4, port: p)))
                || servers.contains(ServerKey(proto: r.proto, address: .anyIPv6, port: p))
        }

        struct Tuple: Hashable { var proto: TransportProtocol; var l: IPAddress; var lp: UInt16; var r: IPAddress; var rp: UInt16 }

        func ephemeral() -> [PortPressure] {
            let servers = self.servers
            var byTuple: [Tuple: Int] = [:]
            for (i, r) in records.enumerated() where Self.isConnection(r) && r.state != .listen && range.contains(r.remote.port) {
                let t = Tuple(proto: r.proto, l: r.local.address.unmapped, lp: r.local.port, r: r.remote.address.unmapped, rp: r.remote.port)
                if byTuple[t] == nil { byTuple[t] = i }
            }
            func serverSide(_ i: Int) -> Bool {
                let r = records[i]
                let mine = serves(servers, r)
                let t = Tuple(proto: r.proto, l: r.remote.address.unmapped, lp: r.remote.port, r: r.local.address.unmapped, rp: r.local.port)
                guard let p = byTuple[t], p != i else { return mine }
                let peer = records[p]
                let theirs = serves(servers, peer)
                if mine != theirs { return mine }
                if range.contains(r.local.port) != range.contains(peer.local.port) { return !range.contains(r.local.port) }
                if r.local.port != peer.local.port { return r.local.port < peer.local.port }
                return r.local.address.unmapped < peer.local.address.unmapped
            }
            struct Dest: Hashable { var proto: TransportProtocol; var remote: Endpoint }
            var ports: [Dest: [IPAddress: Set<UInt16>]] = [:]
            var sockets: [Dest: Int] = [:]
            for (i, r) in records.enumerated()
            where r.state != .listen && Self.isConnection(r) && range.contains(r.local.port) && !serverSide(i) {
                let d = Dest(proto: r.proto, remote: Endpoint(address: r.remote.address.unmapped, port: r.remote.port))
                ports[d, default: [:]][r.local.address.unmapped, default: []].insert(r.local.port)
                sockets[d, default: 0] += 1
            }
            return ports.map { d, byLocal in
                let busiest = byLocal.max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }!
                return PortPressure(proto: d.proto, remote: d.remote, localAddress: busiest.key, localPorts: busiest.value.count,
                                    connections: sockets[d]!, rangeSize: range.size)
            }.sorted {
                if $0.localPorts != $1.localPorts { return $0.localPorts > $1.localPorts }
                return ($0.proto, $0.remote) < ($1.proto, $1.remote)
            }
        }

        /// (established, peers, top peers) per TCP listener, in record order.
        func listeners(topPeers: Int) -> [(Int, Int, Int, [PeerCount])] {
            struct Bind: Hashable { var family: AddressFamily; var address: IPAddress; var port: UInt16 }
            var byBind: [Bind: Int] = [:]
            var listeners: [Int] = []
            for (i, r) in records.enumerated() where r.proto == .tcp && r.state == .listen {
                let k = Bind(family: r.family, address: r.local.address, port: r.local.port)
                if byBind[k] == nil { byBind[k] = listeners.count }
                listeners.append(i)
            }
            var established = [Int](repeating: 0, count: listeners.count)
            var peers = [[IPAddress: Int]](repeating: [:], count: listeners.count)
            for r in records where r.proto == .tcp && r.state == .established {
                let wild = r.family == .inet ? IPAddress.anyIPv4 : .anyIPv6
                guard let j = byBind[Bind(family: r.family, address: r.local.address, port: r.local.port)]
                    ?? byBind[Bind(family: r.family, address: wild, port: r.local.port)] else { continue }
                established[j] += 1
                peers[j][r.remote.address, default: 0] += 1
            }
            return listeners.indices.map { j in
                let top = peers[j].map { PeerCount(address: $0.key, connections: $0.value) }
                    .sorted { ($1.connections, $0.address) < ($0.connections, $1.address) }.prefix(topPeers)
                return (listeners[j], established[j], peers[j].count, Array(top))
            }
        }
    }

    static func snapshot(_ g: inout SplitMix, count: Int) -> [SocketRecord] {
        let v4 = ["127.0.0.1", "127.0.0.2", "10.0.0.1", "0.0.0.0"].map { IPAddress($0)! }
        let v6 = ["::1", "::", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "fe80::1"].map { IPAddress($0)! }
        let ports: [UInt16] = [80, 443, 1000, 1001, 1002, 1003, 1004, 1005, 2000, 0]
        let states: [SocketState] = [.established, .established, .established, .listen, .timeWait, .synSent, .close, .closeWait]
        func pick<T>(_ xs: [T]) -> T { xs[Int(g.next() % UInt64(xs.count))] }
        var out: [SocketRecord] = []
        for _ in 0..<count {
            let inet6 = g.next() % 3 == 0
            let pool = inet6 ? v6 : v4
            let proto: TransportProtocol = g.next() % 4 == 0 ? .udp : .tcp
            let local = Endpoint(address: pick(pool), port: pick(ports))
            let remote = Endpoint(address: pick(pool), port: pick(ports))
            var r = SocketRecord(proto: proto, family: inet6 ? .inet6 : .inet, state: pick(states), local: local,
                                 remote: remote, recvQueue: 0, sendQueue: 0, uid: 0, inode: 1)
            if r.state == .listen { r.remote = .inet(Endpoint(address: inet6 ? .anyIPv6 : .anyIPv4, port: 0)) }
            out.append(r)
            // Often the other end of the same connection too, so that local pairs are common.
            if Model.isConnection(r) && r.state == .established && g.next() % 2 == 0 {
                var peer = r
                peer.local = r.remote; peer.remote = r.local
                out.append(peer)
            }
        }
        return out
    }

    @Test func ephemeralReportMatchesTheModel() throws {
        var g = SplitMix(seed: 0x5EED_0001)
        let range = try #require(EphemeralRange(low: 1000, high: 1005))
        for round in 0..<300 {
            let records = Self.snapshot(&g, count: 1 + round % 60)
            let got = EphemeralPressure.report(records, range: range).destinations
            let want = Model(records: records, range: range).ephemeral()
            #expect(got == want, "round \(round)")
        }
    }

    @Test func listenerCountsMatchTheModel() {
        var g = SplitMix(seed: 0x5EED_0002)
        for round in 0..<300 {
            let records = Self.snapshot(&g, count: 1 + round % 60)
            for top in [0, 2] {
                let got = ListenerAnalysis.aggregate(records, topPeers: top, record: { $0 }, isClosed: { _ in false })
                let want = Model(records: records, range: .linuxDefault).listeners(topPeers: top)
                #expect(got.map(\.index) == want.map(\.0), "round \(round)")
                #expect(got.map(\.established) == want.map(\.1), "round \(round)")
                #expect(got.map(\.peers) == want.map(\.2), "round \(round)")
                #expect(got.map(\.topPeers) == want.map(\.3), "round \(round)")
            }
        }
    }

    /// Enough sockets that the tables grow several times: one destination with 3,000 source
    /// ports from one address and 1,000 from another; a listener with 3,000 peers.
    @Test func largeSnapshotsGrowTheTables() throws {
        let range = try #require(EphemeralRange(low: 10000, high: 19999))
        let server = Endpoint(address: IPAddress("10.0.0.9")!, port: 443)
        var records: [SocketRecord] = []
        for i in 0..<4000 {
            let local = Endpoint(address: IPAddress(i < 3000 ? "10.0.0.1" : "10.0.0.2")!, port: UInt16(10000 + i % 3000))
            records.append(SocketRecord(proto: .tcp, family: .inet, state: .established, local: local, remote: server,
                                        recvQueue: 0, sendQueue: 0, uid: 0, inode: 1))
        }
        let d = try #require(EphemeralPressure.report(records, range: range).destinations.first)
        #expect(d.localPorts == 3000 && d.connections == 4000 && d.localAddress == IPAddress("10.0.0.1")!)

        var served = [SocketRecord(proto: .tcp, family: .inet, state: .listen, local: Endpoint(address: .anyIPv4, port: 80),
                                   remote: Endpoint(address: .anyIPv4, port: 0), recvQueue: 0, sendQueue: 128, uid: 0, inode: 1)]
        for i in 0..<6000 {
            let peer = Endpoint(address: IPAddress(ipv4: 0x0A01_0000 + UInt32(i % 3000)), port: UInt16(20000 + i))
            served.append(SocketRecord(proto: .tcp, family: .inet, state: .established,
                                       local: Endpoint(address: IPAddress("10.0.0.1")!, port: 80), remote: peer,
                                       recvQueue: 0, sendQueue: 0, uid: 0, inode: 1))
        }
        let s = try #require(ListenerAnalysis.aggregate(served, topPeers: 1, record: { $0 }, isClosed: { _ in false }).first)
        #expect(s.established == 6000 && s.peers == 3000 && s.topPeers.first?.connections == 2)
        #expect(s.topPeers.first?.address == IPAddress(ipv4: 0x0A01_0000))
    }
}
