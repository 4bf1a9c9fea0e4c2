// `sockscope-bench refresh [--sockets N]`: the live view's CPU per refresh and per key, phase by
// phase as its loop runs them, over a loopback load this process holds (N sockets, default
// 4,000): on the collector thread, collection (netlink with tcp_info and memory, every state, as
// `-w` asks), the tracker update and preparing the table (facts, sort, filter); on the UI thread,
// taking the prepared table and drawing one 120×30 frame; without owners, with a full owner scan
// per refresh, and with the incremental owner scan the live view uses. Then what each netlink extension the
// live view could ask for costs the collection. getrusage counts every thread of the process.
import Foundation
import Glibc
import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeTUI

enum RefreshCost {
    static func cpuSeconds() -> Double {
        var ru = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &ru)
        return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6
    }

    static func ms(_ x: Double) -> String { String(Int((x * 1000).rounded())) }

    static func main(_ args: [String]) -> Never {
        var sockets = 4000
        var only: String?
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--sockets": sockets = Int(it.next() ?? "") ?? -1
            case "--only": only = it.next()
            case "-h", "--help":
                print("usage: sockscope-bench refresh [--sockets N] [--only none|full|incremental|scan]   (the live view's refresh and key cost)")
                exit(0)
            default:
                FileHandle.standardError.write("sockscope-bench: unknown argument \(a)\n".data(using: .utf8)!)
                exit(2)
            }
        }
        guard (2...200_000).contains(sockets) else {
            FileHandle.standardError.write("sockscope-bench: --sockets must be 2 to 200000\n".data(using: .utf8)!)
            exit(2)
        }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        // As root, in a private network namespace (as the main benchmark runs): the load is seen by
        // nothing else on the machine, and its ports need not fit beside anyone's.
        if geteuid() == 0 && ProcessInfo.processInfo.environment["SOCKSCOPE_BENCH_NETNS"] == nil {
            setenv("SOCKSCOPE_BENCH_NETNS", "1", 1)
            let cargs = (["unshare", "-n", me, "refresh"] + args).map { strdup($0) } + [nil]
            execvp("unshare", cargs)
        }
        if ProcessInfo.processInfo.environment["SOCKSCOPE_BENCH_NETNS"] != nil {
            _ = measure(["ip", "link", "set", "lo", "up"])
            try? "1024 65000".write(toFile: "/proc/sys/net/ipv4/ip_local_port_range", atomically: false, encoding: .utf8)
        }
        // Holders of at most 9,000 pairs each (a process's descriptor limit is often 20,000), on
        // several addresses so the ephemeral ports suffice.
        var holders: [(Process, Pipe)] = []
        var left = sockets / 2
        while left > 0 {
            let n = min(left, 9000)
            holders.append(Bench.spawnHolder(me, "127.0.0.\(1 + holders.count % 8)", n, 0).0)
            left -= n
        }
        func release() {
            for (p, pipe) in holders { try? pipe.fileHandleForWriting.close(); p.waitUntilExit() }
            holders = []
        }
        do {
            // One mode alone (for a profiler), or all three and the key and collection costs.
            if only == nil || only == "none" { try perRefresh(owners: false) }
            if only == nil || only == "full" { try perRefresh(owners: true) }
            // As the live view runs: the owner scan keeps what it read for processes that did not run.
            if only == nil || only == "incremental" { try perRefresh(owners: true, memory: OwnerScanMemory()) }
            if only == nil || only == "scan" { ownerScans() }
            if only == nil {
                try perKey()
                try collectVariants()
            }
        } catch {
            print("sockscope-bench: \(error)")
            release()
            exit(1)
        }
        release()
        exit(0)
    }

    static func perRefresh(owners: Bool, memory: OwnerScanMemory? = nil) throws {
        let collector = SocketCollector(options: WatchCollection.options())
        let query = Query(states: .all)
        let settings = WatchSettings(states: .connected)
        var tracker = ChangeTracker()
        var model = ViewModel(settings: settings)
        model.reordersInline = false
        var samples: [Double] = [], phases = [0.0, 0.0, 0.0, 0.0]
        var count = 0
        for i in 0..<6 {
            let t0 = cpuSeconds()
            let snapshot = try collector.collect(query, owners: owners, memory: memory)
            let t1 = cpuSeconds()
            tracker.track(snapshot, at: Double(i))
            let t2 = cpuSeconds()
            let table = PreparedTable(sockets: tracker.sockets, source: snapshot.source, time: Double(i),
                                      generation: i + 1, ordering: model.ordering, settings: settings)
            let filtered = table.filtered(by: model.viewFilter)
            let t3 = cpuSeconds()
            model.ingest(table, filtered: filtered)
            _ = model.render(width: 120, height: 30)
            let t4 = cpuSeconds()
            samples.append(t4 - t0)
            if i > 0 { phases[0] += t1 - t0; phases[1] += t2 - t1; phases[2] += t3 - t2; phases[3] += t4 - t3 }
            count = snapshot.records.count
        }
        let steady = samples.dropFirst()   // the first refresh also primes the tracker
        let n = Double(steady.count)
        let mode = memory != nil ? "incremental" : String(owners)
        print("refresh cost: \(count) sockets, owners \(mode): mean \(ms(steady.reduce(0, +) / n)) ms CPU "
              + "(collect \(ms(phases[0] / n)), track \(ms(phases[1] / n)), prepare \(ms(phases[2] / n)); "
              + "UI thread \(ms(phases[3] / n))), max \(ms(steady.max() ?? 0)) ms, first \(ms(samples[0])) ms")
    }

    /// The owner scan alone, on this thread: a full scan, and the incremental one after a first.
    static func ownerScans() {
        let scanner = OwnerScanner()
        var full: [Double] = [], incremental: [Double] = []
        var sockets = 0
        for _ in 0..<3 {
            let t0 = cpuSeconds()
            sockets = scanner.scan().owners.count
            full.append(cpuSeconds() - t0)
        }
        var cache = OwnerScanCache()
        _ = scanner.scan(cache: &cache)
        for _ in 0..<5 {
            let t0 = cpuSeconds()
            _ = scanner.scan(cache: &cache)
            incremental.append(cpuSeconds() - t0)
        }
        full.sort(); incremental.sort()
        print("owner scan: \(sockets) sockets with owners: full median \(ms(full[1])) ms CPU, incremental median "
              + "\(ms(incremental[2])) ms (\(cache.reused) processes not read again)")
    }

    /// What a key costs the UI thread at this table size: a filter key (one pass over the facts)
    /// and a frame; and what the re-sort after `s` costs the sort job.
    static func perKey() throws {
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
            let t0 = cpuSeconds()
            model.handle(.char(Character(k)))
            _ = model.render(width: 120, height: 30)
            keys.append(cpuSeconds() - t0)
        }
        for _ in 0..<4 {
            model.handle(.char("s"))
            let t0 = cpuSeconds()
            let sorted = model.table.reordered(for: model.ordering, settings: settings)
            sorts.append(cpuSeconds() - t0)
            model.ingest(sorted)
        }
        keys.sort(); sorts.sort()
        print("key cost: \(snapshot.records.count) sockets: filter key + frame median \(ms(keys[3])) ms on the UI "
              + "thread; re-sort median \(ms(sorts[2])) ms off it")
    }

    /// What the live view's collection costs with each netlink extension it could ask for.
    static func collectVariants() throws {
        for (info, mem) in [(false, false), (true, false), (true, true), (false, false), (true, false), (true, true)] {
            let collector = SocketCollector(options: CollectOptions(tcpInfo: info, memory: mem))
            var samples: [Double] = []
            var count = 0
            for _ in 0..<5 {
                let t0 = cpuSeconds()
                let s = try collector.collect(Query(states: .all), owners: false)
                samples.append(cpuSeconds() - t0)
                count = s.records.count
            }
            samples.sort()
            print("collect cost: \(count) sockets, tcp_info \(info), memory \(mem): median \(ms(samples[2])) ms CPU")
        }
    }
}
