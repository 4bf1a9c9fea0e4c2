import SockscopeAnalysis
import SockscopeFilter
import SockscopeModel
import Testing

private func watch(_ text: String) throws -> PortWatch { PortWatch(try ListenTargets(parsing: text).targets) }

private func listener(_ port: UInt16, cookie: UInt64, pid: Int32? = nil, on address: IPAddress = IPAddress(ipv4: 0x7F00_0001)) -> SocketRecord {
    var r = SocketRecord(proto: .tcp, family: address.isIPv6 ? .inet6 : .inet, state: .listen, local: Endpoint(address: address, port: port),
                         remote: Endpoint(address: .anyIPv4, port: 0), cookie: cookie)
    if let pid { r.processes = [SocketOwner(pid: pid, rawName: Array("srv".utf8), uid: 0, fd: 3)] }
    return r
}

@Suite struct PortWatchTests {
    @Test func firstUpdateReportsEveryPortThenOnlyChanges() throws {
        var w = try watch("80,443,8080")
        let first = w.update([listener(443, cookie: 1)])
        #expect(first.map(\.target.port) == [80, 443, 8080])
        #expect(first.map(\.up) == [false, true, false])
        #expect(first[1].sockets.map(\.cookie) == [1])
        #expect(w.notUp.map(\.port) == [80, 8080] && !w.allUp && !w.allDown)

        #expect(w.update([listener(443, cookie: 1)]).isEmpty, "nothing changed")

        let second = w.update([listener(80, cookie: 2), listener(8080, cookie: 3)])
        #expect(second.map(\.target.port) == [80, 443, 8080])
        #expect(second.map(\.up) == [true, false, true])
        #expect(second[1].sockets.isEmpty, "a DOWN line carries no sockets")
        #expect(w.notUp.map(\.port) == [443] && w.stillUp.map(\.port) == [80, 8080])
    }

    @Test func allUpOnceEveryPortListensEvenThroughSeveralSockets() throws {
        var w = try watch("22,80")
        _ = w.update([listener(22, cookie: 1), listener(22, cookie: 2)])
        #expect(!w.allUp)
        let c = w.update([listener(22, cookie: 1), listener(22, cookie: 2), listener(80, cookie: 3)])
        #expect(c.map(\.target.port) == [80] && w.allUp)
        _ = w.update([])
        #expect(w.allDown && !w.allUp)
    }

    @Test func enrichReplacesOnlyUpSocketsWithTheOwnedOnes() throws {
        var w = try watch("80,81")
        let changes = w.update([listener(81, cookie: 2)])
        let both = PortWatch.enrich(changes, from: [listener(80, cookie: 9, pid: 7), listener(81, cookie: 2, pid: 42)])
        #expect(both[0].target.port == 80 && !both[0].up && both[0].sockets.isEmpty, "a DOWN change stays empty")
        #expect(both[1].target.port == 81 && both[1].sockets.first?.processes?.first?.pid == 42)
    }

    @Test func aHostTargetIsServedByItsAddressOrItsFamilysWildcardOnly() throws {
        var w = try watch("127.0.0.2:80,[::1]:80")
        let v4 = w.update([listener(80, cookie: 1, on: IPAddress(ipv4: 0x7F00_0001)), listener(80, cookie: 2, on: IPAddress("::2")!)])
        #expect(v4.map(\.up) == [false, false], "127.0.0.1 and ::2 serve neither")
        let wild = w.update([listener(80, cookie: 3, on: .anyIPv4)])
        #expect(wild.map(\.target.description) == ["127.0.0.2:80"] && wild[0].up, "0.0.0.0 serves 127.0.0.2 but not ::1")
        let exact = w.update([listener(80, cookie: 3, on: .anyIPv4), listener(80, cookie: 4, on: IPAddress("::1")!)])
        #expect(exact.map(\.target.description) == ["[::1]:80"] && exact[0].sockets.map(\.cookie) == [4])
        #expect(w.allUp)
    }

    @Test func targetsParsePortsRangesServicesAndHosts() throws {
        let t = try ListenTargets(parsing: "22,8000-8002,http,127.0.0.1:9000,[::1]:9001,*:9002,22", resolve: { $0 == "http" ? [80] : [] })
        #expect(t.targets.map(\.description) == ["22", "8000", "8001", "8002", "80", "127.0.0.1:9000", "[::1]:9001", "9002"])
        #expect(t.ports.ranges == [22...22, 80...80, 8000...8002, 9000...9002])
        #expect(throws: FilterError.self) { try ListenTargets(parsing: "1-1025") }
        #expect(throws: FilterError.self) { try ListenTargets(parsing: "example.org:80") }
        #expect(throws: FilterError.self) { try ListenTargets(parsing: "[::1]:") }
        #expect((try? ListenTargets(parsing: "1-1024"))?.targets.count == 1024)
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
        var s = EventStream(refreshInterval: 1, selects: { [q] in q.matches($0) })
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
        #expect(EventStream(refreshInterval: 3, selects: { _ in true }).tracker.closedRetention == 6)
        #expect(EventStream(refreshInterval: 0.1, selects: { _ in true }).tracker.closedRetention == 2)
    }
}
