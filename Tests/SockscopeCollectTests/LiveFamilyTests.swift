import Foundation
import SockscopeCollect
import SockscopeModel
import TestSupport
import Testing

/// The family sources against sockets this test opens itself, from both kernel interfaces.
@Suite(.serialized) struct LiveFamilyTests {
    func unix(_ source: SourceChoice) throws -> [UnixSocketEntry] {
        try FamilySources.unix(CollectOptions(source: source)).entries
    }

    @Test func everyKindAndNamingIsListedExactlyFromNetlink() throws {
        let dir = try UnixSockets.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = Array((dir + "/live.sock").utf8)
        let abstract = Array("sockscope-live-\(getpid())".utf8) + [0, 0x0A, 0x1B, 0xFF]
        let listener = try UnixSockets.listener(.stream, .path(path), backlog: 3)
        let client = try UnixSockets.connect(.stream, to: .path(path))
        let server = try UnixSockets.accept(listener)
        let dg = try UnixSockets.bound(.dgram, .abstract(abstract))
        let seq = try UnixSockets.listener(.seqpacket, .path(Array((dir + "/seq\u{1B}\n.sock").utf8)), backlog: 2)
        let (pa, pb) = try UnixSockets.pair(.seqpacket)
        var st = stat()
        #expect(stat(dir + "/live.sock", &st) == 0)

        let entries = try unix(.netlink)
        func entry(_ s: UnixTestSocket) throws -> UnixSocketEntry {
            let hits = entries.filter { $0.inode == s.inode }
            try #require(hits.count == 1, "inode \(s.inode) listed \(hits.count) times")
            return hits[0]
        }
        let l = try entry(listener)
        #expect(l.kind == .stream && l.state == .listen && l.name == .path(path) && l.sendQueue == 3 && l.recvQueue == 0)
        #expect(l.vfs == UnixVFS(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino)))
        #expect(l.uid == getuid() && l.pending == [])
        let c = try entry(client), s = try entry(server)
        #expect(c.state == .established && c.name == .unnamed && c.peerInode == server.inode)
        #expect(s.state == .established && s.name == .path(path) && s.peerInode == client.inode)
        let d = try entry(dg)
        #expect(d.kind == .dgram && d.state == .close && d.name == .abstract(abstract) && d.peerInode == 0)
        let q = try entry(seq)
        #expect(q.kind == .seqpacket && q.state == .listen && q.name == .path(Array((dir + "/seq\u{1B}\n.sock").utf8)))
        let a = try entry(pa), b = try entry(pb)
        #expect(a.peerInode == pb.inode && b.peerInode == pa.inode && a.name == .unnamed && a.kind == .seqpacket)
        withExtendedLifetime([listener, client, server, dg, seq, pa, pb]) {}
    }

    @Test func aFullAcceptQueueShowsAsRecvQAgainstTheBacklog() throws {
        let dir = try UnixSockets.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = Array((dir + "/full.sock").utf8)
        let listener = try UnixSockets.listener(.stream, .path(path), backlog: 2)
        // The kernel takes backlog + 1 connections before a non-blocking connect fails with EAGAIN.
        var clients: [UnixTestSocket] = []
        for _ in 0..<10 {
            guard let c = try? UnixSockets.connect(.stream, to: .path(path), nonBlocking: true) else { break }
            clients.append(c)
        }
        #expect(clients.count == 3 && errno == EAGAIN)
        let l = try #require(try unix(.netlink).first { $0.inode == listener.inode })
        #expect(l.recvQueue == 3 && l.sendQueue == 2)
        #expect(Set(l.pending ?? []) == Set(clients.map(\.inode)))
        withExtendedLifetime(clients) {}
    }

    @Test func netlinkAndProcNetUnixAgreeOnEverySocket() throws {
        // Sockets of other processes may come and go between the two reads: compare ours only.
        let dir = try UnixSockets.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var mine: [UnixTestSocket] = []
        for i in 0..<20 {
            let l = try UnixSockets.listener(.stream, .path(Array((dir + "/s\(i).sock").utf8)))
            let c = try UnixSockets.connect(.stream, to: .path(Array((dir + "/s\(i).sock").utf8)))
            mine += [l, c, try UnixSockets.accept(l)]
            let (x, y) = try UnixSockets.pair(i % 2 == 0 ? .dgram : .stream)
            mine += [x, y]
        }
        let inodes = Set(mine.map(\.inode))
        let nl = try unix(.netlink).filter { inodes.contains($0.inode) }
        let pr = try FamilySources.unix(CollectOptions(source: .proc)).entries.filter { inodes.contains($0.inode) }
        #expect(nl.count == mine.count && pr.count == mine.count)
        for n in nl {
            let p = try #require(pr.first { $0.inode == n.inode })
            #expect(p.kind == n.kind && p.state == n.state && p.name == n.name)
        }
    }

    /// `struct sockaddr_nl` (family, pad, port id, groups), which Glibc's module does not export.
    struct NetlinkAddress { var family = UInt16(AF_NETLINK), pad: UInt16 = 0, pid: UInt32 = 0, groups: UInt32 = 0 }

    @Test func thisProcessesOwnNetlinkSocketIsListed() throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var a = NetlinkAddress(groups: 1)
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<NetlinkAddress>.size)) } }
        #expect(rc == 0)
        var got = NetlinkAddress()
        var len = socklen_t(MemoryLayout<NetlinkAddress>.size)
        _ = withUnsafeMutablePointer(to: &got) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        var st = stat()
        #expect(fstat(fd, &st) == 0)
        for source in [SourceChoice.netlink, .proc] {
            let hits = try FamilySources.netlink(CollectOptions(source: source)).entries.filter { $0.inode == UInt64(st.st_ino) }
            #expect(hits.count == 1, "\(source)")
            #expect(hits.first?.portID == got.pid && hits.first?.groups == 1 && hits.first?.protocolNumber == 0)
        }
    }

    @Test(.requires(.root)) func anAFPacketSocketIsListed() throws {
        try Requirement.root.check()
        let fd = socket(AF_PACKET, Int32(SOCK_DGRAM.rawValue), Int32(UInt16(0x0806).bigEndian))  // ETH_P_ARP
        #expect(fd >= 0)
        defer { close(fd) }
        var st = stat()
        #expect(fstat(fd, &st) == 0)
        for source in [SourceChoice.netlink, .proc] {
            let hits = try FamilySources.packet(CollectOptions(source: source)).entries.filter { $0.inode == UInt64(st.st_ino) }
            #expect(hits.count == 1 && hits.first?.isRaw == false && hits.first?.protocolNumber == 0x0806
                    && hits.first?.interfaceIndex == 0, "\(source): \(hits)")
        }
    }
}
