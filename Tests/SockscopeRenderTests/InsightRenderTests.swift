import Foundation
import SockscopeModel
import SockscopeRender
import TestSupport
import Testing

/// Renderers of the port insight views (issue 7).
enum InsightFixtures {
    static var services: ServiceTable {
        var s = ServiceTable()
        s.add(name: "ssh", port: 22, proto: .tcp)
        s.add(name: "https", port: 443, proto: .tcp)
        s.add(name: "https", port: 443, proto: .udp)
        s.add(name: "http-alt", port: 8080, proto: .tcp)
        s.add(name: "q\"uote\u{1B}[1m", port: 7777, proto: .tcp)  // a hostile services file
        return s
    }

    static let context = PortContext(services: services, ephemeral: EphemeralRange(low: 32768, high: 60999))

    static func ep(_ a: String, _ p: UInt16) -> Endpoint { Endpoint(address: IPAddress(a)!, port: p) }

    static var records: [SocketRecord] {
        var a = SocketRecord(proto: .tcp, family: .inet, state: .listen, local: ep("0.0.0.0", 22), remote: ep("0.0.0.0", 0),
                             sendQueue: 128, inode: 1)
        a.processes = [SocketOwner(pid: 1, rawName: Array("sshd".utf8), uid: 0, fd: 3)]
        let b = SocketRecord(proto: .tcp, family: .inet6, state: .established, local: ep("::ffff:10.0.0.1", 50000),
                             remote: ep("2001:db8::1", 443), inode: 2)
        let c = SocketRecord(proto: .udp, family: .inet, state: .established, local: ep("10.0.0.1", 8080),
                             remote: ep("10.0.0.2", 443), inode: 3)
        let d = SocketRecord(proto: .tcp, family: .inet, state: .established, local: ep("10.0.0.1", 40000),
                             remote: ep("10.0.0.2", 7777), inode: 4)
        return [a, b, c, d]
    }
}

func hostileOrNot(_ bytes: [UInt8]) -> Bool {
    bytes.contains { $0 < 0x20 && $0 != 0x0A } || bytes.contains(0x7F)
}

@Suite struct PortJSONTests {
    func render(_ rs: [SocketRecord], _ ctx: PortContext?) -> [UInt8] {
        var out: [UInt8] = []
        JSONRenderer(includeCookie: true, ports: ctx).renderArray(rs, into: &out, flush: { _ in })
        return out
    }

    func codable(_ rs: [SocketRecord], _ ctx: PortContext?) throws -> Data {
        let e = JSONEncoder()
        if let ctx, let k = PortContext.userInfoKey { e.userInfo[k] = ctx }
        return try e.encode(rs)
    }

    @Test(arguments: [InsightFixtures.context, PortContext(services: InsightFixtures.services),
                      PortContext(ephemeral: EphemeralRange(low: 1000, high: 2000))])
    func handWrittenEqualsCodableWithPortKeys(ctx: PortContext) throws {
        let rs = InsightFixtures.records
        let fast = try JSONSerialization.jsonObject(with: Data(render(rs, ctx))) as? NSArray
        let slow = try JSONSerialization.jsonObject(with: try codable(rs, ctx)) as? NSArray
        #expect(fast != nil && fast == slow)
        // The objects still decode as records: only keys were added.
        let decoded = try JSONDecoder().decode([SocketRecord].self, from: Data(render(rs, ctx)))
        #expect(decoded.map(\.local) == rs.map(\.local) && decoded.map(\.remote) == rs.map(\.remote))
    }

    @Test func portKeysAreAddedAndNothingElseChanges() throws {
        let rs = InsightFixtures.records
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(render(rs, InsightFixtures.context))) as? [[String: Any]])
        let plain = try #require(try JSONSerialization.jsonObject(with: Data(render(rs, nil))) as? [[String: Any]])
        func end(_ row: [String: Any], _ key: String) -> [String: Any] { row[key] as? [String: Any] ?? [:] }
        #expect(end(rows[0], "local")["service"] as? String == "ssh")
        #expect(end(rows[0], "local")["class"] as? String == "system")
        #expect(end(rows[0], "local")["ephemeral"] as? Bool == false)
        #expect(Set(end(rows[0], "remote").keys) == ["address", "port"], "port 0 is no port: no class")
        #expect(end(rows[1], "local")["service"] == nil && end(rows[1], "local")["class"] as? String == "dynamic")
        #expect(end(rows[1], "local")["ephemeral"] as? Bool == true)
        #expect(end(rows[1], "remote")["service"] as? String == "https")
        #expect(end(rows[2], "local")["service"] == nil, "8080 is named for tcp only")
        #expect(end(rows[2], "remote")["service"] as? String == "https", "https is named for udp too")
        #expect(end(rows[3], "remote")["service"] as? String == "q\"uote\u{1B}[1m", "escaped, round-trips")
        #expect(end(rows[3], "remote")["class"] as? String == "registered")
        #expect(!hostileOrNot(render(rs, InsightFixtures.context)))
        for (a, b) in zip(rows, plain) {
            var a = a, b = b
            for k in ["local", "remote"] {
                var e = a[k] as? [String: Any] ?? [:]
                for extra in ["service", "class", "ephemeral"] { e.removeValue(forKey: extra) }
                a[k] = e
                b[k] = b[k] as? [String: Any] ?? [:]
            }
            #expect(NSDictionary(dictionary: a) == NSDictionary(dictionary: b))
        }
        // Without a range, no `ephemeral`; without services (-n), no `service`.
        let numeric = try #require(try JSONSerialization.jsonObject(with: Data(render(rs, PortContext()))) as? [[String: Any]])
        #expect(end(numeric[0], "local")["service"] == nil && end(numeric[0], "local")["ephemeral"] == nil)
        #expect(end(numeric[0], "local")["class"] as? String == "system")
    }
}

@Suite struct ListenersRendererTests {
    var rows: [ListenerHealth] {
        var l = SocketRecord(proto: .tcp, family: .inet, state: .listen, local: InsightFixtures.ep("127.0.0.1", 8080),
                             remote: InsightFixtures.ep("0.0.0.0", 0), recvQueue: 2, sendQueue: 1, uid: 0, inode: 9)
        l.processes = [SocketOwner(pid: 42, rawName: Array("we\u{1B}]0;b".utf8), uid: 0, fd: 5)]
        let m = SocketRecord(proto: .tcp, family: .inet6, state: .listen, local: InsightFixtures.ep("::", 22),
                             remote: InsightFixtures.ep("::", 0), inode: 10)
        return [ListenerHealth(listener: l, backlog: 1, established: 3, peers: 2,
                               topPeers: [PeerCount(address: IPAddress("10.0.0.7")!, connections: 2),
                                          PeerCount(address: IPAddress("2001:db8::5")!, connections: 1)]),
                ListenerHealth(listener: m, backlog: nil, established: 0, peers: 0, topPeers: [])]
    }

    @Test func goldenTable() {
        let out = ListenersRenderer(ports: InsightFixtures.context).table(rows, counters: ListenCounters(overflows: 5, drops: 6))
        let expected = """
        Local Address:Port Accept-Q Fill  Estab Peers Process       Top peers
        127.0.0.1:http-alt 2/1      200%! 3     2     42/we\\x1b]0;b 10.0.0.7(2) [2001:db8::5](1)
        [::]:ssh           0/-      -     0     0
        Since boot, all listeners: 5 listen overflows, 6 listen drops

        """
        #expect(String(decoding: out, as: UTF8.self) == expected)
        let bare = ListenersRenderer(ports: PortContext(), header: false).table(rows, counters: ListenCounters(overflows: 5, drops: 6))
        #expect(String(decoding: bare, as: UTF8.self).split(separator: "\n").count == 2, "-H: rows only")
        #expect(String(decoding: bare, as: UTF8.self).hasPrefix("127.0.0.1:8080 "), "-n: numbers")
    }

    @Test func jsonObjects() throws {
        let out = ListenersRenderer(ports: InsightFixtures.context).json(rows)
        #expect(!hostileOrNot(out))
        let arr = try #require(try JSONSerialization.jsonObject(with: Data(out)) as? [[String: Any]])
        #expect(arr.count == 2)
        #expect(arr[0]["accept_queue"] as? Int == 2 && arr[0]["backlog"] as? Int == 1)
        #expect(arr[0]["queue_percent"] as? Int == 200 && arr[0]["queue_over_half"] as? Bool == true)
        #expect(arr[0]["established"] as? Int == 3 && arr[0]["peers"] as? Int == 2)
        #expect((arr[0]["top_peers"] as? [[String: Any]])?.map { $0["connections"] as? Int } == [2, 1])
        #expect((arr[0]["local"] as? [String: Any])?["service"] as? String == "http-alt")
        #expect((arr[0]["processes"] as? [[String: Any]])?.first?["name"] as? String == "we\u{1B}]0;b")
        #expect(arr[1]["backlog"] == nil && arr[1]["queue_percent"] == nil && arr[1]["queue_over_half"] as? Bool == false)
        #expect(arr[1]["processes"] == nil, "owners not scanned: no key")
        #expect(String(decoding: ListenersRenderer(ports: PortContext()).json([]), as: UTF8.self) == "[]\n")
    }
}

@Suite struct MapRendererTests {
    static let hostile: [UInt8] = Array("a\"b\\c&amp;\n\u{1B}[31m}{<>".utf8) + [0xFF, 0xC0]

    var edges: [MapEdge] {
        [MapEdge(proto: .tcp, kind: .local, client: .process(Self.hostile), server: .process(Array("db".utf8)), port: 5432,
                 clientPIDs: [7, 8], serverPIDs: [9], connections: 3, bytesToServer: 10, bytesToClient: 20),
         MapEdge(proto: .tcp, kind: .outbound, client: .user(33), server: .remote(IPAddress("2001:db8::1")!), port: 443,
                 connections: 2),
         MapEdge(proto: .udp, kind: .inbound, client: .remote(IPAddress("10.0.0.9")!), server: .localPort(7777), port: 7777,
                 connections: 1)]
    }

    var pressure: EphemeralReport {
        EphemeralReport(range: EphemeralRange(low: 1000, high: 1009)!, destinations: [
            PortPressure(proto: .tcp, remote: InsightFixtures.ep("2001:db8::1", 443), localAddress: IPAddress("2001:db8::2")!,
                         localPorts: 6, connections: 7, rangeSize: 10)])
    }

    @Test func goldenTable() {
        let out = String(decoding: MapRenderer(ports: InsightFixtures.context).table(edges, pressure: pressure), as: UTF8.self)
        let expected = #"""
        Kind     Proto Client                                   Server        Port        Conns Bytes
        local    tcp   a"b\\c&amp;\x0a\x1b[31m}{<>\xff\xc0(7,8) db(9)         5432        3     30
        outbound tcp   uid 33                                   [2001:db8::1] 443 (https) 2     -
        inbound  udp   10.0.0.9                                 port 7777     7777        1     -

        Ephemeral ports (1000-1009, 10 ports) in use per destination:
          tcp [2001:db8::1]:https from [2001:db8::2] 6 ports 60%! (7 sockets)

        """#
        #expect(out == expected)
        let hostileService = MapRenderer(ports: InsightFixtures.context).table(
            [MapEdge(proto: .tcp, kind: .outbound, client: .user(0), server: .remote(.anyIPv4), port: 7777, connections: 1)])
        #expect(!hostileOrNot(hostileService))
        #expect(String(decoding: hostileService, as: UTF8.self).contains(#"7777 (q"uote\x1b[1m)"#))
    }

    @Test func jsonObject() throws {
        let out = MapRenderer(ports: InsightFixtures.context).json(edges, pressure: pressure)
        #expect(!hostileOrNot(out))
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(out)) as? [String: Any])
        let es = try #require(obj["edges"] as? [[String: Any]])
        #expect(es.map { $0["kind"] as? String } == ["local", "outbound", "inbound"])
        #expect((es[0]["client"] as? [String: Any])?["pids"] as? [Int] == [7, 8])
        #expect((es[0]["client"] as? [String: Any])?["process"] as? String == String(decoding: Self.hostile, as: UTF8.self))
        #expect(es[0]["bytes_to_server"] as? Int == 10 && es[0]["bytes_to_client"] as? Int == 20)
        #expect(es[1]["bytes_to_server"] == nil)
        #expect((es[1]["client"] as? [String: Any])?["uid"] as? Int == 33)
        #expect((es[1]["server"] as? [String: Any])?["address"] as? String == "2001:db8::1")
        #expect(es[1]["service"] as? String == "https" && es[1]["class"] as? String == "system")
        #expect((es[2]["server"] as? [String: Any])?["port"] as? Int == 7777)
        let report = try JSONDecoder().decode(EphemeralReport.self,
                                              from: JSONSerialization.data(withJSONObject: obj["ephemeral_ports"] as Any))
        #expect(report == pressure)
        #expect((obj["ephemeral_ports"] as? [String: Any])?["size"] as? Int == 10)
        let empty = try JSONSerialization.jsonObject(with: Data(MapRenderer(ports: PortContext()).json([]))) as? [String: Any]
        #expect((empty?["edges"] as? [Any])?.isEmpty == true && empty?["ephemeral_ports"] == nil)
    }

    @Test func dotEscapesEveryLabelAndParses() throws {
        let out = MapRenderer(ports: InsightFixtures.context).dot(edges, pressure: pressure)
        let text = String(decoding: out, as: UTF8.self)
        #expect(!hostileOrNot(out))
        #expect(String(validating: out, as: UTF8.self) != nil)
        #expect(text.contains(#"label="a\"b\\\\c&amp;amp;\\x0a\\x1b[31m}{<>\\xff\\xc0\npid 7, 8""#), "\(text)")
        #expect(text.contains("color=red"), "the destination over half is marked")
        #expect(text.hasPrefix("digraph sockscope {") && text.hasSuffix("}\n"))
        #expect(text.contains(#"3 connections\n→ 10 B  ← 20 B""#), "bytes each way: \(text)")
    }

    @Test(.requires(DotTool.dot)) func dotParses() throws {
        try DotTool.check(MapRenderer(ports: InsightFixtures.context).dot(edges, pressure: pressure))
        try DotTool.check(MapRenderer(ports: PortContext()).dot([]))
    }

    /// Per-process edges (two processes of one name) make two nodes, one per pid.
    @Test func dotNodePerProcess() {
        let py = Array("python3".utf8)
        let edges = [MapEdge(proto: .tcp, kind: .local, client: .process(py), server: .process(Array("db".utf8)), port: 5432,
                             clientPIDs: [7], serverPIDs: [9], connections: 2, bytesToServer: 1536, bytesToClient: 5 << 20),
                     MapEdge(proto: .tcp, kind: .local, client: .process(py), server: .process(Array("db".utf8)), port: 5432,
                             clientPIDs: [8], serverPIDs: [9], connections: 1)]
        let text = String(decoding: MapRenderer(ports: PortContext()).dot(edges), as: UTF8.self)
        let nodes = text.split(separator: "\n").filter { $0.contains("[label=") && !$0.contains("->") }
        #expect(nodes.count == 3, "\(text)")
        #expect(text.contains(#"n0 [label="python3\npid 7"]"#) && text.contains(#"n2 [label="python3\npid 8"]"#), "\(text)")
        #expect(text.contains(#"2 connections\n→ 1.5 KiB  ← 5.0 MiB""#) && text.contains(#"1 connection""#), "\(text)")
    }

    @Test func dotEscaping() {
        var out: [UInt8] = []
        Escape.dot(Array("x\"y\\z&\n".utf8) + [0xFF], to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"x\"y\\\\z&amp;\\x0a\\xff"#)
    }
}

/// Runs Graphviz's `dot -Tsvg` on DOT text; records an issue (once) when `dot` is not installed.
/// Graphviz's `dot` (tests that call it carry `.requires(DotTool.dot)`).
enum DotTool {
    static let dot = Requirement.tool("dot", package: "graphviz")

    static func check(_ dot: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = try Self.dot.path()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["-Tsvg"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = errors
        try p.run()
        try input.fileHandleForWriting.write(contentsOf: Data(dot))
        try input.fileHandleForWriting.close()
        let svg = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "dot: \(String(decoding: err, as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(err.isEmpty, "dot warned: \(String(decoding: err, as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(String(decoding: svg, as: UTF8.self).contains("<svg"), sourceLocation: sourceLocation)
    }
}

@Suite struct InsightSummaryTests {
    @Test func summaryJSONWithInsightDecodesToTheSameSummary() throws {
        var s = SocketSummary(total: 1, protocols: [], states: [], topListeningPorts: [], topPeers: [])
        s.listenOverflows = 17
        s.listenDrops = 19
        s.ephemeralPorts = EphemeralReport(range: EphemeralRange(low: 1000, high: 1009)!, destinations: [
            PortPressure(proto: .tcp, remote: InsightFixtures.ep("10.0.0.5", 443), localAddress: IPAddress("10.0.0.2")!,
                         localPorts: 6, connections: 6, rangeSize: 10)])
        let bytes = SummaryRenderer.json(s)
        #expect(try JSONDecoder().decode(SocketSummary.self, from: Data(bytes)) == s)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(obj["listen_overflows"] as? Int == 17 && obj["listen_drops"] as? Int == 19)
        let d = ((obj["ephemeral_ports"] as? [String: Any])?["destinations"] as? [[String: Any]])?.first
        #expect(d?["over_half"] as? Bool == true && d?["percent"] as? Int == 60 && d?["local_address"] as? String == "10.0.0.2")
        // The Codable form is the same object.
        let slow = try JSONSerialization.jsonObject(with: JSONEncoder().encode(s)) as? NSDictionary
        #expect(slow == obj as NSDictionary)

        let text = SummaryRenderer.text(s, ports: InsightFixtures.context)
        #expect(text.contains("Listen queues since boot (all listeners): 17 overflows, 19 drops"))
        #expect(text.contains("tcp 10.0.0.5:https from 10.0.0.2 6 ports 60%! (6 sockets)"), "\(text)")

        // Without the new values the keys are absent, as before.
        let plain = SocketSummary(total: 0, protocols: [], states: [], topListeningPorts: [], topPeers: [])
        let o = try #require(try JSONSerialization.jsonObject(with: Data(SummaryRenderer.json(plain))) as? [String: Any])
        #expect(Set(o.keys) == ["total", "protocols", "states", "top_listening_ports", "top_peers"])
        #expect(!SummaryRenderer.text(plain).contains("Ephemeral"))
    }
}
