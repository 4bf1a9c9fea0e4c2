import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import Testing

private func listener(_ port: UInt16, cookie: UInt64, pid: Int32? = nil) -> SocketRecord {
    var r = SocketRecord(proto: .tcp, family: .inet, state: .listen, local: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: port),
                         remote: Endpoint(address: .anyIPv4, port: 0), cookie: cookie)
    if let pid { r.processes = [SocketOwner(pid: pid, rawName: Array("srv".utf8), uid: 0, fd: 3)] }
    return r
}

@Suite struct PortWatchTests {
    @Test func firstUpdateReportsEveryPortThenOnlyChanges() throws {
        var w = try #require(PortWatch(ports: [80, 443, 8080]))
        let first = w.update([listener(443, cookie: 1)])
        #expect(first.map(\.port) == [80, 443, 8080])
        #expect(first.map(\.up) == [false, true, false])
        #expect(first[1].sockets.map(\.cookie) == [1])
        #expect(w.notUp == [80, 8080] && !w.allUp)

        #expect(w.update([listener(443, cookie: 1)]).isEmpty, "nothing changed")

        let second = w.update([listener(80, cookie: 2), listener(8080, cookie: 3)])
        #expect(second.map(\.port) == [80, 443, 8080])
        #expect(second.map(\.up) == [true, false, true])
        #expect(second[1].sockets.isEmpty, "a DOWN line carries no sockets")
        #expect(w.notUp == [443])
    }

    @Test func allUpOnceEveryPortListensEvenThroughSeveralSockets() throws {
        var w = try #require(PortWatch(ports: [22, 80]))
        _ = w.update([listener(22, cookie: 1), listener(22, cookie: 2)])
        #expect(!w.allUp)
        let c = w.update([listener(22, cookie: 1), listener(22, cookie: 2), listener(80, cookie: 3)])
        #expect(c.map(\.port) == [80] && w.allUp)
    }

    @Test func enrichReplacesOnlyUpSocketsWithTheOwnedOnes() throws {
        var w = try #require(PortWatch(ports: [80, 81]))
        let changes = w.update([listener(81, cookie: 2)])
        let both = PortWatch.enrich(changes, from: [listener(80, cookie: 9, pid: 7), listener(81, cookie: 2, pid: 42)])
        #expect(both[0].port == 80 && !both[0].up && both[0].sockets.isEmpty, "a DOWN change stays empty")
        #expect(both[1].port == 81 && both[1].sockets.first?.processes?.first?.pid == 42)
    }

    @Test func tooManyPortsIsRefused() {
        #expect(PortWatch(ports: Array(1...1025)) == nil)
        #expect(PortWatch(ports: Array(1...1024)) != nil)
    }
}

@Suite struct EventStreamTests {
    private func conn(_ local: UInt16, _ remote: UInt16, cookie: UInt64, proto: TransportProtocol = .tcp) -> SocketRecord {
        let lo = IPAddress(ipv4: 0x7F00_0001)
        return SocketRecord(proto: proto, family: .inet, state: .established, local: Endpoint(address: lo, port: local),
                            remote: Endpoint(address: lo, port: remote), cookie: cookie)
    }

    @Test func destroyedSocketsAreReportedOnlyWhenNoSnapshotShowedThemAndTheQuerySelectsThem() {
        var q = Query(protocols: [.tcp])
        q.ports = PortFilter(either: PortSpec(ranges: [8080...8080]))
        var s = EventStream(query: q, refreshInterval: 1)
        let known = conn(40000, 8080, cookie: 1)
        let events = s.refresh(Snapshot(records: [known], source: .netlink), at: 0)
        #expect(events.map(\.kind) == [.snapshot])
        let destroyed = [known, conn(40001, 8080, cookie: 2), conn(40002, 9090, cookie: 3),
                         conn(40003, 8080, cookie: 4, proto: .udp), conn(0, 8080, cookie: 5)]
            .map { DestroyedSocket(record: $0, time: 0.5) }
        #expect(s.unseen(destroyed).map(\.record.cookie) == [2], "known, other port, other protocol and unbound are left out")
        #expect(s.unseen([]).isEmpty)
    }

    @Test func closedSocketsAreRememberedForTwoRefreshes() {
        #expect(EventStream(query: Query(), refreshInterval: 3).tracker.closedRetention == 6)
        #expect(EventStream(query: Query(), refreshInterval: 0.1).tracker.closedRetention == 2)
    }
}
