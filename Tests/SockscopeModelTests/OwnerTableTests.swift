import SockscopeModel
import Testing

@Suite struct OwnerTableTests {
    let nginx = SocketOwner(pid: 300, rawName: Array("nginx".utf8), uid: 33, user: "www-data", fd: 0, cgroup: "/system.slice/nginx.service",
                            unit: "nginx.service")
    let sshd = SocketOwner(pid: 20, rawName: Array("sshd".utf8), uid: 0, fd: 0)

    /// Two processes: sshd (process 1) holds 11 at fd 9 and fd 4; nginx (process 0) holds 11 at fd 3,
    /// 10 at fd 5 and the peer 12 at fd 6. Entries in no particular order.
    var table: SocketOwnerTable {
        SocketOwnerTable(processes: [nginx, sshd], entries: [
            .init(inode: 11, process: 1, fd: 9), .init(inode: 12, process: 0, fd: 6), .init(inode: 11, process: 0, fd: 3),
            .init(inode: 10, process: 0, fd: 5), .init(inode: 11, process: 1, fd: 4),
        ])
    }

    func owner(_ o: SocketOwner, fd: Int32) -> SocketOwner {
        var x = o
        x.fd = fd
        return x
    }

    @Test func lookupIsSortedByPidThenFd() {
        let t = table
        #expect(t.owners(of: 11) == [owner(sshd, fd: 4), owner(sshd, fd: 9), owner(nginx, fd: 3)])
        #expect(t.owners(of: 10) == [owner(nginx, fd: 5)])
        #expect(t.owners(of: 12).map(\.fd) == [6])
        #expect(t.owners(of: 13).isEmpty)
        #expect(t.owners(of: 9).isEmpty)
        #expect(t.owners(of: 0).isEmpty)
        #expect(t.inodes == [10, 11, 12])
        var visited: [Int32] = []
        t.forEachOwner(of: 11) { visited.append($0.fd) }
        #expect(visited == [4, 9, 3])
        #expect(SocketOwnerTable.empty.owners(of: 11).isEmpty)
    }

    @Test func threadsOfOneProcessOrderByFdThenTid() {
        var a = nginx, b = nginx
        a.tid = 301; b.tid = 302
        let t = SocketOwnerTable(processes: [b, a], entries: [
            .init(inode: 7, process: 0, fd: 3), .init(inode: 7, process: 1, fd: 3), .init(inode: 7, process: 1, fd: 8),
            .init(inode: 7, process: 0, fd: 5),
        ])
        #expect(t.owners(of: 7).map { [$0.fd, $0.tid ?? 0] } == [[3, 301], [3, 302], [5, 302], [8, 301]])
    }

    @Test func aDictionaryRoundTrips() {
        let map: [UInt64: [SocketOwner]] = [11: [owner(sshd, fd: 4), owner(nginx, fd: 3)], 10: [owner(nginx, fd: 5)]]
        let t = SocketOwnerTable(map)
        #expect(t.dictionary == map)
        #expect(t.processes.count == 2, "each process once")
    }

    @Test func anEntryOfNoProcessIsDropped() {
        let t = SocketOwnerTable(processes: [sshd], entries: [.init(inode: 5, process: 1, fd: 3), .init(inode: 6, process: 0, fd: 4)])
        #expect(t.inodes == [6])
    }

    func unixRecord(inode: UInt64, peer: UInt64) -> SocketRecord {
        SocketRecord(proto: .unixStream, family: .unix, state: .established,
                     local: .unix(UnixEndpoint(kind: .unnamed, inode: inode)),
                     remote: .unix(UnixEndpoint(kind: .unnamed, inode: peer)), inode: inode)
    }

    @Test func aRecordReadsItsOwnersAndItsPeersFromTheTable() {
        var r = unixRecord(inode: 10, peer: 12)
        #expect(!r.hasProcesses && !r.hasPeerProcesses)
        r.attachOwners(table)
        #expect(r.hasProcesses && r.hasPeerProcesses)
        #expect(r.processes == [owner(nginx, fd: 5)])
        #expect(r.peerProcesses == [owner(nginx, fd: 6)])
        var visited: [Int32] = []
        r.forEachProcess { visited.append($0.fd) }
        r.forEachProcess(peer: true) { visited.append($0.fd) }
        #expect(visited == [5, 6])

        // The same values as lists: equal, and hashed alike.
        var lists = unixRecord(inode: 10, peer: 12)
        lists.processes = [owner(nginx, fd: 5)]
        lists.peerProcesses = [owner(nginx, fd: 6)]
        #expect(lists == r)
        #expect(Set([lists, r]).count == 1)

        // Setting one list keeps the other as the table gave it.
        var mine = r
        mine.processes = nil
        #expect(mine.processes == nil && mine.peerProcesses == [owner(nginx, fd: 6)])
        var theirs = r
        theirs.peerProcesses = []
        #expect(theirs.processes == [owner(nginx, fd: 5)] && theirs.peerProcesses == [])
        #expect(theirs != r)
    }

    @Test func onlyAConnectedUnixSocketHasPeerOwners() {
        var unconnected = unixRecord(inode: 11, peer: 0)
        unconnected.attachOwners(table)
        #expect(unconnected.processes?.count == 3)
        #expect(unconnected.peerProcesses == nil && !unconnected.hasPeerProcesses)
        var tcp = SocketRecord(proto: .tcp, family: .inet, state: .listen, local: Endpoint(address: IPAddress("127.0.0.1")!, port: 80),
                               remote: Endpoint(address: IPAddress("0.0.0.0")!, port: 0), inode: 12)
        tcp.attachOwners(table)
        #expect(tcp.processes == [owner(nginx, fd: 6)] && tcp.peerProcesses == nil)
        // No owners in the table: an empty list, as for TIME_WAIT.
        var gone = unixRecord(inode: 99, peer: 98)
        gone.attachOwners(table)
        #expect(gone.processes == [] && gone.peerProcesses == [])
    }
}
