import Foundation
import SockscopeAnalysis
import SockscopeModel
import TestSupport
import Testing

/// Synthetic records for the port insight analyses.
enum Synth {
    static func ep(_ a: String, _ p: UInt16) -> Endpoint { Endpoint(address: IPAddress(a) ?? .anyIPv4, port: p) }

    static func rec(_ state: SocketState, _ local: Endpoint, _ remote: Endpoint = ep("0.0.0.0", 0),
                    proto: TransportProtocol = .tcp, uid: UInt32 = 0, owners: [(Int32, String)]? = nil,
                    queue: UInt32 = 0, backlog: UInt32 = 0) -> SocketRecord {
        var r = SocketRecord(proto: proto, family: local.address.isIPv6 ? .inet6 : .inet, state: state,
                             local: local, remote: remote, recvQueue: queue, sendQueue: backlog, uid: uid, inode: 1)
        r.processes = owners.map { $0.map { SocketOwner(pid: $0.0, rawName: Array($0.1.utf8), uid: uid, fd: 3) } }
        return r
    }
}

@Suite struct RowServiceTests {
    @Test func rowServiceIsTheServedPort() {
        var s = ServiceTable()
        s.add(name: "https", port: 443, proto: .tcp)
        s.add(name: "ssh", port: 22, proto: .tcp)
        let listener = Synth.rec(.listen, Synth.ep("0.0.0.0", 443))
        let inbound = Synth.rec(.established, Synth.ep("10.0.0.1", 22), Synth.ep("10.0.0.9", 443))
        let outbound = Synth.rec(.established, Synth.ep("10.0.0.1", 50123), Synth.ep("10.0.0.9", 443))
        #expect(s.name(describing: listener) == "https")
        #expect(s.name(describing: inbound) == "https", "the remote port's name first, as the live view shows it")
        #expect(s.name(describing: outbound) == "https")
        #expect(s.name(describing: Synth.rec(.established, Synth.ep("10.0.0.1", 50123), Synth.ep("10.0.0.9", 9))) == nil)
    }
}

@Suite struct EphemeralPressureTests {
    /// A range of 10 ports (1000–1009): six source ports from one local address to one destination
    /// is 60 %, over half.
    @Test func syntheticSnapshotWithSmallRange() throws {
        let range = try #require(EphemeralRange(low: 1000, high: 1009))
        var rs: [SocketRecord] = []
        let backend = Synth.ep("10.0.0.5", 443)
        for p in UInt16(1000)...1004 { rs.append(Synth.rec(.established, Synth.ep("10.0.0.2", p), backend)) }
        rs.append(Synth.rec(.timeWait, Synth.ep("10.0.0.2", 1005), backend))  // TIME_WAIT holds its port too
        for p in UInt16(1000)...1002 { rs.append(Synth.rec(.established, Synth.ep("10.0.0.3", p), backend)) }
        rs.append(Synth.rec(.established, Synth.ep("10.0.0.2", 2000), backend))  // bound outside the range
        // IPv4-mapped and plain IPv4 are the same destination.
        rs.append(Synth.rec(.established, Synth.ep("::ffff:10.0.0.2", 1009), Synth.ep("::ffff:10.0.0.5", 443)))
        for p in UInt16(1000)...1001 { rs.append(Synth.rec(.established, Synth.ep("10.0.0.2", p), Synth.ep("10.0.0.6", 80))) }
        // A listener whose port lies in the range, with an accepted connection: not a client.
        rs.append(Synth.rec(.listen, Synth.ep("0.0.0.0", 1008)))
        rs.append(Synth.rec(.established, Synth.ep("10.0.0.2", 1008), Synth.ep("10.9.9.9", 5555)))
        // UDP: a connected socket counts; an unconnected one has no destination.
        rs.append(Synth.rec(.established, Synth.ep("10.0.0.2", 1007), Synth.ep("10.0.0.53", 53), proto: .udp))
        rs.append(Synth.rec(.close, Synth.ep("0.0.0.0", 1006), proto: .udp))

        let report = EphemeralPressure.report(rs, range: range)
        #expect(report.range.size == 10)
        let first = try #require(report.destinations.first)
        #expect(first.remote == backend && first.proto == .tcp)
        #expect(first.localAddress.description == "10.0.0.2")
        #expect(first.localPorts == 7, "1000-1005 and 1009 from 10.0.0.2")
        #expect(first.connections == 10, "every socket towards it, from both local addresses")
        #expect(first.percent == 70 && first.isOverHalf)
        let second = try #require(report.destinations.first { $0.remote == Synth.ep("10.0.0.6", 80) })
        #expect(second.localPorts == 2 && second.percent == 20 && !second.isOverHalf)
        #expect(report.destinations.contains { $0.proto == .udp && $0.remote.port == 53 && $0.localPorts == 1 })
        #expect(!report.destinations.contains { $0.remote == Synth.ep("10.9.9.9", 5555) }, "accepted, not a client")
        #expect(report.warnings.map(\.remote) == [backend])
        #expect(report.destinations.count == 3)

        // `top` keeps the busiest, and never drops one over half.
        #expect(EphemeralPressure.report(rs, range: range, top: 1).destinations.map(\.remote) == [backend])
        #expect(EphemeralPressure.report(rs, range: range, top: 0).destinations.map(\.remote) == [backend])
        // Exactly half is not over half.
        let half = (UInt16(1000)...1004).map { Synth.rec(.established, Synth.ep("10.0.0.2", $0), backend) }
        #expect(EphemeralPressure.report(half, range: range).warnings.isEmpty)
        #expect(EphemeralPressure.report([], range: range).destinations.isEmpty)
    }

    @Test func localPairCountsOnlyItsClientEnd() throws {
        let range = try #require(EphemeralRange(low: 40000, high: 40009))
        // Both ends inside the range and no listener in sight: the lower port serves.
        let a = Synth.rec(.established, Synth.ep("127.0.0.1", 40001), Synth.ep("127.0.0.1", 40005))
        let b = Synth.rec(.established, Synth.ep("127.0.0.1", 40005), Synth.ep("127.0.0.1", 40001))
        let report = EphemeralPressure.report([a, b], range: range)
        #expect(report.destinations.map(\.remote) == [Synth.ep("127.0.0.1", 40001)])
    }
}

@Suite struct ListenerAnalysisTests {
    @Test func connectionsGoToTheExactOrWildcardListener() throws {
        var rs: [SocketRecord] = []
        rs.append(Synth.rec(.listen, Synth.ep("0.0.0.0", 80), owners: [(10, "nginx")], queue: 3, backlog: 4))
        rs.append(Synth.rec(.listen, Synth.ep("127.0.0.1", 80), owners: [(11, "local-nginx")], queue: 0, backlog: 128))
        rs.append(Synth.rec(.listen, Synth.ep("::", 80), queue: 1, backlog: 0))
        for (peer, n) in [("10.0.0.7", 3), ("10.0.0.8", 1), ("10.0.0.9", 2)] {
            for i in 0..<n { rs.append(Synth.rec(.established, Synth.ep("10.0.0.1", 80), Synth.ep(peer, 40000 + UInt16(i)))) }
        }
        rs.append(Synth.rec(.established, Synth.ep("127.0.0.1", 80), Synth.ep("127.0.0.1", 41000)))
        rs.append(Synth.rec(.established, Synth.ep("::ffff:10.0.0.1", 80), Synth.ep("::ffff:10.0.0.7", 41000)))
        rs.append(Synth.rec(.established, Synth.ep("10.0.0.1", 41000), Synth.ep("10.0.0.7", 80)))  // a client, not served
        rs.append(Synth.rec(.timeWait, Synth.ep("10.0.0.1", 80), Synth.ep("10.0.0.7", 39000)))  // not established

        let rows = ListenerAnalysis.health(rs, backlogKnown: true, topPeers: 2)
        #expect(rows.count == 3)
        let wild = try #require(rows.first { $0.listener.local.address == .anyIPv4 })
        #expect(wild.established == 6 && wild.peers == 3)
        #expect(wild.topPeers == [PeerCount(address: IPAddress("10.0.0.7")!, connections: 3),
                                  PeerCount(address: IPAddress("10.0.0.9")!, connections: 2)])
        #expect(wild.acceptQueue == 3 && wild.backlog == 4 && wild.queuePercent == 75 && wild.isQueueOverHalf)
        let local = try #require(rows.first { $0.listener.local.address.description == "127.0.0.1" })
        #expect(local.established == 1 && local.peers == 1 && !local.isQueueOverHalf && local.queuePercent == 0)
        let v6 = try #require(rows.first { $0.listener.family == .inet6 })
        #expect(v6.established == 1 && v6.isQueueOverHalf && v6.queuePercent == nil, "backlog 0 still admits one")

        // /proc has no backlog: nothing is flagged from its zero.
        let proc = ListenerAnalysis.health(rs, backlogKnown: false)
        #expect(proc.allSatisfy { $0.backlog == nil && !$0.isQueueOverHalf && $0.queuePercent == nil })
        #expect(proc.first { $0.listener.local.address == .anyIPv4 }?.topPeers.count == 3)
    }

    @Test func closedListenersAreListedButALiveOneTakesTheConnections() {
        let closedL = Synth.rec(.listen, Synth.ep("0.0.0.0", 80))
        let liveL = Synth.rec(.listen, Synth.ep("0.0.0.0", 80))
        let conn = Synth.rec(.established, Synth.ep("10.0.0.1", 80), Synth.ep("10.0.0.2", 5000))
        let closedConn = Synth.rec(.established, Synth.ep("10.0.0.1", 80), Synth.ep("10.0.0.3", 5000))
        let items: [(SocketRecord, Bool)] = [(closedL, true), (liveL, false), (conn, false), (closedConn, true)]
        let stats = ListenerAnalysis.aggregate(items, record: { $0.0 }, isClosed: { $0.1 })
        #expect(stats.map(\.index) == [0, 1])
        #expect(stats.map(\.established) == [0, 1])
        #expect(stats.allSatisfy { $0.topPeers.isEmpty }, "no top peers unless asked")
    }
}

@Suite struct ConnectionMapTests {
    @Test func edgesJoinLocalPairsAndSeparateDirections() throws {
        var rs: [SocketRecord] = []
        // A local server "db" on 5432 with two clients from "app", one waiting in the accept queue.
        rs.append(Synth.rec(.listen, Synth.ep("0.0.0.0", 5432), owners: [(100, "db")]))
        for p: UInt16 in [40001, 40002] {
            var c = Synth.rec(.established, Synth.ep("127.0.0.1", p), Synth.ep("127.0.0.1", 5432), owners: [(200, "app")])
            c.tcpInfo = TCPInfo(bytesAcked: 101, bytesReceived: 1000)
            rs.append(c)
        }
        rs.append(Synth.rec(.established, Synth.ep("127.0.0.1", 5432), Synth.ep("127.0.0.1", 40001), owners: [(100, "db")]))
        rs.append(Synth.rec(.established, Synth.ep("127.0.0.1", 5432), Synth.ep("127.0.0.1", 40002), owners: []))
        // IPv4 client to a dual-stack listener: the server end is IPv4-mapped.
        rs.append(Synth.rec(.listen, Synth.ep("::", 8080), owners: [(300, "web")]))
        rs.append(Synth.rec(.established, Synth.ep("127.0.0.1", 40003), Synth.ep("127.0.0.1", 8080), owners: [(200, "app")]))
        rs.append(Synth.rec(.established, Synth.ep("::ffff:127.0.0.1", 8080), Synth.ep("::ffff:127.0.0.1", 40003), owners: [(301, "web")]))
        // Inbound from elsewhere to "web", twice from one host.
        for p: UInt16 in [50001, 50002] {
            rs.append(Synth.rec(.established, Synth.ep("::ffff:10.0.0.1", 8080), Synth.ep("::ffff:192.0.2.7", p), owners: [(300, "web")]))
        }
        // Outbound from "app" to a remote https, and from unreadable sockets of uid 33.
        rs.append(Synth.rec(.established, Synth.ep("10.0.0.1", 40100), Synth.ep("198.51.100.1", 443), owners: [(200, "app"), (201, "app")]))
        rs.append(Synth.rec(.established, Synth.ep("10.0.0.1", 40101), Synth.ep("198.51.100.1", 443), uid: 33, owners: []))
        rs.append(Synth.rec(.established, Synth.ep("10.0.0.1", 40102), Synth.ep("198.51.100.1", 443), uid: 33, owners: []))
        // Not established: no edge.
        rs.append(Synth.rec(.timeWait, Synth.ep("10.0.0.1", 40103), Synth.ep("198.51.100.1", 443)))
        // A client on this host whose server socket is in no snapshot, but whose listener is.
        rs.append(Synth.rec(.established, Synth.ep("10.0.0.1", 40104), Synth.ep("10.0.0.1", 8080), owners: [(400, "curl")]))

        let edges = ConnectionMapper.edges(rs)
        func edge(_ kind: MapEdge.Kind, _ client: MapNode, _ server: MapNode, _ port: UInt16) -> MapEdge? {
            edges.first { $0.kind == kind && $0.client == client && $0.server == server && $0.port == port }
        }
        let app = MapNode.process(Array("app".utf8)), db = MapNode.process(Array("db".utf8))
        let web = MapNode.process(Array("web".utf8))
        let toDB = try #require(edge(.local, app, db, 5432))
        #expect(toDB.connections == 2, "both clients, the queued one attributed to the listener's owner")
        #expect(toDB.clientPIDs == [200] && toDB.serverPIDs == [100])
        #expect(toDB.bytesToServer == 202 && toDB.bytesToClient == 2000 && toDB.bytes == 2202)
        let toWeb = try #require(edge(.local, app, web, 8080))
        #expect(toWeb.connections == 1 && toWeb.serverPIDs == [301])
        let inbound = try #require(edge(.inbound, .remote(IPAddress("192.0.2.7")!), web, 8080))
        #expect(inbound.connections == 2 && inbound.serverPIDs == [300] && inbound.bytes == nil)
        let out = try #require(edge(.outbound, app, .remote(IPAddress("198.51.100.1")!), 443))
        #expect(out.connections == 1 && out.clientPIDs == [200, 201])
        #expect(edge(.outbound, .user(33), .remote(IPAddress("198.51.100.1")!), 443)?.connections == 2)
        #expect(edge(.local, .process(Array("curl".utf8)), web, 8080)?.connections == 1)
        #expect(edges.count == 6, "\(edges)")
        #expect(edges.first?.connections == 2, "most connections first")
        #expect(edges.reduce(0) { $0 + $1.connections } == 9)
        #expect(out.involves(pid: 201) && !out.involves(pid: 100) && toDB.involves(processName: Array("db".utf8)))
    }

    @Test func pairWithoutListenerOrOwners() {
        // Both ends on this host, no listener and no owners: the port outside the range serves.
        let a = Synth.rec(.established, Synth.ep("127.0.0.1", 45000), Synth.ep("127.0.0.1", 7000), uid: 5)
        let b = Synth.rec(.established, Synth.ep("127.0.0.1", 7000), Synth.ep("127.0.0.1", 45000), uid: 6)
        let self1 = Synth.rec(.established, Synth.ep("127.0.0.1", 46000), Synth.ep("127.0.0.1", 46000), uid: 7)
        let edges = ConnectionMapper.edges([b, a, self1])
        #expect(edges.count == 2)
        #expect(edges.contains { $0.kind == .local && $0.client == .user(5) && $0.server == .localPort(7000) && $0.port == 7000 })
        #expect(edges.contains { $0.kind == .local && $0.server == .localPort(46000) })
        #expect(ConnectionMapper.edges([]).isEmpty)
    }
}
