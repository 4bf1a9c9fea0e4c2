import Dispatch
import SockscopeAnalysis
import SockscopeFilter
import SockscopeModel
import Synchronization
@testable import SockscopeTUI
import Testing

/// The preparation that moved off the UI thread gives the rows the old in-place code gave, and
/// the UI thread stays responsive while a collection is stuck.
@Suite struct PreparedTableTests {
    /// The order the view model used to compute on the UI thread, written out plainly.
    static func reference(_ sockets: [TrackedSocket], _ col: SortColumn, descending: Bool) -> [Int] {
        func key(_ s: TrackedSocket) -> Double {
            let r = s.record
            switch col {
            case .state: return Double(r.state.rawValue)
            case .proto: return Double(r.proto.rank) * 32 + Double(r.family.rawFamily)
            case .recvQ: return Double(r.recvQueue)
            case .sendQ: return Double(r.sendQueue)
            case .rtt: return r.tcpInfo.map { Double($0.rttUs) } ?? -1
            case .rateIn: return s.throughput?.inBytesPerSecond ?? -1
            case .rateOut: return s.throughput?.outBytesPerSecond ?? -1
            case .age: return -s.firstSeen
            case .owner: return Double(r.processes?.min()?.pid ?? Int32.max)
            default: return 0
            }
        }
        return sockets.indices.sorted { a, b in
            let x = sockets[a], y = sockets[b]
            if col == .local || col == .remote {
                let (p, q) = col == .local ? (x.record.local, y.record.local) : (x.record.remote, y.record.remote)
                if p != q { return descending ? q < p : p < q }
            } else if key(x) != key(y) {
                return descending ? key(x) > key(y) : key(x) < key(y)
            }
            if x.record.local != y.record.local { return x.record.local < y.record.local }
            if x.record.remote != y.record.remote { return x.record.remote < y.record.remote }
            if x.record.proto != y.record.proto { return x.record.proto < y.record.proto }
            return a < b
        }
    }

    @Test func everyColumnBothWaysSortsLikeTheReference() {
        let sockets = Synthetic.tracker().sockets
        let settings = Synthetic.settings()
        for col in SortColumn.connections {
            for reversed in [false, true] {
                let ordering = Ordering(mode: .connections, sort: col, reversed: reversed)
                let t = PreparedTable(sockets: sockets, source: .netlink, time: 102, generation: 1, ordering: ordering,
                                      settings: settings)
                let rows = t.filtered(by: ViewFilter(states: .all, port: nil)).rows
                #expect(rows == Self.reference(sockets, col, descending: ordering.descending), "\(col) reversed \(reversed)")
            }
        }
    }

    @Test func filteringCountsTotalsAndOwnersInOnePass() throws {
        let sockets = Synthetic.tracker().sockets
        let t = PreparedTable(sockets: sockets, source: .netlink, time: 102, generation: 1, ordering: Ordering(),
                              settings: Synthetic.settings())
        let f = t.filtered(by: ViewFilter(states: .connected, port: try PortSpec(parsing: "443")))
        let expected = sockets.indices.filter { i in
            let r = sockets[i].record
            return StateSet.connected.restricted(to: r.proto).contains(r.state)
                && (r.local.port == 443 || r.remote.port == 443)
        }
        #expect(Set(f.rows) == Set(expected))
        #expect(f.live + f.closed == expected.count)
        #expect(f.totals.map(\.name) == ["ESTAB"] && f.totals.first?.count == f.live)
        #expect(f.anyOwners)
    }

    @Test func aReSortOfOlderDataNeverReplacesNewerData() {
        var m = ViewModel(settings: Synthetic.settings())
        m.reordersInline = false
        let sockets = Synthetic.tracker().sockets
        let old = PreparedTable(sockets: sockets, source: .netlink, time: 100, generation: 1, ordering: m.ordering,
                                settings: m.settings)
        let new = PreparedTable(sockets: sockets, source: .netlink, time: 102, generation: 2, ordering: m.ordering,
                                settings: m.settings)
        m.ingest(new)
        m.handle(.char("s"))
        #expect(m.needsReorder == Ordering(mode: .connections, sort: .remote, reversed: false))
        m.ingest(old.reordered(for: m.ordering, settings: m.settings))   // stale: ignored
        #expect(m.table.generation == 2 && m.needsReorder != nil)
        m.ingest(new.reordered(for: Ordering(sort: .state), settings: m.settings))  // not what is wanted: ignored
        #expect(m.needsReorder != nil)
        m.ingest(new.reordered(for: m.ordering, settings: m.settings))
        #expect(m.needsReorder == nil && m.table.generation == 2)
        let remotes = m.rows.map { m.sockets[$0].record.remote }
        #expect(remotes == remotes.sorted())
    }
}

@Suite struct LiveSessionTests {
    /// A collector whose second collection blocks until the test lets it go: while it hangs, keys
    /// still change the rows (filter), a sort key is answered by the sort job, and every hand-over
    /// the UI thread makes returns. No timing is asserted; the waits only bound a deadlock.
    @Test func keysAreAnsweredWhileACollectionIsStuck() {
        let records = Synthetic.records(second: true)
        let calls = Mutex(0)
        let inSecond = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let woke = DispatchSemaphore(value: 0)
        var session = LiveSession(settings: Synthetic.settings(), notify: { woke.signal() })
        let control = session.control
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue(label: "test.collector").async {
            control.run(retention: 5) { _, _ in
                let n = calls.withLock { c -> Int in c += 1; return c }
                if n == 2 {
                    inSecond.signal()
                    release.wait()
                }
                return Snapshot(records: records, source: .netlink)
            }
            finished.signal()
        }
        defer {
            control.state.withLock { $0.stop = true }
            release.signal()
            control.wake.signal()
            _ = finished.wait(timeout: .now() + 60)
        }
        // The first refresh arrives and is shown.
        while session.model.rows.isEmpty {
            #expect(woke.wait(timeout: .now() + 60) == .success)
            _ = session.poll()
        }
        let all = session.model.rows.count
        session.model.handle(.char("-"))  // the shortest interval, so the second collection starts at once
        for _ in 0..<5 { session.handle(.char("-")) }
        _ = session.poll()
        control.wake.signal()
        #expect(inSecond.wait(timeout: .now() + 60) == .success)

        // The collector is now stuck inside collect(). The UI thread's work goes on.
        session.handle(.char("/"))
        for c in "443" { session.handle(.char(c)) }
        session.handle(.enter)
        _ = session.poll()
        #expect(session.model.rows.count < all)
        #expect(session.model.rows.allSatisfy {
            let r = session.model.sockets[$0].record
            return r.local.port == 443 || r.remote.port == 443
        })
        session.handle(.char("s"))
        _ = session.poll()
        #expect(!session.isSorted)
        while !session.isSorted {
            #expect(woke.wait(timeout: .now() + 60) == .success)
            _ = session.poll()
        }
        #expect(session.model.table.ordering.sort == .remote)
        let remotes = session.model.rows.map { session.model.sockets[$0].record.remote }
        #expect(remotes == remotes.sorted())
        #expect(calls.withLock { $0 } == 2)   // all of that while the second collection still hung
    }
}
