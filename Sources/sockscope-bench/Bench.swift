// sockscope-bench: creates a bounded loopback socket load (inside a private network namespace
// when run as root), then times sockscope against ss and netstat, and against the floor (the same
// kernel reads with no decoding, sockscope-floor), in one run, interleaved.
//
//   swift build -c release && swift run -c release sockscope-bench --sockets 100000
//
// Loopback only. Every load process is a child of this one and exits when its stdin closes, so
// the load is torn down even if the benchmark is killed.
import Foundation
import Glibc

struct Options {
    var sockets = 10_000
    var reps = 5
    var bin = ""
    var netns = true
    var maxSeconds = 900.0
    var udp = 0
    var unix = 0
    var cases: Set<String> = []

    static func parse(_ args: [String]) -> Options {
        var o = Options()
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--sockets": o.sockets = Int(it.next() ?? "") ?? o.sockets
            case "--reps": o.reps = max(1, Int(it.next() ?? "") ?? o.reps)
            case "--bin": o.bin = it.next() ?? ""
            case "--no-netns": o.netns = false
            case "--max-seconds": o.maxSeconds = Double(it.next() ?? "") ?? o.maxSeconds
            case "--case": o.cases.insert(it.next() ?? "")
            case "--unix": o.unix = Int(it.next() ?? "") ?? o.unix
            case "-h", "--help":
                print("""
                usage: sockscope-bench [--sockets N] [--unix U] [--reps R] [--bin PATH] [--case NAME]... [--no-netns] [--max-seconds S]
                  N TCP sockets (established pairs over 127.0.0.x and ::1, plus listeners and ~1% UDP) and U UNIX
                  sockets (socketpairs, in child processes of at most 9,000 pairs) are created, then each case is
                  timed R times, sockscope and its reference interleaved.
                  Cases: tan, json, tanp, tani, filter, hostport, dev, proc, summary, exporter; with --unix also xa, xap.
                       sockscope-bench refresh [--sockets N]
                  The live view's CPU per refresh and per key, phase by phase, over N loopback sockets.
                       sockscope-bench json-writer [--records N]
                  The --json writer against Foundation's JSONEncoder on N records.
                """)
                exit(0)
            default:
                FileHandle.standardError.write("sockscope-bench: unknown argument \(a)\n".data(using: .utf8)!)
                exit(2)
            }
        }
        if o.unix < 0 || o.unix > 400_000 {
            FileHandle.standardError.write("sockscope-bench: --unix must be 0 to 400000\n".data(using: .utf8)!)
            exit(2)
        }
        if o.sockets < 2 || o.sockets > 400_000 {
            FileHandle.standardError.write("sockscope-bench: --sockets must be 2 to 400000\n".data(using: .utf8)!)
            exit(2)
        }
        o.udp = max(2, o.sockets / 100)
        return o
    }
}

// MARK: load holders

/// `sockscope-bench hold ADDRESS PAIRS UDP`: a child that opens one listener on ADDRESS, PAIRS
/// connected pairs through it and UDP sockets, prints its listener port, and holds them until
/// its stdin closes.
func hold(address: String, pairs: Int, udp: Int) -> Never {
    var keep: [Int32] = []
    let v6 = address.contains(":")
    let family = v6 ? AF_INET6 : AF_INET
    func sockaddrFor(_ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        if v6 {
            var a = sockaddr_in6(); a.sin6_family = sa_family_t(AF_INET6); a.sin6_port = port.bigEndian
            inet_pton(AF_INET6, address, &a.sin6_addr)
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        var a = sockaddr_in(); a.sin_family = sa_family_t(AF_INET); a.sin_port = port.bigEndian
        inet_pton(AF_INET, address, &a.sin_addr)
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }
    func die(_ what: String) -> Never {
        FileHandle.standardError.write("hold \(address): \(what): \(String(cString: strerror(errno)))\n".data(using: .utf8)!)
        exit(1)
    }
    let stream = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    let l = socket(family, stream, 0)
    if l < 0 { die("socket") }
    if sockaddrFor(0, { bind(l, $0, $1) }) != 0 { die("bind") }
    if listen(l, 4096) != 0 { die("listen") }
    var ss = sockaddr_storage(); var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(l, $0, &len) } }
    let port: UInt16 = withUnsafePointer(to: &ss) {
        v6 ? $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
           : $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
    }
    keep.append(l)
    for _ in 0..<pairs {
        let c = socket(family, stream, 0)
        if c < 0 { die("socket") }
        if sockaddrFor(port, { connect(c, $0, $1) }) != 0 { die("connect") }
        let a = accept(l, nil, nil)
        if a < 0 { die("accept") }
        _ = fcntl(a, F_SETFD, FD_CLOEXEC)  // so no tool the benchmark starts inherits the load
        keep += [c, a]
    }
    for _ in 0..<udp {
        let u = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if u < 0 || sockaddrFor(0, { bind(u, $0, $1) }) != 0 { die("udp") }
        keep.append(u)
    }
    print(port)
    fflush(nil)
    var b: UInt8 = 0
    while read(0, &b, 1) > 0 {}
    exit(0)
}

/// `sockscope-bench hold-unix PAIRS`: a child that opens PAIRS UNIX stream socketpairs, prints 0,
/// and holds them until its stdin closes.
func holdUnix(pairs: Int) -> Never {
    var keep: [Int32] = []
    keep.reserveCapacity(pairs * 2)
    for _ in 0..<pairs {
        var fds: [Int32] = [0, 0]
        if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) != 0 {
            FileHandle.standardError.write("hold-unix: socketpair: \(String(cString: strerror(errno)))\n".data(using: .utf8)!)
            exit(1)
        }
        keep += fds
    }
    print(0)
    fflush(nil)
    var b: UInt8 = 0
    while read(0, &b, 1) > 0 {}
    exit(0)
}

// MARK: timing

struct Sample {
    var wall: Double; var user: Double; var sys: Double; var rssKiB: Int; var status: Int32
    var cpu: Double { user + sys }
}

func monotonic() -> Double {
    var ts = timespec(); clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs a command with stdout to /dev/null; wall time, the child's user+sys CPU and peak RSS.
func measure(_ argv: [String]) -> Sample {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var pid: pid_t = 0
    let cargs = argv.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    let start = monotonic()
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, cargs, environ)
    posix_spawn_file_actions_destroy(&actions)
    if rc != 0 { return Sample(wall: .nan, user: .nan, sys: .nan, rssKiB: 0, status: -1) }
    var status: Int32 = 0
    var ru = rusage()
    wait4(pid, &status, 0, &ru)
    let wall = monotonic() - start
    let user = Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6
    let sys = Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) / 1e6
    return Sample(wall: wall, user: user, sys: sys, rssKiB: Int(ru.ru_maxrss), status: (status >> 8) & 0xFF)
}

/// Peak RSS of a command in KiB, from one run under GNU time. `ru_maxrss` of a child spawned by
/// this (large) process is useless: at exec the kernel carries over the spawning mm's high-water
/// mark. `time` is small, so its child's figure is the command's own. nil without /usr/bin/time.
func peakRSS(_ argv: [String]) -> Int? {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/time")
    p.arguments = ["-f", "%M"] + argv
    let err = Pipe()
    p.standardOutput = FileHandle.nullDevice
    p.standardError = err
    guard (try? p.run()) != nil else { return nil }
    let data = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").last.flatMap { Int($0) }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Counts output rows of a command (for a sanity check that both sides saw the same table).
func rows(_ argv: [String]) -> Int {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
    p.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    try? p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
}

// MARK: main

@main
struct Bench {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "hold", args.count == 4 {
            hold(address: args[1], pairs: Int(args[2]) ?? 0, udp: Int(args[3]) ?? 0)
        }
        if args.first == "hold-unix", args.count == 2 { holdUnix(pairs: Int(args[1]) ?? 0) }
        if args.first == "refresh" { RefreshCost.main(Array(args.dropFirst())) }
        if args.first == "json-writer" { JSONWriterCost.main(Array(args.dropFirst())) }
        var o = Options.parse(args)
        signal(SIGPIPE, SIG_IGN)
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        if o.bin.isEmpty { o.bin = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("sockscope").path }
        guard FileManager.default.isExecutableFile(atPath: o.bin) else {
            print("sockscope-bench: no sockscope at \(o.bin) (build it: swift build -c release, or pass --bin)")
            exit(2)
        }
        // As root, run in a private network namespace: nothing else on the machine sees the load,
        // and the tools see nothing but it.
        if o.netns && geteuid() == 0 && ProcessInfo.processInfo.environment["SOCKSCOPE_BENCH_NETNS"] == nil {
            setenv("SOCKSCOPE_BENCH_NETNS", "1", 1)
            let argv = ["unshare", "-n", me] + args + ["--bin", o.bin]
            let cargs = argv.map { strdup($0) } + [nil]
            execvp("unshare", cargs)
            print("sockscope-bench: cannot exec unshare (\(String(cString: strerror(errno)))); running in this namespace")
        }
        let inNetns = ProcessInfo.processInfo.environment["SOCKSCOPE_BENCH_NETNS"] != nil
        if inNetns {
            _ = measure(["ip", "link", "set", "lo", "up"])
            try? "1024 65000".write(toFile: "/proc/sys/net/ipv4/ip_local_port_range", atomically: false, encoding: .utf8)
        }
        let started = monotonic()

        // The load: established pairs over several addresses, in children of at most 9,000 pairs.
        let pairs = max(1, (o.sockets - 16) / 2)
        let addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "::1"]
        var holders: [(Process, Pipe)] = []
        var left = pairs
        var udpLeft = o.udp
        var filterPort: UInt16 = 0
        var i = 0
        print("sockscope-bench: creating \(pairs * 2) established TCP sockets + listeners + \(o.udp) UDP" +
              (inNetns ? " in a private network namespace" : " (not isolated: not root or --no-netns)"))
        // A small listener with a handful of connections: the port filter case selects exactly it.
        for (addr, n) in [("127.0.0.9", 3)] + [(String, Int)]() {
            let (p, port) = spawnHolder(me, addr, n, 0)
            holders.append(p); filterPort = port
        }
        while left > 0 {
            let n = min(left, 9000)
            let u = min(udpLeft, 500)
            let (p, _) = spawnHolder(me, addresses[i % addresses.count], n, u)
            holders.append(p)
            left -= n; udpLeft -= u; i += 1
            if monotonic() - started > o.maxSeconds / 3 { print("sockscope-bench: load creation is too slow; stopping early"); break }
        }
        var unixLeft = o.unix / 2
        while unixLeft > 0 {
            let n = min(unixLeft, 9000)
            holders.append(spawnHolder(me, nil, n, 0).0)
            unixLeft -= n
        }
        defer {
            for (p, pipe) in holders { try? pipe.fileHandleForWriting.close(); p.waitUntilExit() }
        }
        let setup = monotonic() - started
        print(String(format: "sockscope-bench: load ready in %.1f s; sockscope %@", setup, o.bin))
        let ssRows = rows(["/usr/bin/ss", "-tanH"]), ourRows = rows([o.bin, "-tanH"])
        print("sanity: ss -tanH \(ssRows) rows, sockscope -tanH \(ourRows) rows")
        if o.unix > 0 {
            print("sanity: ss -xaH \(rows(["/usr/bin/ss", "-xaH"])) rows, sockscope -xaH \(rows([o.bin, "-xaH"])) rows")
        }

        let f = String(filterPort)
        let hostPort = "( src 127.0.0.9:\(f) or dst 127.0.0.9:\(f) )".split(separator: " ").map(String.init)
        let withDev = "src 127.0.0.9 and ( dport = :\(f) or dev = lo )".split(separator: " ").map(String.init)
        // The floor: the kernel work of each case and nothing else. -tan reads every TCP state but
        // bound-inactive (mask 0x1ffe); -i adds INET_DIAG_INFO and INET_DIAG_CONG (ext 0xa).
        let floorBin = URL(fileURLWithPath: o.bin).deletingLastPathComponent().appendingPathComponent("sockscope-floor").path
        let hasFloor = FileManager.default.isExecutableFile(atPath: floorBin)
        if !hasFloor { print("sockscope-bench: no sockscope-floor beside \(o.bin): floor ratios left out (swift build -c release)") }
        let walk = [floorBin, "netlink", "0x1ffe", "0"], walkInfo = [floorBin, "netlink", "0x1ffe", "0xa"]
        let allCases: [(String, [String], [String], [String]?)] = [
            ("tan", [o.bin, "-tan"], ["ss", "-tan"], walk),
            ("json", [o.bin, "--json", "-ta"], ["ss", "-tan"], walk),
            ("tani", [o.bin, "-tani"], ["ss", "-tani"], walkInfo),
            ("filter", [o.bin, "-tan", "--sport", f], ["ss", "-tan", "sport = :\(f)"], nil),
            // The same ss expression on both sides: an address-and-port rule matching a handful of
            // sockets (both run it in the kernel), and one with `dev`, for which ss sends no
            // bytecode and filters every socket in userspace while sockscope still compiles it.
            ("hostport", [o.bin, "-tan"] + hostPort, ["ss", "-tan"] + hostPort, nil),
            ("dev", [o.bin, "-tan"] + withDev, ["ss", "-tan"] + withDev, nil),
            ("proc", [o.bin, "--source", "proc", "-tan"], ["netstat", "-tan"], [floorBin, "proc", "/proc"]),
            ("summary", [o.bin, "-s", "-t"], ["ss", "-s"], walk),
            ("tanp", [o.bin, "-tanp"], ["ss", "-tanp"], [floorBin, "netlink+fdscan", "0x1ffe", "0", "/proc"]),
            // UNIX sockets: the listing, and with both ends' processes.
            ("xa", [o.bin, "-xa"], ["ss", "-xa"], nil),
            ("xap", [o.bin, "-xap"], ["ss", "-xap"], nil),
        ]
        let cases = allCases.filter {
            (o.cases.isEmpty && ($0.0 != "xa" && $0.0 != "xap" || o.unix > 0)) || o.cases.contains($0.0)
        }
        print("\n| case | commands | sockscope (s) | reference (s) | ratio | floor (s) | vs floor | sockscope user/sys (s) | ref user/sys (s) | floor user/sys (s) | sockscope peak RSS (MiB) | ref peak RSS (MiB) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for (name, ours, theirs, floorCommand) in cases {
            let floor = hasFloor ? floorCommand : nil
            var a: [Sample] = [], b: [Sample] = [], c: [Sample] = []
            for r in 0..<o.reps {
                if monotonic() - started > o.maxSeconds { print("sockscope-bench: time limit reached"); break }
                // Interleaved, rotating who goes first, so drift and caches hit all alike; ratios are
                // taken pair by pair (the same round), then the median of those.
                var round: [() -> Void] = [{ a.append(measure(ours)) }, { b.append(measure(theirs)) }]
                if let floor { round.append { c.append(measure(floor)) } }
                for k in 0..<round.count { round[(k + r) % round.count]() }
            }
            func ratios(_ x: [Sample], _ y: [Sample]) -> Double { median(zip(x, y).map { $0.wall / $1.wall }) }
            let failed = a.contains { $0.status != 0 } ? " (sockscope failed!)" : ""
            func mib(_ k: Int?) -> String { k.map { String(format: "%.1f", Double($0) / 1024) } ?? "n/a" }
            func split(_ x: [Sample]) -> String {
                x.isEmpty ? "n/a" : String(format: "%.4f/%.4f", median(x.map(\.user)), median(x.map(\.sys)))
            }
            let ourCmd = ([URL(fileURLWithPath: ours[0]).lastPathComponent] + ours.dropFirst()).joined(separator: " ")
            let floorWall = c.isEmpty ? "n/a" : String(format: "%.4f", median(c.map(\.wall)))
            let floorRatio = c.isEmpty ? "n/a" : String(format: "**%.2f**", ratios(a, c))
            print(String(format: "| %@ | `%@` vs `%@` | %.4f | %.4f | **%.2f** | %@ | %@ | %@ | %@ | %@ | %@ | %@ |%@",
                         name, ourCmd, theirs.joined(separator: " "), median(a.map(\.wall)), median(b.map(\.wall)), ratios(a, b),
                         floorWall, floorRatio, split(a), split(b), split(c), mib(peakRSS(ours)), mib(peakRSS(theirs)), failed))
            fflush(nil)
        }
        if o.cases.isEmpty || o.cases.contains("exporter") {
            print("\n| exporter | one scrape | memory |\n|---|---|---|")
            ExporterBench.run(bin: o.bin, reps: o.reps, sockscope: o.bin)
        }
        print(String(format: "\nsockscope-bench: %d sockets, %d reps, %.0f s in all", pairs * 2, o.reps, monotonic() - started))
    }

    /// Starts a load child: TCP pairs on `address`, or UNIX socketpairs when `address` is nil.
    static func spawnHolder(_ me: String, _ address: String?, _ pairs: Int, _ udp: Int) -> ((Process, Pipe), UInt16) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: me)
        p.arguments = address.map { ["hold", $0, String(pairs), String(udp)] } ?? ["hold-unix", String(pairs)]
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        do { try p.run() } catch { print("sockscope-bench: cannot start a load process: \(error)"); exit(1) }
        // The holder prints its port once every socket is open.
        var line = Data()
        while true {
            let d = stdout.fileHandleForReading.availableData
            if d.isEmpty { break }
            line.append(d)
            if line.contains(0x0A) { break }
        }
        guard let port = UInt16(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            print("sockscope-bench: a load process failed (\(address ?? "unix"), \(pairs) pairs)")
            exit(1)
        }
        return ((p, stdin), port)
    }
}
