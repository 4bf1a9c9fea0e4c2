// The `exporter` case: sockscope-exporter on the same load. Idle RSS, the CPU of one scrape
// (from the exporter's /proc/PID/stat, against `sockscope -tan` measured the same way as the
// other cases), peak RSS while scraping, and 64 concurrent scrapes: all answered, latency
// percentiles, and how many collections they cost (sockscope_collections_total).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum ExporterBench {
    struct Scrape { var status: Int; var seconds: Double; var body: String }

    static func get(_ port: UInt16) -> Scrape {
        let start = monotonic()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var tv = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var a = sockaddr_in(); a.sin_family = sa_family_t(AF_INET); a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc != 0 { return Scrape(status: -1, seconds: monotonic() - start, body: "") }
        let req = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        let text = String(decoding: out, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? -1
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return Scrape(status: status, seconds: monotonic() - start, body: body)
    }

    /// user+system CPU seconds of a process so far.
    static func cpu(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return .nan }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After "pid (comm)": state is field 0; utime and stime are fields 11 and 12.
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ((Double(fields[11]) ?? .nan) + (Double(fields[12]) ?? .nan)) / ticks
    }

    static func status(_ pid: Int32, _ key: String) -> Double {
        let s = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = s.split(separator: "\n").first { $0.hasPrefix(key + ":") } ?? ""
        return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? .nan) / 1024
    }

    static func value(_ body: String, _ name: String) -> Double? {
        body.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    static func run(bin: String, reps: Int, sockscope: String) {
        let exporter = URL(fileURLWithPath: bin).deletingLastPathComponent().appendingPathComponent("sockscope-exporter").path
        guard FileManager.default.isExecutableFile(atPath: exporter) else {
            print("sockscope-bench: no sockscope-exporter beside \(bin); skipping the exporter case")
            return
        }
        let configs: [(String, [String], Bool)] = [
            ("default collectors", ["--min-interval", "0"], false),
            ("no rtt (no tcp_info)", ["--min-interval", "0", "--no-collector.rtt"], false),
            ("no rtt, no ephemeral", ["--min-interval", "0", "--no-collector.rtt", "--no-collector.ephemeral"], false),
            ("no rtt, no connections", ["--min-interval", "0", "--no-collector.rtt", "--no-collector.connections"], false),
            ("sockets and netstat only", ["--min-interval", "0", "--no-collector.rtt", "--no-collector.ephemeral",
                                          "--no-collector.connections", "--no-collector.listeners"], false),
            ("--min-interval 1", ["--min-interval", "1"], true),
        ]
        for (label, extra, concurrent) in configs {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exporter)
            p.arguments = ["--web.listen-address", "127.0.0.1:0", "--max-series", "0"] + extra
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            do { try p.run() } catch { print("sockscope-bench: cannot start the exporter: \(error)"); return }
            defer { kill(p.processIdentifier, SIGTERM); p.waitUntilExit() }
            var line = Data()
            while !line.contains(0x0A) {
                let d = err.fileHandleForReading.availableData
                if d.isEmpty { break }
                line.append(d)
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let colon = text.lastIndex(of: ":"), let slash = text[colon...].firstIndex(of: "/"),
                  let port = UInt16(text[text.index(after: colon)..<slash]) else {
                print("sockscope-bench: the exporter did not start: \(text)")
                return
            }
            let pid = p.processIdentifier
            usleep(200_000)
            let idle = status(pid, "VmRSS")
            // Idle RSS split: file-backed pages (the executable and shared libraries, mapped at load)
            // against anonymous memory (heaps, stacks).
            let idleFile = status(pid, "RssFile"), idleAnon = status(pid, "RssAnon")
            var cpus: [Double] = [], walls: [Double] = [], tan: [Double] = [], ratios: [Double] = []
            var series = 0.0
            // Paired: each round one scrape and one `sockscope -tan`, the order alternating, and
            // the ratio taken within the round (the machine's load drifts between rounds).
            for round in 0..<(concurrent ? 0 : max(1, reps)) {
                var c = 0.0, t = 0.0
                for step in 0..<2 {
                    if (step + round) % 2 == 0 {
                        let before = cpu(pid)
                        let s = get(port)
                        c = cpu(pid) - before
                        walls.append(s.seconds)
                        series = value(s.body, "sockscope_scrape_series") ?? series
                        if s.status != 200 { print("sockscope-bench: scrape answered \(s.status)") }
                    } else {
                        t = measure([sockscope, "-tan"]).cpu
                    }
                }
                cpus.append(c); tan.append(t)
                if t > 0 { ratios.append(c / t) }
            }
            if !concurrent { print(String(format: "| exporter (%@) | one scrape: CPU %.4f s (`sockscope -tan` %.4f s, paired ratio **%.2f**), wall %.4f s, %.0f series | idle RSS %.1f MiB (file %.1f, anon %.1f), peak RSS %.1f MiB |",
                         label, median(cpus), median(tan), ratios.isEmpty ? .nan : median(ratios), median(walls), series, idle,
                         idleFile, idleAnon, status(pid, "VmHWM"))) }
            if !concurrent { continue }
            // 64 concurrent scrapes within one --min-interval, once the last collection is stale:
            // one new collection should serve them all.
            let before = value(get(port).body, "sockscope_collections_total") ?? .nan
            usleep(1_200_000)
            let results = LockedList()
            DispatchQueue.concurrentPerform(iterations: 64) { _ in results.append(get(port)) }
            let all = results.items
            let lat = all.map(\.seconds).sorted()
            let collections = (all.compactMap { value($0.body, "sockscope_collections_total") }.max() ?? .nan) - before
            print(String(format: "| 64 concurrent scrapes | %d of 64 answered 200; latency p50 %.3f s, p99 %.3f s, max %.3f s; %.0f collections for all 64 | peak RSS %.1f MiB |",
                         all.filter { $0.status == 200 }.count, lat[lat.count / 2], lat[min(lat.count - 1, Int(Double(lat.count) * 0.99))],
                         lat.last ?? .nan, collections, status(pid, "VmHWM")))
        }
    }
}

final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [ExporterBench.Scrape] = []
    func append(_ s: ExporterBench.Scrape) { lock.lock(); list.append(s); lock.unlock() }
    var items: [ExporterBench.Scrape] { lock.lock(); defer { lock.unlock() }; return list }
}
