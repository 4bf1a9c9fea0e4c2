import SockscopeCollect
import SockscopeFilter
import SockscopeModel
@testable import SockscopeTUI
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// CPU per refresh on this machine's real socket table: collection (netlink with tcp_info and
/// memory, every state, as `-w` asks), the tracker update, the view-model rebuild and one
/// 120×30 frame. Opt-in, because it measures rather than checks:
///
///     python3 Tests/SockscopeTUITests/loopback_load.py --connections 2000 &   # wait for READY
///     SOCKSCOPE_BENCH=1 swift test --filter RefreshCostTests
@Suite struct RefreshCostTests {
    static func cpuSeconds() -> Double {
        var ru = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &ru)
        return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6
    }

    @Test(.enabled(if: getenv("SOCKSCOPE_BENCH") != nil), arguments: [false, true])
    func cpuPerRefresh(owners: Bool) throws {
        let collector = SocketCollector(options: CollectOptions(tcpInfo: true, memory: true))
        let query = Query(states: .all)
        var tracker = ChangeTracker()
        var model = ViewModel(settings: WatchSettings(states: .connected))
        var samples: [Double] = [], phases = [0.0, 0.0, 0.0]
        var count = 0
        for i in 0..<6 {
            let t0 = Self.cpuSeconds()
            let snapshot = try collector.collect(query, owners: owners)
            let t1 = Self.cpuSeconds()
            _ = tracker.update(snapshot, at: Double(i))
            let t2 = Self.cpuSeconds()
            model.ingest(tracker.sockets, source: snapshot.source, at: Double(i))
            _ = model.render(width: 120, height: 30)
            let t3 = Self.cpuSeconds()
            samples.append(t3 - t0)
            if i > 0 { phases[0] += t1 - t0; phases[1] += t2 - t1; phases[2] += t3 - t2 }
            count = snapshot.records.count
        }
        let steady = samples.dropFirst()   // the first refresh also primes the tracker
        let n = Double(steady.count)
        func ms(_ x: Double) -> String { String(Int((x * 1000).rounded())) }
        print("refresh cost: \(count) sockets, owners \(owners): mean \(ms(steady.reduce(0, +) / n)) ms CPU "
              + "(collect \(ms(phases[0] / n)), track \(ms(phases[1] / n)), view+frame \(ms(phases[2] / n))), "
              + "max \(ms(steady.max() ?? 0)) ms, first \(ms(samples[0])) ms")
        #expect(count > 0 && tracker.liveCount == count)
    }
}
