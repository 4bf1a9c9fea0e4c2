import Foundation
import TestSupport
import Testing

/// The binary's UNIX, raw, packet, MPTCP and netlink listings against sockets this test opens.
@Suite(.serialized) struct FamilyListingTests {
    /// Decodes `--json` rows loosely: the objects differ per family.
    func rows(_ args: [String]) throws -> [[String: Any]] {
        let r = try Binary.sockscope(args + ["--json"])
        #expect(r.status == 0, "\(args): \(r.stderrText)")
        return try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
    }

    func row(_ rows: [[String: Any]], inode: UInt64) -> [String: Any]? {
        let hits = rows.filter { ($0["inode"] as? NSNumber)?.uint64Value == inode }
        return hits.count == 1 ? hits[0] : nil
    }

    func strings(_ o: Any?) -> [String: String]? { o as? [String: String] }

    @Test func connectedPairsAndNamesAreExactInJSON() throws {
        let dir = try UnixSockets.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/srv.sock"
        let listener = try UnixSockets.listener(.stream, .path(Array(path.utf8)), backlog: 5)
        let client = try UnixSockets.connect(.stream, to: .path(Array(path.utf8)))
        let server = try UnixSockets.accept(listener)
        let abstractName = "sockscope-e2e-\(getpid())"
        let seq = try UnixSockets.listener(.seqpacket, .abstract(Array(abstractName.utf8)))
        let (da, db) = try UnixSockets.pair(.dgram)
        var st = stat()
        #expect(stat(path, &st) == 0)
        let rs = try rows(["-xa"])
        let l = try #require(row(rs, inode: listener.inode))
        #expect(l["proto"] as? String == "stream" && l["family"] as? String == "unix" && l["state"] as? String == "LISTEN")
        #expect(strings(l["local"]) == ["path": path] && strings(l["remote"]) == [:])
        #expect(l["recv_q"] as? Int == 0 && l["send_q"] as? Int == 5 && l["uid"] as? Int == Int(getuid()))
        #expect(l["vfs"] as? [String: UInt64] == ["dev": UInt64(st.st_dev), "ino": UInt64(st.st_ino)])
        let c = try #require(row(rs, inode: client.inode)), s = try #require(row(rs, inode: server.inode))
        #expect(c["state"] as? String == "ESTABLISHED" && strings(c["local"]) == [:] && strings(c["remote"]) == ["path": path])
        #expect((c["peer_inode"] as? NSNumber)?.uint64Value == server.inode)
        #expect((s["peer_inode"] as? NSNumber)?.uint64Value == client.inode && strings(s["local"]) == ["path": path])
        let q = try #require(row(rs, inode: seq.inode))
        #expect(q["proto"] as? String == "seqpacket" && strings(q["local"]) == ["abstract": abstractName])
        let a = try #require(row(rs, inode: da.inode))
        #expect(a["proto"] as? String == "dgram" && (a["peer_inode"] as? NSNumber)?.uint64Value == db.inode)
        withExtendedLifetime([listener, client, server, seq, da, db]) {}
    }

    /// The filter language's `unix:` rules on this test's own sockets: fnmatch globs against each
    /// end's name (`dst` reads the peer's), `@` for abstract names; without -x a `unix:` rule lists
    /// UNIX sockets, as in ss.
    @Test func unixRulesMatchNamesWithGlobs() throws {
        let dir = try UnixSockets.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/Glob-a.sock", other = dir + "/other.sock"
        let listener = try UnixSockets.listener(.stream, .path(Array(path.utf8)))
        let client = try UnixSockets.connect(.stream, to: .path(Array(path.utf8)))
        let server = try UnixSockets.accept(listener)
        let second = try UnixSockets.listener(.stream, .path(Array(other.utf8)))
        let abstractName = "sockscope-glob-\(getpid())"
        let a = try UnixSockets.bound(.dgram, .abstract(Array(abstractName.utf8)))
        let mine: Set<UInt64> = [listener.inode, client.inode, server.inode, second.inode, a.inode]
        #expect(try inodes(["-xa", "src unix:\(dir)/glob-?.so[ck]k"]).intersection(mine) == [listener.inode, server.inode],
                "case folded, ? and a set")
        #expect(try inodes(["-xa", "src unix:\(dir)/*"]).intersection(mine) == [listener.inode, server.inode, second.inode])
        #expect(try inodes(["-xa", "dst unix:\(dir)/G*"]).intersection(mine) == [client.inode], "the peer's name")
        #expect(try inodes(["-a", "src unix:@sockscope-glob-\(getpid())"]).intersection(mine) == [a.inode], "no -x needed")
        #expect(try inodes(["-xa", "not src unix:\(dir)/*"]).intersection(mine) == [client.inode, a.inode])
        #expect(try inodes(["-xa", "src unix:\(dir)/[!G]*"]).intersection(mine) == [second.inode])
        #expect(try inodes(["-xa", "src", "\(dir)/*"]).intersection(mine) == [listener.inode, server.inode, second.inode],
                "with -x a bare path is a UNIX name, as in ss")
        let t = try Binary.sockscope(["-t", "-a", "src unix:\(dir)/*", "--json"])
        #expect(t.status == 0 && String(decoding: t.stdout, as: UTF8.self) == "[]\n", "a UNIX rule is false on TCP sockets")
        withExtendedLifetime([listener, client, server, second, a]) {}
    }

    func inodes(_ args: [String]) throws -> Set<UInt64> {
        Set(try rows(args).compactMap { ($0["inode"] as? NSNumber)?.uint64Value })
    }

    /// `netlink:` rules on this process's own netlink socket.
    @Test func netlinkRulesSelectTheirSockets() throws {
        let nl = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)  // NETLINK_ROUTE
        try #require(nl >= 0)
        defer { close(nl) }
        // struct sockaddr_nl: family, pad, port id (0: the kernel picks), groups.
        var addr: (UInt16, UInt16, UInt32, UInt32) = (UInt16(AF_NETLINK), 0, 0, 0)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(nl, $0, 12) } }
        try #require(bound == 0)
        var len = socklen_t(12)
        let named = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(nl, $0, &len) } }
        try #require(named == 0)
        var st = stat()
        try #require(fstat(nl, &st) == 0)
        let port = addr.2, ino = UInt64(st.st_ino)
        #expect(try inodes(["--netlink", "-a", "src netlink:rtnl:\(port)"]) == [ino])
        #expect(try inodes(["-a", "src netlink:route:\(port)"]) == [ino], "no --netlink needed")
        #expect(try !inodes(["--netlink", "-a", "src netlink:audit:\(port)"]).contains(ino))
        #expect(try !inodes(["--netlink", "-a", "src netlink:rtnl:kernel"]).contains(ino))
    }

    /// `link:` rules on an AF_PACKET socket of this process (ETH_P_ARP).
    @Test(.requires(.root)) func linkRulesSelectPacketSockets() throws {
        let pk = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(UInt16(0x0806).bigEndian))
        try #require(pk >= 0)
        defer { close(pk) }
        var st = stat()
        try #require(fstat(pk, &st) == 0)
        let ino = UInt64(st.st_ino)
        #expect(try inodes(["-0", "src link:arp"]).contains(ino))
        #expect(try !inodes(["-0", "src link:ip"]).contains(ino))
        #expect(try inodes(["-a", "src link:arp:*"]).contains(ino), "no -0 needed")
    }

    @Test func hostileNamesAreEscapedInTheTableAndExactInJSON() throws {
        let dir = try UnixSockets.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pathBytes = Array((dir + "/e").utf8) + [0x1B, 0x5B, 0x33, 0x31, 0x6D, 0x0A, 0xFF, 0x22]
        let p = try UnixSockets.listener(.stream, .path(pathBytes))
        let abstractBytes: [UInt8] = Array("sockscope-hostile-\(getpid())".utf8) + [0x00, 0x0A, 0x1B, 0xFE]
        let a = try UnixSockets.bound(.dgram, .abstract(abstractBytes))
        // JSON: the exact bytes, escaped as JSON requires (invalid UTF-8 becomes U+FFFD).
        let raw = try Binary.sockscope(["-xa", "--json"])
        #expect(raw.status == 0)
        let rs = try #require(try JSONSerialization.jsonObject(with: raw.stdout) as? [[String: Any]])
        let pr = try #require(row(rs, inode: p.inode)), ar = try #require(row(rs, inode: a.inode))
        #expect(strings(pr["local"])?["path"] == String(decoding: pathBytes, as: UTF8.self))
        #expect(strings(ar["local"])?["abstract"] == String(decoding: abstractBytes, as: UTF8.self))
        // The table: one line per socket, no control byte, abstract names as @name.
        let t = try Binary.sockscope(["-xa", "-H"])
        let lines = t.stdout.split(separator: 0x0A)
        let pl = try #require(lines.first { String(decoding: $0, as: UTF8.self).contains(" \(p.inode) ") })
        let al = try #require(lines.first { String(decoding: $0, as: UTF8.self).contains(" \(a.inode) ") })
        for l in [pl, al] { #expect(!l.contains { $0 < 0x20 || $0 == 0x7F }, "\(Array(l))") }
        #expect(String(decoding: al, as: UTF8.self).contains("@sockscope-hostile-\(getpid())\\x00\\x0a\\x1b\\xfe"))
        #expect(String(decoding: pl, as: UTF8.self).contains("/e\\x1b[31m\\x0a\\xff\""))
        withExtendedLifetime([p, a]) {}
    }

    @Test(.requires(.tool("python3")))
    func processesShowBothEndsAcrossTwoProcesses() throws {
        let dir = try UnixSockets.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/two.sock"
        let listener = try UnixSockets.listener(.stream, .path(Array(path.utf8)))
        let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Helpers/unix_peer.py").path
        let child = Process()
        child.executableURL = URL(fileURLWithPath: try Requirement.tool("python3").path())
        child.arguments = [helper, path]
        let stdin = Pipe(), stdout = Pipe()
        child.standardInput = stdin
        child.standardOutput = stdout
        try child.run()
        defer { try? stdin.fileHandleForWriting.close(); child.waitUntilExit() }
        let line = String(decoding: stdout.readFirstLine(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let words = line.split(separator: " ")
        let childPID = try #require(Int32(words.first ?? "")), childInode = try #require(UInt64(words.last ?? ""))
        let server = try UnixSockets.accept(listener)
        let rs = try rows(["-xap"])
        let s = try #require(row(rs, inode: server.inode))
        let mine = (s["processes"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int }
        let theirs = (s["peer_processes"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int }
        #expect(mine == [Int(getpid())] && theirs == [Int(childPID)])
        let c = try #require(row(rs, inode: childInode))
        #expect((c["processes"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } == [Int(childPID)])
        #expect((c["peer_processes"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } == [Int(getpid())])
        // The table shows both too.
        let t = try Binary.sockscope(["-xap", "-H"])
        let l = try #require(t.stdoutText.split(separator: "\n").first { $0.contains(" \(server.inode) ") })
        #expect(l.contains("users:((") && l.contains("pid=\(getpid()),") && l.contains("peer:((") && l.contains("pid=\(childPID),"))
        // --map: one process -> process edge over the path; --listeners: the listener with its connection.
        let m = try Binary.sockscope(["--map", "--json"])
        let map = try #require(try JSONSerialization.jsonObject(with: m.stdout) as? [String: Any])
        let edges = (map["edges"] as? [[String: Any]] ?? []).filter { ($0["unix"] as? [String: String]) == ["path": path] }
        #expect(edges.count == 1, "\(edges)")
        #expect((edges.first?["client"] as? [String: Any])?["pids"] as? [Int] == [Int(childPID)])
        #expect((edges.first?["server"] as? [String: Any])?["pids"] as? [Int] == [Int(getpid())])
        #expect(edges.first?["proto"] as? String == "unix_stream" && edges.first?["connections"] as? Int == 1)
        let ls = try #require(try JSONSerialization.jsonObject(with: try Binary.sockscope(["--listeners", "--json"]).stdout)
                              as? [[String: Any]])
        let lr = try #require(row(ls, inode: listener.inode))
        #expect(lr["established"] as? Int == 1 && lr["peers"] as? Int == 1 && lr["accept_queue"] as? Int == 0)
        withExtendedLifetime([listener, server]) {}
    }

    @Test(.requires(.tool("ss", package: "iproute2")))
    func agreesWithSsXaOnTheSameSockets() throws {
        let dir = try UnixSockets.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var mine: [UnixTestSocket] = []
        for i in 0..<8 {
            let path = Array((dir + "/s\(i).sock").utf8)
            let l = try UnixSockets.listener(i % 2 == 0 ? .stream : .seqpacket, .path(path), backlog: Int32(4 + i))
            mine += [l, try UnixSockets.connect(i % 2 == 0 ? .stream : .seqpacket, to: .path(path))]
            mine.append(try UnixSockets.accept(l))
            let (x, y) = try UnixSockets.pair(.dgram)
            mine += [x, y, try UnixSockets.bound(.dgram, .abstract(Array("sockscope-ss-\(getpid())-\(i)".utf8)))]
        }
        let inodes = Set(mine.map { String($0.inode) })
        /// netid, state, local name, local inode, peer inode, queues — the columns both print the same way.
        func table(_ out: String) -> Set<[String]> {
            Set(out.split(separator: "\n").compactMap { line -> [String]? in
                let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard f.count >= 8, inodes.contains(f[5]) else { return nil }
                return [f[0], f[1], f[2], f[3], f[4], f[5], f[7]]
            })
        }
        let ss = try Binary.run(try Requirement.tool("ss", package: "iproute2").path(), ["-xaH"])
        let ours = try Binary.sockscope(["-xaH"])
        let a = table(ours.stdoutText), b = table(ss.stdoutText)
        #expect(a.count == mine.count)
        #expect(a == b, "only sockscope: \(a.subtracting(b)); only ss: \(b.subtracting(a))")
        withExtendedLifetime(mine) {}
    }

    @Test(.requires(.root)) func aRawICMPSocketIsListed() throws {
        let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMP))
        try #require(fd >= 0)
        defer { close(fd) }
        var st = stat()
        #expect(fstat(fd, &st) == 0)
        for source in ["auto", "proc"] {
            let r = try #require(row(try rows(["--raw", "-a", "--source", source]), inode: UInt64(st.st_ino)), "\(source)")
            #expect(r["proto"] as? String == "raw" && r["family"] as? String == "inet" && r["state"] as? String == "UNCONN")
            #expect((r["local"] as? [String: Any])?["port"] as? Int == 1, "the port column carries the IP protocol")
        }
    }

    @Test(.requires(.root)) func anAFPacketSocketIsListed() throws {
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(UInt16(0x0003).bigEndian))
        try #require(fd >= 0)
        defer { close(fd) }
        var st = stat()
        #expect(fstat(fd, &st) == 0)
        let r = try #require(row(try rows(["-0"]), inode: UInt64(st.st_ino)))
        #expect(r["proto"] as? String == "raw" && r["family"] as? String == "packet")
        #expect((r["local"] as? [String: Int])?["protocol"] == 3)
    }

    @Test func thisProcessesNetlinkSocketIsListedWithItsOwner() throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue), 0)  // NETLINK_ROUTE
        try #require(fd >= 0)
        defer { close(fd) }
        // struct sockaddr_nl: family, pad, port id (0: the kernel picks), groups (RTMGRP_LINK).
        var addr: (UInt16, UInt16, UInt32, UInt32) = (UInt16(AF_NETLINK), 0, 0, 1)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 12) } }
        #expect(rc == 0)
        var st = stat()
        #expect(fstat(fd, &st) == 0)
        let r = try #require(row(try rows(["--netlink", "-a", "-p"]), inode: UInt64(st.st_ino)))
        #expect(r["proto"] as? String == "netlink" && r["family"] as? String == "netlink")
        let local = try #require(r["local"] as? [String: Int])
        #expect(local["protocol"] == 0 && local["groups"] == 1 && (local["port_id"] ?? 0) != 0)
        #expect((r["processes"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } == [Int(getpid())])
    }

    static var mptcpAvailable: Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 262)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }

    @Test(.enabled(if: mptcpAvailable || Requirement.requireAll, "this kernel has no MPTCP (socket(IPPROTO_MPTCP) fails)"))
    func aLoopbackMPTCPConnectionIsListed() throws {
        let l = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 262)
        try #require(l >= 0, "socket(IPPROTO_MPTCP)")
        defer { close(l) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(l, $0, len) } }
        #expect(listen(l, 4) == 0)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(l, $0, &len) } }
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 262)
        defer { close(c) }
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, len) } }
        let s = accept(l, nil, nil)
        defer { close(s) }
        var st = stat()
        let rs = try rows(["-M", "-a"])
        for fd in [l, c, s] {
            #expect(fstat(fd, &st) == 0)
            let r = try #require(row(rs, inode: UInt64(st.st_ino)))
            #expect(r["proto"] as? String == "mptcp" && r["family"] as? String == "inet")
            #expect(r["state"] as? String == (fd == l ? "LISTEN" : "ESTABLISHED"))
        }
    }

    @Test func defaultListingAndDashAStayTCPAndUDP() throws {
        let (x, y) = try UnixSockets.pair(.stream)
        for args in [[], ["-a"]] {
            let rs = try rows(args)
            #expect(rs.allSatisfy { ["tcp", "udp"].contains($0["proto"] as? String ?? "") }, "\(args)")
            #expect(row(rs, inode: x.inode) == nil)
        }
        withExtendedLifetime([x, y]) {}
    }

    @Test(arguments: [["-S"], ["--tipc"], ["-A", "tipc"]])
    func familiesThisKernelLacksSaySoInOneLine(args: [String]) throws {
        let r = try Binary.sockscope(args)
        #expect(r.status == 1 && r.stdout.isEmpty)
        #expect(r.stderrText.split(separator: "\n").count == 1 && r.stderrText.contains("this kernel"), "\(r.stderrText)")
    }
}
