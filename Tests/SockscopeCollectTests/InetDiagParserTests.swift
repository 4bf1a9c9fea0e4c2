import SockscopeCollect
import SockscopeModel
import SockscopeSystem
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct InetDiagParserTests {
    /// Parses a captured dump (concatenated receive buffers) to the end.
    func parse(_ bytes: [UInt8], proto: TransportProtocol, info: Bool = false, sequence: UInt32? = nil)
        throws(DumpError) -> (records: [SocketRecord], progress: DumpProgress) {
        var parser = InetDiagParser(proto: proto, sequence: sequence, decodeInfo: info, decodeMemory: info)
        var out: [SocketRecord] = []
        let result: Result<DumpProgress, DumpError> = bytes.withUnsafeBytes { raw in
            do throws(DumpError) { return .success(try parser.parse(raw, emit: { out.append($0) })) } catch { return .failure(error) }
        }
        return (out, try result.get())
    }

    @Test func capturedDumpsGiveEveryExpectedSocketExactly() throws {
        var all: [SocketRecord] = []
        for (file, proto) in [("netlink-tcp4.bin", TransportProtocol.tcp), ("netlink-tcp6.bin", .tcp),
                              ("netlink-udp4.bin", .udp), ("netlink-udp6.bin", .udp)] {
            let (recs, progress) = try parse(try FixtureFiles.bytes(file), proto: proto)
            #expect(progress == .done(interrupted: false), "\(file)")
            all += recs
        }
        for e in try FixtureFiles.expected() {
            let hits = all.filter { $0.inode == e.inode && $0.proto == e.proto }
            #expect(hits.count == 1 && e.matches(hits[0]), "expected \(e), got \(hits)")
        }
        #expect(all.allSatisfy { $0.cookie != nil && $0.cookie != 0 })
        #expect(Set(all.compactMap(\.cookie)).count == all.count, "cookies are unique per socket")
    }

    @Test func netlinkAndProcFixturesAgreeSocketForSocket() throws {
        var nl: [SocketRecord] = [], pr: [SocketRecord] = []
        for (n, p, proto, fam) in [("netlink-tcp4.bin", "proc-net-tcp.txt", TransportProtocol.tcp, AddressFamily.inet),
                                   ("netlink-tcp6.bin", "proc-net-tcp6.txt", .tcp, .inet6),
                                   ("netlink-udp4.bin", "proc-net-udp.txt", .udp, .inet),
                                   ("netlink-udp6.bin", "proc-net-udp6.txt", .udp, .inet6)] {
            nl += try parse(try FixtureFiles.bytes(n), proto: proto).records
            pr += ProcNetParser(proto: proto, family: fam).parse(try FixtureFiles.bytes(p)).records
        }
        #expect(nl.count == pr.count)
        for var r in nl {
            r.cookie = nil
            // /proc has no backlog for listeners: netlink's send_q is the backlog there (documented).
            if r.state == .listen { r.sendQueue = 0 }
            #expect(pr.contains(r), "netlink row missing from /proc: \(r)")
        }
    }

    @Test func tcpInfoAndMemoryAttributesAreDecoded() throws {
        let (recs, _) = try parse(try FixtureFiles.bytes("netlink-tcp4-info.bin"), proto: .tcp, info: true)
        let established = recs.filter { $0.state == .established }
        #expect(established.count == 8)
        for r in established {
            let t = try #require(r.tcpInfo)
            #expect(t.rttUs > 0 && t.mss > 0 && t.cwnd > 0)
            #expect(t.congestion?.isEmpty == false)
            #expect(t.bytesAcked != nil && t.bytesReceived != nil)
            #expect(try #require(r.memory).rcvbuf > 0)
        }
    }

    @Test func kernelErrorReplyIsAnError() throws {
        #expect(throws: DumpError.kernel(.invalidArgument)) {
            try parse(try FixtureFiles.bytes("netlink-error-einval.bin"), proto: .tcp)
        }
    }

    @Test func doneCarryingAnErrorIsNotAnEmptySuccess() throws {
        // NLMSG_DONE whose payload is -EINTR: the shape a dump aborted in the kernel ends with.
        var msg: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v) { msg += $0 } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v) { msg += $0 } }
        u32(20); u16(3); u16(0x2); u32(1); u32(0); u32(UInt32(bitPattern: -EINTR))
        #expect(throws: DumpError.kernel(.interrupted)) { try parse(msg, proto: .tcp) }
    }

    @Test func interruptedDumpIsFlagged() throws {
        var bytes = try FixtureFiles.bytes("netlink-tcp4.bin")
        bytes[6] |= 0x10  // NLM_F_DUMP_INTR on the first message
        #expect(try parse(bytes, proto: .tcp).progress == .done(interrupted: true))
    }

    @Test func truncatedMessageIsMalformedNotATrap() throws {
        let bytes = try FixtureFiles.bytes("netlink-tcp4.bin")
        for cut in [1, 15, 16, 40, 88, 100, bytes.count - 1] {
            do {
                let (_, progress) = try parse(Array(bytes.prefix(cut)), proto: .tcp)
                Issue.record("cut at \(cut) parsed as \(progress)")
            } catch {
                guard case .malformed = error else { Issue.record("cut at \(cut): \(error)"); continue }
            }
        }
    }

    @Test func repliesToAnotherRequestAreSkipped() throws {
        let bytes = try FixtureFiles.bytes("netlink-tcp4.bin")
        let (recs, _) = try parse(bytes, proto: .tcp, sequence: 12345)
        #expect(recs.isEmpty)
        let (mine, _) = try parse(bytes, proto: .tcp, sequence: 7)
        #expect(!mine.isEmpty)
    }

    @Test func arbitraryBytesNeverTrap() {
        let seed = (try? FixtureFiles.bytes("netlink-tcp4-info.bin")) ?? []
        var rng = SplitMix(seed: 7)
        for _ in 0..<3000 {
            var b = seed
            for _ in 0..<Int(rng.next() % 8) where !b.isEmpty {
                b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            b = Array(b.prefix(Int(rng.next() % UInt64(b.count + 1))))
            _ = try? parse(b, proto: .tcp, info: true)
        }
    }
}

@Suite struct LegacyDumpAndSockstatTests {
    @Test func legacyReplyTypeParsesLikeTheModernOne() throws {
        let modern = try FixtureFiles.bytes("netlink-tcp4.bin")
        var legacy = modern
        // Rewrite every message's type from SOCK_DIAG_BY_FAMILY (20) to TCPDIAG_GETSOCK (18).
        var off = 0
        while off + 16 <= legacy.count {
            let len = Int(legacy[off]) | Int(legacy[off + 1]) << 8 | Int(legacy[off + 2]) << 16
            if legacy[off + 4] == 20 { legacy[off + 4] = 18 }
            off += (len + 3) & ~3
        }
        func parse(_ b: [UInt8]) throws -> [SocketRecord] {
            var p = InetDiagParser(proto: .tcp)
            var out: [SocketRecord] = []
            let r: Result<DumpProgress, DumpError> = b.withUnsafeBytes { raw in
                do throws(DumpError) { return .success(try p.parse(raw) { out.append($0) }) } catch { return .failure(error) }
            }
            _ = try r.get()
            return out
        }
        let a = try parse(modern), b = try parse(legacy)
        #expect(!a.isEmpty && a == b)
    }

    @Test func sockstatIsParsed() {
        let text = "sockets: used 220\nTCP: inuse 5 orphan 1 tw 7 alloc 9 mem 2\nUDP: inuse 3 mem 0\nUDPLITE: inuse 0\n"
        let s = SockstatParser.parse(Array(text.utf8))
        #expect(s["TCP"]?["alloc"] == 9 && s["TCP"]?["tw"] == 7 && s["UDP"]?["inuse"] == 3 && s["sockets"]?["used"] == 220)
        #expect(SockstatParser.parse([0xFF, 0x0A, 0x3A]).isEmpty)
        #expect(SockstatParser.estimate(procRoot: "/nonexistent", protocols: [.tcp]) == 0)
        #expect(SockstatParser.estimate(procRoot: "/proc", protocols: [.tcp, .udp]) >= 0)
    }
}
