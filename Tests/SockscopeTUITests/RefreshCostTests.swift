import SockscopeCollect
import SockscopeFilter
import SockscopeModel
@testable import SockscopeTUI
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// CPU per refresh on this machine's real socket table, phase by phase as the live loop runs
/// them: on the collector thread, collection (netlink with tcp_info and memory, every state, as
/// `-w` asks), the tracker update and preparing the table (facts, sort, filter); on the UI thread,
/// taking the prepared table and drawing one 120×30 frame. Opt-in, because it measures rather
/// than checks; serialized, because getrusage counts every thread of the process:
///
///     python3 Tests/SockscopeTUITests/loopback_load.py --connections 2000 &   # wait for READY
///     SOCKSCOPE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter RefreshCostTests
@Suite(.serialized) struct RefreshCostTests {
    static func cpuSeconds() -> Double {
        var ru = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &ru)
        return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6
    }

    @Test(.enabled(if: getenv("SOCKSCOPE_BENCH") != nil), arguments: [false, true])
    func cpuPerRefresh(owners: Bool) throws {
        let collector = SocketCollector(options: WatchCollection.options())
        let query = Query(states: .all)
        let settings = WatchSettings(states: .connected)
        var tracker = ChangeTracker()
        var model = ViewModel(settings: settings)
        model.reordersInline = false
        var samples: [Double] = [], phases = [0.0, 0.0, 0.0, 0.0]
        var count = 0
        for i in 0..<6 {
            let t0 = Self.cpuSeconds()
            let snapshot = try collector.collect(query, owners: owners)
            let t1 = Self.cpuSeconds()
            tracker.track(snapshot, at: Double(i))
            let t2 = Self.cpuSeconds()
            let table = PreparedTable(sockets: tracker.sockets, source: snapshot.source, time: Double(i),
                                      generation: i + 1, ordering: model.ordering, settings: settings)
            let filtered = table.filtered(by: model.viewFilter)
            let t3 = Self.cpuSeconds()
            model.ingest(table, filtered: filtered)
            _ = model.render(width: 120, height: 30)
            let t4 = Self.cpuSeconds()
            samples.append(t4 - t0)
            if i > 0 { phases[0] += t1 - t0; phases[1] += t2 - t1; phases[2] += t3 - t2; phases[3] += t4 - t3 }
            count = snapshot.records.count
        }
        let steady = samples.dropFirst()   // the first refresh also primes the tracker
        let n = Double(steady.count)
        func ms(_ x: Double) -> String { String(Int((x * 1000).rounded())) }
        print("refresh cost: \(count) sockets, owners \(owners): mean \(ms(steady.reduce(0, +) / n)) ms CPU "
              + "(collect \(ms(phases[0] / n)), track \(ms(phases[1] / n)), prepare \(ms(phases[2] / n)); "
              + "UI thread \(ms(phases[3] / n))), max \(ms(steady.max() ?? 0)) ms, first \(ms(samples[0])) ms")
        #expect(count > 0 && tracker.liveCount == count)
    }

    /// What a key costs the UI thread at this table size: a filter key (one pass over the facts)
    /// and a frame; and what the re-sort after `s` costs the sort job.
    @Test(.enabled(if: getenv("SOCKSCOPE_BENCH") != nil))
    func cpuPerKey() throws {
        let snapshot = try SocketCollector(options: WatchCollection.options()).collect(Query(states: .all))
        var tracker = ChangeTracker()
        tracker.track(snapshot, at: 0)
        let settings = WatchSettings(states: .connected)
        var model = ViewModel(settings: settings)
        model.reordersInline = false
        model.ingest(PreparedTable(sockets: tracker.sockets, source: snapshot.source, time: 0, generation: 1,
                                   ordering: model.ordering, settings: settings))
        var keys: [Double] = [], sorts: [Double] = []
        for k in ["a", "e", "l", "a", "e", "l"] {
            let t0 = Self.cpuSeconds()
            model.handle(.char(Character(k)))
            _ = model.render(width: 120, height: 30)
            keys.append(Self.cpuSeconds() - t0)
        }
        for _ in 0..<4 {
            model.handle(.char("s"))
            let t0 = Self.cpuSeconds()
            let sorted = model.table.reordered(for: model.ordering, settings: settings)
            sorts.append(Self.cpuSeconds() - t0)
            model.ingest(sorted)
        }
        keys.sort(); sorts.sort()
        print("key cost: \(snapshot.records.count) sockets: filter key + frame median \(Int(keys[3] * 1000)) ms on the UI "
              + "thread; re-sort median \(Int(sorts[2] * 1000)) ms off it")
    }
}

/// What the live view's collection costs with each netlink extension it could ask for (opt-in).
@Suite(.serialized) struct CollectVariantCostTests {
    @Test(.enabled(if: getenv("SOCKSCOPE_BENCH") != nil))
    func collectVariants() throws {
        for (info, mem) in [(false, false), (true, false), (true, true), (false, false), (true, false), (true, true)] {
            let collector = SocketCollector(options: CollectOptions(tcpInfo: info, memory: mem))
            var samples: [Double] = []
            var count = 0
            for _ in 0..<5 {
                let t0 = RefreshCostTests.cpuSeconds()
                let s = try collector.collect(Query(states: .all), owners: false)
                samples.append(RefreshCostTests.cpuSeconds() - t0)
                count = s.records.count
            }
            samples.sort()
            print("collect cost: \(count) sockets, tcp_info \(info), memory \(mem): median \(Int(samples[2] * 1000)) ms CPU")
        }
    }
}
