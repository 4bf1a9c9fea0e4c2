import Foundation
import SockscopeModel
import SockscopeRender
import Testing

/// UNIX, packet and netlink records in the table (ss's layout), in `--json` (the writer and the
/// `Codable` form, key for key) and in the listener and map renderers.
@Suite struct FamilyRenderTests {
    static func unixPair() -> [SocketRecord] {
        var server = SocketRecord(proto: .unixStream, family: .unix, state: .established,
                                  local: .unix(UnixEndpoint(kind: .path, inode: 12345)),
                                  remote: .unix(UnixEndpoint(kind: .unnamed, inode: 12346)), uid: 1000, inode: 12345)
        server.unixName = Array("/run/x.sock".utf8)
        server.unix = UnixDetails(vfsDevice: 2049, vfsInode: 77)
        server.processes = [SocketOwner(pid: 10, rawName: Array("srv".utf8), uid: 1000, fd: 5)]
        server.peerProcesses = [SocketOwner(pid: 20, rawName: Array("cli\"".utf8), uid: 1000, fd: 3)]
        var client = SocketRecord(proto: .unixStream, family: .unix, state: .established,
                                  local: .unix(UnixEndpoint(kind: .unnamed, inode: 12346)),
                                  remote: .unix(UnixEndpoint(kind: .path, inode: 12345)), uid: 1000, inode: 12346)
        client.peerUnixName = Array("/run/x.sock".utf8)
        var hostile = SocketRecord(proto: .unixDgram, family: .unix, state: .close,
                                   local: .unix(UnixEndpoint(kind: .abstract, inode: 9)),
                                   remote: .unix(UnixEndpoint(kind: .unnamed, inode: 0)), inode: 9)
        hostile.unixName = [0x61, 0x00, 0x0A, 0x1B, 0xFF]
        return [server, client, hostile]
    }

    static func others() -> [SocketRecord] {
        var p = SocketRecord(proto: .packetRaw, family: .packet, state: .close,
                             local: .packet(PacketEndpoint(interfaceIndex: 1, protocolNumber: 0x0806)),
                             remote: .packet(PacketEndpoint(interfaceIndex: 0, protocolNumber: 0)), inode: 30, interfaceIndex: 1)
        p.interface = "lo"
        let n = SocketRecord(proto: .netlink, family: .netlink, state: .close,
                             local: .netlink(NetlinkEndpoint(protocolNumber: 0, portID: 0)),
                             remote: .netlink(NetlinkEndpoint(protocolNumber: 0, portID: 0)), inode: 31)
        return [p, n]
    }

    func table(_ rs: [SocketRecord], processes: Bool = false) -> [String] {
        var out: [UInt8] = []
        TableRenderer(options: TableOptions(header: false, numeric: true, processes: processes)).render(rs, into: &out, flush: { _ in })
        return String(decoding: out, as: UTF8.self).split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
    }

    @Test func unixRowsInSsLayoutWithBothEndsOwners() {
        let rows = table(Self.unixPair(), processes: true)
        #expect(rows[0] == #"u_str ESTAB 0 0 /run/x.sock 12345 * 12346 users:(("srv",pid=10,fd=5)) peer:(("cli\"",pid=20,fd=3))"#)
        #expect(rows[1] == "u_str ESTAB 0 0 * 12346 /run/x.sock 12345", "the peer's name on the remote side")
        #expect(rows[2] == #"u_dgr UNCONN 0 0 @a\x00\x0a\x1b\xff 9 * 0"#, "abstract as @name, every byte escaped")
    }

    /// A cell of 255 bytes or more (an escaped name here, a `-i` line in the tail) takes the
    /// builder's long-length path: the columns still line up around it.
    @Test func longCellsKeepTheColumnsAligned() {
        var rs = Self.unixPair()
        rs[0].unixName = Array("/run/".utf8) + [UInt8](repeating: 0x1B, count: 100)  // 405 bytes escaped
        rs[0].processes = (1...30).map { SocketOwner(pid: Int32($0), rawName: Array("worker".utf8), uid: 0, fd: 3) }
        var out: [UInt8] = []
        TableRenderer(options: TableOptions(header: true, numeric: true, processes: true)).render(rs, into: &out, flush: { _ in })
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        let escaped = "/run/" + String(repeating: "\\x1b", count: 100)
        #expect(lines[1].contains(escaped + " 12345 "))
        #expect(lines[1].hasSuffix("(\"worker\",pid=30,fd=3)) peer:((\"cli\\\"\",pid=20,fd=3))"))
        // Every row's local address ends in the same column: right-aligned to the longest.
        let ends = lines.dropFirst().map { line -> Int in
            let cut = line.components(separatedBy: " 1234")[0]
            return cut.count
        }
        #expect(ends[0] == ends[1], "\(ends)")
        #expect(lines[2].hasPrefix("u_str ESTAB  0      0      " + String(repeating: " ", count: escaped.count - 1) + "*"))
    }

    @Test func packetAndNetlinkRowsAsSsNamesThem() {
        let rows = table(Self.others())
        #expect(rows[0] == "p_raw UNCONN 0 0 arp:lo *", "\(rows[0])")
        #expect(rows[1] == "nl UNCONN 0 0 rtnl:kernel *:*", "\(rows[1])")
        #expect(FamilyNames.ethertype(0x0003) == "*" && FamilyNames.ethertype(0x1234) == nil && FamilyNames.netlink(16) == "genl")
    }

    @Test func jsonWriterAndCodableAgreeKeyForKey() throws {
        let rs = Self.unixPair() + Self.others()
        var out: [UInt8] = []
        JSONRenderer().renderArray(rs, into: &out, flush: { _ in })
        let fast = try #require(try JSONSerialization.jsonObject(with: Data(out)) as? NSArray)
        let slow = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(rs)) as? NSArray)
        #expect(fast == slow)
        let objs = try #require(fast as? [[String: Any]])
        #expect(objs[0]["proto"] as? String == "stream" && (objs[0]["local"] as? [String: String]) == ["path": "/run/x.sock"])
        #expect(objs[0]["peer_inode"] as? Int == 12346 && (objs[0]["vfs"] as? [String: Int]) == ["dev": 2049, "ino": 77])
        #expect(((objs[0]["peer_processes"] as? [[String: Any]])?.first?["name"] as? String) == "cli\"")
        #expect((objs[1]["remote"] as? [String: String]) == ["path": "/run/x.sock"] && (objs[1]["local"] as? [String: String]) == [:])
        #expect((objs[2]["local"] as? [String: String])?["abstract"] == String(decoding: [0x61, 0x00, 0x0A, 0x1B, 0xFF], as: UTF8.self))
        #expect(objs[3]["proto"] as? String == "raw" && objs[3]["family"] as? String == "packet" && objs[3]["peer_inode"] == nil)
        #expect(objs[4]["proto"] as? String == "netlink")
        let back = try JSONDecoder().decode([SocketRecord].self, from: Data(out))
        #expect(back[0].localUnixName == .path(Array("/run/x.sock".utf8)) && back[1].remoteUnixName == .path(Array("/run/x.sock".utf8)))
        #expect(back[0].peerProcesses == rs[0].peerProcesses && back[0].unix == rs[0].unix && back[2].unixName == Array(String(decoding: rs[2].unixName ?? [], as: UTF8.self).utf8), "invalid UTF-8 as U+FFFD")
    }

    @Test func unixListenerAndMapEdgeAreNamedAsTheListingNamesThem() throws {
        var l = SocketRecord(proto: .unixStream, family: .unix, state: .listen,
                             local: .unix(UnixEndpoint(kind: .abstract, inode: 5)),
                             remote: .unix(UnixEndpoint(kind: .unnamed, inode: 0)), sendQueue: 128, inode: 5)
        l.unixName = Array("bus\n".utf8)
        let h = ListenerHealth(listener: l, backlog: 128, established: 2, peers: 1, topPeers: [])
        let r = ListenersRenderer(ports: PortContext())
        let text = String(decoding: r.table([h]), as: UTF8.self)
        #expect(text.contains("@bus\\x0a") && !text.contains("bus\n"), "\(text)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.json([h]))) as? [[String: Any]])
        #expect(json[0]["proto"] as? String == "stream" && (json[0]["local"] as? [String: String]) == ["abstract": "bus\n"])
        let e = MapEdge(proto: .unixStream, kind: .local, client: .process(Array("cli".utf8)), server: .process(Array("srv".utf8)),
                        port: 0, clientPIDs: [20], serverPIDs: [10], connections: 3, unixName: .path(Array("/run/x.sock".utf8)))
        let m = MapRenderer(ports: PortContext())
        let edges = try #require((try JSONSerialization.jsonObject(with: Data(m.json([e]))) as? [String: Any])?["edges"] as? [[String: Any]])
        #expect((edges[0]["unix"] as? [String: String]) == ["path": "/run/x.sock"] && edges[0]["port"] == nil)
        #expect(String(decoding: m.dot([e]), as: UTF8.self).contains("u_str /run/x.sock"))
    }
}
