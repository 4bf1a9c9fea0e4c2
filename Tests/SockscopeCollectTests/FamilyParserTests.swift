import Foundation
import SockscopeCollect
import SockscopeModel
import SockscopeSystem
import SystemPackage
import TestSupport
import Testing

/// What `Fixtures/families/capture.py` knew of its own sockets (fstat, getsockname, what it bound).
struct FamilyExpectations: Decodable {
    struct Name: Decodable { var kind: String; var hex: String }
    struct VFS: Decodable { var dev: UInt64; var ino: UInt64 }
    struct Unix: Decodable {
        var type: String, state: String, inode: UInt64, name: Name, peer: UInt64, uid: UInt32
        var rq: UInt32?, wq: UInt32?, icons: [UInt64]?, vfs: VFS?
    }
    struct Packet: Decodable { var type: String; var `protocol`: UInt16; var ifindex: UInt32; var inode: UInt64 }
    struct Netlink: Decodable { var `protocol`: UInt8; var portid: UInt32; var groups: UInt32; var inode: UInt64 }
    struct Raw: Decodable { var family: String; var `protocol`: UInt16; var local: String; var inode: UInt64 }
    struct MPTCP: Decodable { var state: String; var local: [AnyCodable]; var remote: [AnyCodable]; var inode: UInt64 }
    /// `["127.0.0.1", 5000]`: an address and a port in one array.
    struct AnyCodable: Decodable {
        var string: String?, int: Int?
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { int = i } else { string = try c.decode(String.self) }
        }
    }
    var unix: [Unix], packet: [Packet], netlink: [Netlink], raw: [Raw], mptcp: [MPTCP]

    static func load() throws -> FamilyExpectations {
        try JSONDecoder().decode(FamilyExpectations.self, from: Data(try FixtureFiles.bytes("families/expected.json")))
    }
}

func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = [], i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        out.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    return out
}

extension FamilyExpectations.Name {
    var unixName: UnixName {
        switch kind {
        case "path": return .path(bytes(hex: hex))
        case "abstract": return .abstract(bytes(hex: hex))
        default: return .unnamed
        }
    }
}


/// Runs a diag parser over captured bytes (a typed-throws closure passed to `withUnsafeBytes`
/// crashes this compiler, hence the Result).
func run<E>(_ data: [UInt8], _ parse: (UnsafeRawBufferPointer, (E) -> Void) throws(DumpError) -> DumpProgress)
    throws(DumpError) -> ([E], DumpProgress) {
    var out: [E] = []
    let r: Result<DumpProgress, DumpError> = data.withUnsafeBytes { raw in
        do throws(DumpError) { return .success(try parse(raw) { out.append($0) }) } catch { return .failure(error) }
    }
    return (out, try r.get())
}

@Suite struct FamilyParserTests {
    func parseUnix(_ file: String, memory: Bool = false) throws -> ([UnixSocketEntry], DumpProgress) {
        var parser = UnixDiagParser(decodeMemory: memory)
        return try run(try FixtureFiles.bytes(file)) { (b, e) throws(DumpError) in try parser.parse(b, emit: e) }
    }

    @Test func unixDiagDumpGivesEveryCapturedSocketWithEveryField() throws {
        let expected = try FamilyExpectations.load()
        let (entries, progress) = try parseUnix("families/unix-diag.bin", memory: true)
        #expect(progress == .done(interrupted: false))
        // The capture ran in a fresh netns: its sockets are all there is.
        #expect(entries.count == expected.unix.count)
        #expect(Set(entries.map(\.inode)).count == entries.count)
        for e in expected.unix {
            let hits = entries.filter { $0.inode == e.inode }
            try #require(hits.count == 1, "inode \(e.inode)")
            let r = hits[0]
            #expect("\(r.kind)" == e.type, "\(e.inode)")
            #expect(r.state.kernelName(for: .udp) == e.state, "\(e.inode): \(r.state)")
            #expect(r.name == e.name.unixName, "\(e.inode): \(r.name)")
            #expect(r.peerInode == e.peer, "\(e.inode)")
            #expect(r.uid == e.uid)
            if let rq = e.rq { #expect(r.recvQueue == rq, "\(e.inode) rq") }
            if let wq = e.wq { #expect(r.sendQueue == wq, "\(e.inode) wq") }
            #expect(r.pending.map { $0.sorted() } == e.icons, "\(e.inode) icons")
            #expect(r.vfs == e.vfs.map { UnixVFS(dev: $0.dev, ino: $0.ino) }, "\(e.inode) vfs")
            #expect(r.memory != nil && r.cookie != 0)
        }
        // Peers agree both ways wherever both ends are listed.
        let byInode = Dictionary(uniqueKeysWithValues: entries.map { ($0.inode, $0) })
        for r in entries where r.peerInode != 0 && r.kind != .dgram {
            #expect(byInode[r.peerInode]?.peerInode == r.inode, "\(r.inode) ↔ \(r.peerInode)")
        }
    }

    @Test func procNetUnixAgreesWithUnixDiagOnWhatBothCarry() throws {
        let (nl, _) = try parseUnix("families/unix-diag.bin")
        let (proc, bad) = ProcUnixParser.parse(try FixtureFiles.bytes("families/proc-net-unix.txt"))
        #expect(bad.isEmpty, "\(bad)")
        // /proc also lists the connection still queued at the listener (no inode yet): unix_diag does not.
        let queued = proc.filter { $0.inode == 0 }
        #expect(queued.count == 1 && queued[0].state == .synSent && queued[0].kind == .stream)
        let listed = proc.filter { $0.inode != 0 }
        #expect(listed.count == nl.count)
        for n in nl {
            let p = try #require(listed.first { $0.inode == n.inode }, "\(n.inode) missing from /proc")
            #expect(p.kind == n.kind && p.state == n.state, "\(n.inode)")
            // /proc writes an abstract name's NULs as '@'; everything else is the same bytes, newline included.
            switch n.name {
            case .abstract(let a): #expect(p.name == .abstract(a.map { $0 == 0 ? UInt8(ascii: "@") : $0 }))
            default: #expect(p.name == n.name, "\(n.inode)")
            }
        }
    }

    @Test func procNetUnixReadInChunksGivesTheSameEntries() throws {
        let data = try FixtureFiles.bytes("families/proc-net-unix.txt")
        let whole = ProcUnixParser.parse(data).entries
        // Every split point, as a short read would leave it: a held-back name must survive the cut.
        for cut in stride(from: 1, to: data.count, by: 7) {
            var p = ProcUnixParser()
            var out: [UnixSocketEntry] = []
            var rest = data[...], lines = 0, first = true
            while true {
                let chunk = Array(first ? rest.prefix(cut) : rest)
                let isEnd = !first
                let (consumed, n) = chunk.withUnsafeBytes {
                    p.parse($0, linesBefore: lines, isEnd: isEnd, emit: { out.append($0) }, malformed: { _ in })
                }
                lines += n
                rest = rest.dropFirst(consumed)
                if isEnd { break }
                first = false
            }
            #expect(out == whole, "split at \(cut)")
        }
    }

    @Test func packetDiagAndProcNetPacketGiveTheCapturedSockets() throws {
        let expected = try FamilyExpectations.load().packet
        var parser = PacketDiagParser()
        let (nl, progress) = try run(try FixtureFiles.bytes("families/packet-diag.bin")) { (b, e) throws(DumpError) in try parser.parse(b, emit: e) }
        #expect(progress == .done(interrupted: false))
        let (proc, bad) = ProcPacketParser.parse(try FixtureFiles.bytes("families/proc-net-packet.txt"))
        #expect(bad.isEmpty)
        #expect(nl.count == expected.count && proc.count == expected.count)
        for e in expected {
            for source in [nl, proc] {
                let r = try #require(source.first { $0.inode == e.inode })
                #expect(r.isRaw == (e.type == "raw") && r.protocolNumber == e.protocol && r.interfaceIndex == e.ifindex)
            }
        }
        #expect(nl.allSatisfy { $0.cookie != 0 })
    }

    @Test func netlinkDiagAndProcNetNetlinkGiveTheCapturedSockets() throws {
        let expected = try FamilyExpectations.load().netlink
        var parser = NetlinkDiagParser()
        let (nl, progress) = try run(try FixtureFiles.bytes("families/netlink-diag.bin")) { (b, e) throws(DumpError) in try parser.parse(b, emit: e) }
        #expect(progress == .done(interrupted: false))
        let (proc, bad) = ProcNetlinkParser.parse(try FixtureFiles.bytes("families/proc-net-netlink.txt"))
        #expect(bad.isEmpty)
        for e in expected {
            for source in [nl, proc] {
                let r = try #require(source.first { $0.inode == e.inode }, "\(e.inode)")
                #expect(r.protocolNumber == e.protocol && r.portID == e.portid && r.groups == e.groups, "\(r)")
            }
        }
        // The kernel's own sockets (port 0) are listed by both, one per protocol.
        #expect(Set(nl.filter { $0.portID == 0 && $0.inode != 0 }.map(\.inode)).isSubset(of: Set(proc.map(\.inode))))
        #expect(nl.count >= proc.count - 1)  // /proc also lists the dump's own socket, which is gone by then
    }

    @Test func procNetRawGivesTheCapturedRawSockets() throws {
        let expected = try FamilyExpectations.load().raw
        var all: [SocketRecord] = []
        for (file, family) in [("families/proc-net-raw.txt", AddressFamily.inet), ("families/proc-net-raw6.txt", .inet6)] {
            let (recs, bad) = ProcNetParser(proto: .raw, family: family).parse(try FixtureFiles.bytes(file))
            #expect(bad.isEmpty, "\(bad)")
            all += recs
        }
        #expect(all.count == expected.count)
        for e in expected {
            let r = try #require(all.first { $0.inode == e.inode })
            #expect(r.family.rawValue == e.family && r.local.port == e.protocol && r.local.address.description == e.local)
            #expect(r.stateName == "UNCONN")
        }
    }

    @Test func mptcpDumpGivesTheCapturedConnection() throws {
        let expected = try FamilyExpectations.load().mptcp
        var parser = InetDiagParser(proto: .mptcp)
        let (recs, progress) = try run(try FixtureFiles.bytes("families/mptcp-diag.bin")) { (b, e) throws(DumpError) in
            try parser.parse(b, emit: e)
        }
        #expect(progress == .done(interrupted: false))
        #expect(recs.count == expected.count)
        for e in expected {
            let r = try #require(recs.first { $0.inode == e.inode })
            #expect(r.proto == .mptcp && r.stateName == e.state)
            #expect(r.local.address.description == e.local[0].string && Int(r.local.port) == e.local[1].int)
            #expect(r.remote.address.description == e.remote[0].string && Int(r.remote.port) == e.remote[1].int)
        }
    }

    @Test func rawDiagIsAbsentOnTheCapturingKernel() throws {
        // NLMSG_DONE carrying -ENOENT: no raw_diag here, so raw sockets come from /proc/net/raw{,6}.
        var parser = InetDiagParser(proto: .tcp)
        let data = try FixtureFiles.bytes("families/raw-diag-inet.bin")
        #expect(throws: DumpError.kernel(.noSuchFileOrDirectory)) {
            _ = try run(data) { (b, e: (SocketRecord) -> Void) throws(DumpError) in try parser.parse(b, emit: e) }
        }
    }

    @Test func sockstatGivesSsSummaryNumbers() throws {
        let k = try #require(SockstatParser.kernelCounts(
            sockstat: try FixtureFiles.bytes("families/proc-net-sockstat.txt"),
            sockstat6: try FixtureFiles.bytes("families/proc-net-sockstat6.txt"),
            snmp: try FixtureFiles.bytes("families/proc-net-snmp.txt")))
        // The capture's namespace: MPTCP's listener and connection (their TCP subflows), raw ICMP v4 and v6.
        #expect(k.raw == .init(ipv4: 1, ipv6: 1) && k.tcp.ipv4 >= 3 && k.tcpEstablished == 2 && k.tcpTimeWait == 0)
        #expect(k.tcpClosed == k.tcpTotal - (k.tcp.ipv4 + k.tcp.ipv6 - k.tcpTimeWait))
        #expect(SockstatParser.kernelCounts(sockstat: [], sockstat6: [], snmp: []) == nil)
    }

    @Test func diagHeadersMatchTheKernelsLayout() {
        #expect(InetDiagLayout.unixMessageSize == 16)
        #expect(InetDiagLayout.packetMessageSize == 16)
        #expect(InetDiagLayout.netlinkMessageSize == 28)
    }

    @Test func truncatedAndCorruptRepliesFailCleanly() throws {
        let data = try FixtureFiles.bytes("families/unix-diag.bin")
        var rng = SystemRandomNumberGenerator()
        for cut in stride(from: 0, to: data.count, by: 13) {
            var p = UnixDiagParser()
            _ = try? run(Array(data.prefix(cut))) { (b, e) throws(DumpError) in try p.parse(b, emit: e) }
        }
        for _ in 0..<300 {
            var d = data
            for _ in 0..<4 { d[Int.random(in: 0..<d.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            var u = UnixDiagParser(), k = PacketDiagParser(), n = NetlinkDiagParser()
            _ = try? run(d) { (b, e) throws(DumpError) in try u.parse(b, emit: e) }
            _ = try? run(d) { (b, e) throws(DumpError) in try k.parse(b, emit: e) }
            _ = try? run(d) { (b, e) throws(DumpError) in try n.parse(b, emit: e) }
            var text = try FixtureFiles.bytes("families/proc-net-unix.txt")
            text[Int.random(in: 0..<text.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = ProcUnixParser.parse(text)
        }
    }
}
