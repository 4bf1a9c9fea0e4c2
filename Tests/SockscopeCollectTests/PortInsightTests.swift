import Foundation
import SockscopeCollect
import SockscopeModel
import TestSupport
import Testing

/// Synthetic records for the port insight analyses (issue 7).
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

@Suite struct ServicesAndClassesTests {
    @Test func fixtureServicesAreProtocolAwareAndClassified() throws {
        let table = ServicesParser.parse(try FixtureFiles.bytes("services-sample.txt"))
        let ctx = PortContext(services: table, ephemeral: EphemeralRange(low: 32768, high: 60999))
        #expect(ctx.service(22, .tcp) == "ssh")
        #expect(ctx.service(22, .udp) == nil, "ssh is listed for tcp only")
        #expect(ctx.service(443, .tcp) == "https", "the first name for a port wins")
        #expect(ctx.service(443, .udp) == "https")
        #expect(ctx.service(8080, .tcp) == "http-alt")
        #expect(table.port(named: "webcache", proto: .tcp) == 8080, "aliases resolve")
        #expect(ctx.service(50000, .udp) == "sample-dyn" && ctx.service(50000, .tcp) == nil)
        #expect(ctx.service(0, .tcp) == nil, "port 0 is no port")
        #expect(table.ports(named: "noport").isEmpty && table.ports(named: "toobig").isEmpty)
        #expect(table.ports(named: "othersctp").isEmpty, "only tcp and udp are kept")
        #expect([22, 443, 8080, 50000].map { PortClass(port: $0) } == [.system, .system, .registered, .dynamic])
        #expect(PortClass(port: 0) == .system && PortClass(port: 1023) == .system && PortClass(port: 1024) == .registered)
        #expect(PortClass(port: 49151) == .registered && PortClass(port: 49152) == .dynamic && PortClass(port: 65535) == .dynamic)
        let range = try #require(ctx.ephemeral)
        #expect(!range.contains(22) && !range.contains(8080) && range.contains(50000) && !range.contains(61000))
        #expect(range.size == 28232)
    }

    @Test func realServicesFile() throws {
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: "/etc/services")))
        let table = ServicesParser.parse(bytes)
        #expect(table.name(port: 22, proto: .tcp) == "ssh")
        #expect(table.name(port: 443, proto: .tcp) == "https")
        #expect(table.name(port: 8080, proto: .tcp) == "http-alt")
        // 50000 is in the dynamic range, which IANA never assigns.
        #expect(table.name(port: 50000, proto: .tcp) == nil)
        #expect(PortClass(port: 50000) == .dynamic)
        #expect(ServicesParser.load() == table)
    }

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

    @Test func ephemeralRangeParser() {
        #expect(EphemeralRangeParser.parse(Array("32768\t60999\n".utf8)) == EphemeralRange(low: 32768, high: 60999))
        #expect(EphemeralRangeParser.parse(Array("1000 1009".utf8))?.size == 10)
        for bad in ["", "5 4", "1 2 3", "70000 70001", "-1 5", "a b", "1\u{0}2 5", "0x10 20", "00000000001 2"] {
            #expect(EphemeralRangeParser.parse(Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(EphemeralRangeParser.load(procRoot: "/nonexistent") == nil)
        #expect(EphemeralRangeParser.load() != nil, "this host's range is readable")
    }
}

@Suite struct NetstatParserTests {
    /// A real /proc/net/netstat, captured with ListenOverflows set to 17 and ListenDrops to 19.
    @Test func listenCountersFromFixture() throws {
        let bytes = try FixtureFiles.bytes("proc-net-netstat.txt")
        #expect(NetstatParser.listenCounters(bytes) == ListenCounters(overflows: 17, drops: 19))
        let all = NetstatParser.parse(bytes)
        #expect(all["TcpExt"]?["SyncookiesSent"] != nil)
        #expect(all["IpExt"]?["InOctets"] != nil)
    }

    @Test func malformedInputIsSkipped() {
        let cases: [(String, ListenCounters?)] = [
            ("", nil),
            ("TcpExt: ListenOverflows ListenDrops\n", nil),  // header without values
            ("TcpExt: 1 2\n", nil),  // values without header
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4\n", ListenCounters(overflows: 3, drops: 4)),
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3\n", nil),  // a value missing
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 x\n", nil),
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4 5 6\n", ListenCounters(overflows: 3, drops: 4)),
            ("IpExt: A B\nTcpExt: ListenOverflows ListenDrops\r\nTcpExt: 7 8\r\nIpExt: 1 2\n", ListenCounters(overflows: 7, drops: 8)),
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 99999999999999999999999 4\n", nil),
            (":\n: :\n\u{0}\u{FF}", nil),
        ]
        for (text, expected) in cases {
            #expect(NetstatParser.listenCounters(Array(text.utf8)) == expected, "\(text.debugDescription)")
        }
        // Arbitrary bytes never trap.
        var rng = SplitMix(seed: 7)
        for _ in 0..<200 {
            let n = Int(rng.next() % 300)
            let alphabet = Array("TcpExt: ListenDrops 0123456789\n\t".utf8) + [0xFF, 0x00]
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            _ = NetstatParser.parse(bytes)
            _ = EphemeralRangeParser.parse(bytes)
        }
        #expect(NetstatParser.loadListenCounters(procRoot: "/nonexistent") == nil)
        #expect(NetstatParser.loadListenCounters() != nil, "this host's counters are readable")
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
