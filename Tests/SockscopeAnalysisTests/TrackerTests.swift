import SockscopeAnalysis
import SockscopeModel
import Testing

/// A loopback TCP record; `cookie` nil makes it a /proc-style record.
private func rec(_ state: SocketState = .established, local: UInt16, remote: UInt16 = 0, cookie: UInt64? = nil,
                 inode: UInt64 = 0, received: UInt64? = nil, acked: UInt64? = nil, sent: UInt64? = nil) -> SocketRecord {
    let lo = IPAddress(ipv4: 0x7F00_0001)
    var r = SocketRecord(proto: .tcp, family: .inet, state: state, local: Endpoint(address: lo, port: local),
                         remote: Endpoint(address: remote == 0 ? .anyIPv4 : lo, port: remote), inode: inode, cookie: cookie)
    if received != nil || acked != nil || sent != nil {
        r.tcpInfo = TCPInfo(bytesAcked: acked, bytesReceived: received, bytesSent: sent)
    }
    return r
}

private func snap(_ records: [SocketRecord], _ source: SourceKind = .netlink) -> Snapshot {
    Snapshot(records: records, source: source)
}

@Suite struct TrackerTests {
    @Test func firstUpdateReportsEverySocketAsSnapshot() {
        var t = ChangeTracker()
        let events = t.update(snap([rec(.listen, local: 22, cookie: 1), rec(local: 40000, remote: 22, cookie: 2)]), at: 10)
        #expect(events.map(\.kind) == [.snapshot, .snapshot])
        #expect(t.sockets.count == 2)
        #expect(t.sockets.allSatisfy { $0.presentAtStart && $0.firstSeen == 10 && !$0.isClosed })
        #expect(t.lastUpdate == 10)
    }

    @Test func opensClosesAndStateChangesInSnapshotOrder() {
        var t = ChangeTracker(closedRetention: 5)
        _ = t.update(snap([rec(.listen, local: 22, cookie: 1), rec(.synSent, local: 40000, remote: 22, cookie: 2),
                           rec(local: 40001, remote: 22, cookie: 3)]), at: 0)
        let events = t.update(snap([rec(local: 40002, remote: 22, cookie: 4), rec(.listen, local: 22, cookie: 1),
                                    rec(local: 40000, remote: 22, cookie: 2)]), at: 1)
        #expect(events.count == 3)
        #expect(events[0].kind == .open && events[0].record.local.port == 40002)
        #expect(events[1].kind == .state(from: .synSent) && events[1].key == .cookie(.tcp, 2))
        #expect(events[2].kind == .close && events[2].record.local.port == 40001)
        #expect(events.allSatisfy { $0.time == 1 })

        let changed = t.socket(.cookie(.tcp, 2))
        #expect(changed?.previousState == .synSent && changed?.stateChangedAt == 1 && changed?.firstSeen == 0)
        let opened = t.socket(.cookie(.tcp, 4))
        #expect(opened?.presentAtStart == false && opened?.firstSeen == 1)
        // Live first (snapshot order), then the closed one with its last values.
        #expect(t.liveCount == 3)
        #expect(t.sockets.map(\.record.local.port) == [40002, 22, 40000, 40001])
        #expect(t.sockets[3].closedAt == 1 && t.sockets[3].record.state == .established)
    }

    @Test func closedSocketsExpireAfterTheGracePeriod() {
        var t = ChangeTracker(closedRetention: 3)
        _ = t.update(snap([rec(local: 1, remote: 2, cookie: 7)]), at: 0)
        _ = t.update(snap([]), at: 1)
        #expect(t.sockets.count == 1 && t.sockets[0].isClosed)
        _ = t.update(snap([]), at: 3.5)   // 2.5 s after the close: kept
        #expect(t.sockets.count == 1)
        let events = t.update(snap([]), at: 4.0)   // 3 s: gone, and no second close event
        #expect(t.sockets.isEmpty)
        #expect(events.isEmpty)
    }

    @Test func zeroRetentionKeepsNothingButStillReportsTheClose() {
        var t = ChangeTracker(closedRetention: 0)
        _ = t.update(snap([rec(local: 1, remote: 2, cookie: 7)]), at: 0)
        let events = t.update(snap([]), at: 1)
        #expect(events.map(\.kind) == [.close])
        #expect(t.sockets.isEmpty)
    }

    @Test func aSocketThatComesBackIsOpenedAgainAndLeavesTheClosedList() {
        var t = ChangeTracker(closedRetention: 10)
        let r = rec(local: 5, remote: 6)   // /proc key
        _ = t.update(snap([r], .proc), at: 0)
        _ = t.update(snap([], .proc), at: 1)
        let events = t.update(snap([r], .proc), at: 2)
        #expect(events.map(\.kind) == [.open])
        #expect(t.sockets.count == 1 && !t.sockets[0].isClosed && t.sockets[0].firstSeen == 2)
    }

    @Test func throughputFromTwoSnapshots() {
        var t = ChangeTracker()
        _ = t.update(snap([rec(local: 1, remote: 2, cookie: 9, received: 1_000, acked: 5_000)]), at: 10)
        #expect(t.sockets[0].throughput == nil)
        _ = t.update(snap([rec(local: 1, remote: 2, cookie: 9, received: 3_000, acked: 5_500)]), at: 12)
        #expect(t.sockets[0].throughput == Throughput(inBytesPerSecond: 1_000, outBytesPerSecond: 250))
    }

    @Test func throughputFallsBackToBytesSentAndRefusesBackwardCounters() {
        let a = TCPInfo(bytesReceived: 100, bytesSent: 100)
        let b = TCPInfo(bytesReceived: 50, bytesSent: 400)
        #expect(ChangeTracker.throughput(from: a, to: b, seconds: 3) == Throughput(inBytesPerSecond: nil, outBytesPerSecond: 100))
        #expect(ChangeTracker.throughput(from: a, to: b, seconds: 0) == nil)
        #expect(ChangeTracker.throughput(from: a, to: nil, seconds: 1) == nil)
        #expect(ChangeTracker.throughput(from: TCPInfo(), to: TCPInfo(), seconds: 1) == nil)
    }

    @Test func procSocketMovingToTimeWaitIsAStateChangeNotACloseAndOpen() {
        var t = ChangeTracker()
        _ = t.update(snap([rec(local: 40000, remote: 80, inode: 1234)], .proc), at: 0)
        let events = t.update(snap([rec(.timeWait, local: 40000, remote: 80, inode: 0)], .proc), at: 1)
        #expect(events.map(\.kind) == [.state(from: .established)])
        #expect(t.sockets.count == 1 && t.sockets[0].firstSeen == 0 && t.sockets[0].record.state == .timeWait)
    }

    @Test func keysPreferCookiesAndDuplicatesAreIgnored() {
        #expect(SocketKey(rec(local: 1, remote: 2, cookie: 5)) == .cookie(.tcp, 5))
        // A zero cookie (fixtures) is no identity: fall back to the 5-tuple and inode.
        if case .proc(_, _, let inode) = SocketKey(rec(local: 1, remote: 2, cookie: 0, inode: 77)) {
            #expect(inode == 77)
        } else {
            Issue.record("a zero cookie must not be used as a key")
        }
        var t = ChangeTracker()
        let events = t.update(snap([rec(local: 1, remote: 2, cookie: 5), rec(.closeWait, local: 1, remote: 2, cookie: 5)]), at: 0)
        #expect(events.count == 1 && t.sockets.count == 1 && t.sockets[0].record.state == .established)
    }

    /// `track` (no events, for the live view) keeps exactly the sockets `update` keeps, and the
    /// persistent index finds live and closed sockets across updates, /proc keys included.
    @Test func trackMatchesUpdateAndTheIndexFollowsRows() {
        let rounds: [[SocketRecord]] = [
            [rec(.listen, local: 22, cookie: 1), rec(local: 40000, remote: 22, cookie: 2, received: 10),
             rec(local: 5, remote: 6, inode: 77)],
            [rec(local: 40001, remote: 22, cookie: 3), rec(.listen, local: 22, cookie: 1),
             rec(local: 40000, remote: 22, cookie: 2, received: 30), rec(local: 40000, remote: 22, cookie: 2)],
            [rec(.timeWait, local: 5, remote: 6), rec(local: 40001, remote: 22, cookie: 3)],
        ]
        var a = ChangeTracker(closedRetention: 5), b = ChangeTracker(closedRetention: 5)
        for (n, records) in rounds.enumerated() {
            _ = a.update(snap(records, n == 2 ? .proc : .netlink), at: Double(n))
            b.track(snap(records, n == 2 ? .proc : .netlink), at: Double(n))
            #expect(a.sockets.map(\.key) == b.sockets.map(\.key))
            #expect(a.sockets.map(\.record) == b.sockets.map(\.record))
            #expect(a.sockets.map(\.throughput) == b.sockets.map(\.throughput))
            #expect(a.liveCount == b.liveCount)
            for s in b.sockets { #expect(b.socket(s.key)?.record == s.record) }
        }
        // The duplicate row of cookie 2 was dropped; cookie 2 and the listener closed at 2.
        #expect(b.socket(.cookie(.tcp, 2))?.closedAt == 2)
        #expect(b.socket(.cookie(.tcp, 1))?.isClosed == true)
        #expect(b.socket(.cookie(.udp, 3)) == nil)   // same cookie, other protocol: not the same socket
    }
}
