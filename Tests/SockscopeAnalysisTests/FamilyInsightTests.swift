import SockscopeAnalysis
import SockscopeModel
import Testing

/// UNIX listeners and connections in the port insights: a listener's accepted connections found
/// by its name, and process → process edges over the server's name.
@Suite struct FamilyInsightTests {
    static func unix(_ state: SocketState, inode: UInt64, peer: UInt64, name: UnixName, peerName: UnixName = .unnamed,
                     owner: (Int32, String)? = nil, peerOwner: (Int32, String)? = nil) -> SocketRecord {
        var r = SocketRecord(proto: .unixStream, family: .unix, state: state,
                             local: .unix(UnixEndpoint(kind: .unnamed, inode: inode)),
                             remote: .unix(UnixEndpoint(kind: .unnamed, inode: peer)), sendQueue: state == .listen ? 64 : 0, inode: inode)
        r.localUnixName = name
        r.remoteUnixName = peerName
        if let (pid, n) = owner { r.processes = [SocketOwner(pid: pid, rawName: Array(n.utf8), uid: 0, fd: 3)] }
        if let (pid, n) = peerOwner { r.peerProcesses = [SocketOwner(pid: pid, rawName: Array(n.utf8), uid: 0, fd: 4)] }
        return r
    }

    static let path = UnixName.path(Array("/run/app.sock".utf8))

    /// A listener, two connections it accepted (from two client processes) and their client ends.
    static var records: [SocketRecord] {
        [
            unix(.listen, inode: 1, peer: 0, name: path, owner: (10, "srv")),
            unix(.established, inode: 2, peer: 3, name: path, owner: (10, "srv"), peerOwner: (20, "cli")),
            unix(.established, inode: 3, peer: 2, name: .unnamed, peerName: path, owner: (20, "cli"), peerOwner: (10, "srv")),
            unix(.established, inode: 4, peer: 5, name: path, owner: (10, "srv"), peerOwner: (21, "cli")),
            unix(.established, inode: 5, peer: 4, name: .unnamed, peerName: path, owner: (21, "cli"), peerOwner: (10, "srv")),
            unix(.listen, inode: 6, peer: 0, name: .abstract(Array("other".utf8)), owner: (11, "x")),
        ]
    }

    @Test func unixListenersCountWhatTheyAcceptedByName() throws {
        let h = ListenerAnalysis.health(Self.records, backlogKnown: true)
        let app = try #require(h.first { $0.listener.inode == 1 })
        #expect(app.established == 2 && app.peers == 2 && app.backlog == 64, "two client processes")
        let other = try #require(h.first { $0.listener.inode == 6 })
        #expect(other.established == 0 && other.peers == 0)
        #expect(h.map(\.listener.inode) == [1, 6], "ordered by name: a path before an abstract name")
    }

    @Test func unixConnectionsAreProcessEdgesOverTheServersName() throws {
        let edges = ConnectionMapper.edges(Self.records).filter { $0.unixName != nil }
        #expect(edges.count == 1, "\(edges)")
        let e = try #require(edges.first)
        #expect(e.client == .process(Array("cli".utf8)) && e.server == .process(Array("srv".utf8)))
        #expect(e.unixName == Self.path && e.connections == 2 && e.clientPIDs == [20, 21] && e.serverPIDs == [10] && e.port == 0)
        let perProcess = ConnectionMapper.edges(Self.records, perProcess: true).filter { $0.unixName != nil }
        #expect(perProcess.count == 2 && perProcess.allSatisfy { $0.connections == 1 })
    }
}
