import Foundation
import SockscopeModel
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A python3 child with a known name (prctl PR_SET_NAME) that either listens on 127.0.0.1 and
/// accepts (`server`) or opens connections to a port (`client PORT N`), prints one JSON line and
/// waits for stdin to close. Its own alarm ends it after 90 s; `stop()` kills it by pid.
final class MapChild: @unchecked Sendable {
    static let script = #"""
    import ctypes, json, os, signal, socket, sys
    signal.alarm(90)
    ctypes.CDLL(None, use_errno=True).prctl(15, ctypes.c_char_p(sys.argv[1].encode()), 0, 0, 0)
    keep = []
    if sys.argv[2] == "server":
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16); keep.append(s)
        print(json.dumps({"pid": os.getpid(), "port": s.getsockname()[1]}), flush=True)
        s.settimeout(60)
        while True:
            try:
                keep.append(s.accept()[0])
            except Exception:
                break
    else:
        for _ in range(int(sys.argv[4])):
            keep.append(socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=10))
        print(json.dumps({"pid": os.getpid(), "port": 0}), flush=True)
        sys.stdin.read()
    """#

    let process = Process()
    let stdin = Pipe()
    let name: String
    private(set) var pid: Int32 = 0
    private(set) var port: UInt16 = 0

    init(name: String, arguments: [String]) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", Self.script, name] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe()
        process.standardInput = stdin
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        pid = process.processIdentifier
        // One line, or EOF if the child failed; its alarm and connect timeouts bound the wait.
        let line = out.readFirstLine()
        guard let obj = try? JSONSerialization.jsonObject(with: line) as? [String: Any], let p = obj["port"] as? Int,
              obj["pid"] as? Int == Int(pid) else {
            stop()
            throw ChildError("\(name) did not start: \(String(decoding: line, as: UTF8.self))")
        }
        port = UInt16(p)
    }

    /// Kills the child by pid and reaps it.
    func stop() {
        try? stdin.fileHandleForWriting.close()
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// A TCP connection started without waiting (O_NONBLOCK): it completes, waits in an accept
/// queue, or keeps retrying its SYN while the queue is full. Closed when released.
final class PendingConnection {
    let fd: Int32
    init(to port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ChildError("socket: \(errno)") }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 || errno == EINPROGRESS else {
            close(fd)
            throw ChildError("connect: \(errno)")
        }
    }
    deinit { close(fd) }
}

/// This process's name as the kernel keeps it (what the owner scan reports).
func ownComm() -> String {
    ((try? String(contentsOfFile: "/proc/self/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .newlines)
}

func hostEphemeralRange() -> ClosedRange<Int>? {
    let words = ((try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? "")
        .split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
    return words.count == 2 && words[0] <= words[1] ? words[0]...words[1] : nil
}

func jsonObject(_ r: RunResult) throws -> [String: Any] {
    try #require(r.status == 0, "exit \(r.status): \(r.stderrText)")
    return try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
}

@Suite struct InsightTests {
    // MARK: services and classes

    /// Real listeners on 22, 443, 8080 and 50000 (those this host leaves free), and the real
    /// /etc/services: names, classes and the ephemeral flag in JSON; `-n` drops the names only.
    @Test func servicesAndClassesOfRealSockets() throws {
        let range = try #require(hostEphemeralRange())
        var listeners: [UInt16: TestSocket] = [:]
        for p: UInt16 in [22, 443, 8080, 50000] { listeners[p] = try? Loopback.tcpListener("127.0.0.1", port: p) }
        let udp22 = try? Loopback.udp("127.0.0.1", port: 22)
        try #require(!listeners.isEmpty, "none of 22, 443, 8080, 50000 is free on 127.0.0.1")
        let expected: [UInt16: (String?, String)] = [22: ("ssh", "system"), 443: ("https", "system"),
                                                     8080: ("http-alt", "registered"), 50000: (nil, "dynamic")]
        // The port details are asked for with -e; the plain schema's endpoints stay {address, port}.
        let rows = try jsonRows(try Binary.sockscope(["-le", "--json", "--sport", "22,443,8080,50000"]))
        let numeric = try jsonRows(try Binary.sockscope(["-lne", "--json", "--sport", "22,443,8080,50000"]))
        let plain = try jsonRows(try Binary.sockscope(["-l", "--json", "--sport", "22,443,8080,50000"]))
        #expect(!plain.isEmpty && plain.allSatisfy { Set(($0["local"] as? [String: Any] ?? [:]).keys) == ["address", "port"] })
        for (port, s) in listeners {
            let row = try #require(rows.first { $0["inode"] as? Int == Int(s.inode) && $0["proto"] as? String == "tcp" })
            let local = try #require(row["local"] as? [String: Any])
            #expect(local["service"] as? String == expected[port]?.0, "port \(port)")
            #expect(local["class"] as? String == expected[port]?.1, "port \(port)")
            #expect(local["ephemeral"] as? Bool == range.contains(Int(port)), "port \(port)")
            #expect(Set((row["remote"] as? [String: Any] ?? [:]).keys) == ["address", "port"], "an unconnected end has no port keys")
            let n = try #require(numeric.first { $0["inode"] as? Int == Int(s.inode) }?["local"] as? [String: Any])
            #expect(n["service"] == nil && n["class"] as? String == expected[port]?.1)
        }
        if let udp22 {
            // /etc/services names 22 for tcp only: the lookup is protocol-aware.
            let row = rows.first { $0["inode"] as? Int == Int(udp22.inode) && $0["proto"] as? String == "udp" }
            #expect(row != nil && (row?["local"] as? [String: Any])?["service"] == nil)
        }
    }

    // MARK: listener health

    /// A listener with backlog 1 that never accepts: four clients fill its queue to 2 (the kernel
    /// admits backlog + 1), which is reported as 2/1 and flagged; the SYNs it refuses show up in
    /// the kernel's ListenDrops total in the summary.
    @Test func fullAcceptQueueIsReportedAndFlagged() throws {
        let dropsBefore = try jsonObject(try Binary.sockscope(["-s", "--json", "-t", "--sport", "1"]))["listen_drops"] as? Int
        let listener = try Loopback.tcpListener("127.0.0.1", backlog: 1)
        let port = String(listener.local.port)
        var clients: [PendingConnection] = []
        defer { clients.removeAll() }
        for _ in 0..<4 { clients.append(try PendingConnection(to: listener.local.port)) }

        var row: [String: Any] = [:]
        for _ in 0..<40 {  // the handshakes finish within milliseconds on loopback; bounded at 4 s
            let rows = try jsonRows(try Binary.sockscope(["--listeners", "--json", "--sport", port]))
            row = rows.first { $0["inode"] as? Int == Int(listener.inode) } ?? [:]
            if row["accept_queue"] as? Int == 2 { break }
            usleep(100_000)
        }
        #expect(row["accept_queue"] as? Int == 2, "\(row)")
        #expect(row["backlog"] as? Int == 1)
        #expect(row["queue_percent"] as? Int == 200)
        #expect(row["queue_over_half"] as? Bool == true)
        #expect(row["established"] as? Int == 2, "the queued connections are established")
        #expect(row["peers"] as? Int == 1)
        #expect((row["top_peers"] as? [[String: Any]])?.first?["address"] as? String == "127.0.0.1")
        let owner = (row["processes"] as? [[String: Any]])?.first
        #expect(owner?["pid"] as? Int == Int(getpid()) && owner?["name"] as? String == ownComm())

        let table = try Binary.sockscope(["--listeners", "-n", "--sport", port])
        #expect(table.status == 0, "\(table.stderrText)")
        let line = table.stdoutText.split(separator: "\n").first { $0.hasPrefix("127.0.0.1:\(port) ") }
        #expect(line?.contains(" 2/1 ") == true && line?.contains(" 200%! ") == true, "\(table.stdoutText)")
        #expect(table.stdoutText.contains("Since boot, all listeners:"))

        let dropsAfter = try jsonObject(try Binary.sockscope(["-s", "--json", "-t", "--sport", "1"]))["listen_drops"] as? Int
        if let dropsBefore, let dropsAfter {
            #expect(dropsAfter > dropsBefore, "a SYN to the full queue is a listen drop")
        } else {
            Issue.record("listen_drops missing from -s --json")
        }
    }

    // MARK: connection map

    /// Two named children talking over loopback (3 connections), and a third connecting twice to
    /// a listener of this test that never accepts: two joined process ↔ process edges, the second
    /// attributed to this process through its listener.
    @Test(.requires(DotCheck.dot)) func mapJoinsLocalPairsIntoProcessEdges() throws {
        let tag = String(UInt32.random(in: 0..<0xFFFFFF), radix: 16)
        let server = try MapChild(name: "sscS\(tag)", arguments: ["server"])
        defer { server.stop() }
        let client = try MapChild(name: "sscC\(tag)", arguments: ["client", String(server.port), "3"])
        defer { client.stop() }
        let mine = try Loopback.tcpListener("127.0.0.1")
        let other = try MapChild(name: "sscO\(tag)", arguments: ["client", String(mine.local.port), "2"])
        defer { other.stop() }
        let ports = "\(server.port),\(mine.local.port)"

        let obj = try jsonObject(try Binary.sockscope(["--map", "--json", "--port", ports]))
        let edges = try #require(obj["edges"] as? [[String: Any]])
        func node(_ e: [String: Any], _ k: String) -> [String: Any] { e[k] as? [String: Any] ?? [:] }
        #expect(edges.count == 2, "\(edges)")
        let toServer = try #require(edges.first { node($0, "client")["process"] as? String == "sscC\(tag)" })
        #expect(toServer["kind"] as? String == "local" && toServer["proto"] as? String == "tcp")
        #expect(node(toServer, "server")["process"] as? String == "sscS\(tag)")
        #expect(node(toServer, "client")["pids"] as? [Int] == [Int(client.pid)])
        #expect(node(toServer, "server")["pids"] as? [Int] == [Int(server.pid)])
        #expect(toServer["port"] as? Int == Int(server.port))
        #expect(toServer["connections"] as? Int == 3)
        let toTest = try #require(edges.first { node($0, "client")["process"] as? String == "sscO\(tag)" })
        #expect(toTest["kind"] as? String == "local")
        #expect(node(toTest, "server")["process"] as? String == ownComm())
        #expect(node(toTest, "server")["pids"] as? [Int] == [Int(getpid())])
        #expect(toTest["port"] as? Int == Int(mine.local.port) && toTest["connections"] as? Int == 2)
        #expect(toTest["class"] as? String != nil)
        let pressure = try #require(obj["ephemeral_ports"] as? [String: Any])
        let dests = try #require(pressure["destinations"] as? [[String: Any]])
        #expect(dests.contains { $0["port"] as? Int == Int(server.port) && $0["local_ports"] as? Int == 3 })

        // --pid keeps the edges with that process at either end.
        let byPid = try jsonObject(try Binary.sockscope(["--map", "--json", "--port", ports, "--pid", String(server.pid)]))
        #expect((byPid["edges"] as? [[String: Any]])?.count == 1)

        // The table, with -i byte counts.
        let table = try Binary.sockscope(["--map", "-i", "--port", ports])
        #expect(table.status == 0, "\(table.stderrText)")
        let line = table.stdoutText.split(separator: "\n").first { $0.contains("sscC\(tag)(\(client.pid))") }
        #expect(line?.hasPrefix("local") == true && line?.contains("sscS\(tag)(\(server.pid))") == true, "\(table.stdoutText)")
        #expect(table.stdoutText.split(separator: "\n").first?.contains("Bytes") == true)

        // DOT: every node and edge, and Graphviz parses it.
        let dot = try Binary.sockscope(["--map", "--format", "dot", "--port", ports])
        #expect(dot.status == 0, "\(dot.stderrText)")
        #expect(dot.stdoutText.contains("sscC\(tag)\\npid \(client.pid)") && dot.stdoutText.contains("3 connections"))
        try DotCheck.parses(Array(dot.stdout))
    }

    // MARK: ephemeral pressure and counters on a fake procfs

    /// A procfs of our own (`--source proc --proc-root`): a 10-port range and six connections from
    /// one address to 10.0.0.5:443 is 60 %: warned on stderr and flagged in JSON, in -s and --map;
    /// the netstat counters are read from the same root.
    @Test(.requires(DotCheck.dot)) func ephemeralPressureOnFakeProcfs() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-insight-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: root) }
        for dir in ["net", "sys/net/ipv4"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        func hex(_ v: UInt64, _ width: Int) -> String {
            let s = String(v, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        // /proc prints an IPv4 address as the in-memory (network order) word, in host order.
        func addr(_ a: UInt32) -> String { hex(UInt64(a.byteSwapped), 8) }
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        var tcp = header, n = 0
        func line(_ la: UInt32, _ lp: Int, _ ra: UInt32, _ rp: Int, _ st: String, inode: Int) {
            tcp += "  \(n): \(addr(la)):\(hex(UInt64(lp), 4)) \(addr(ra)):\(hex(UInt64(rp), 4)) \(st) 00000000:00000000 "
                + "00:00000000 00000000  1000        0 \(inode) 1 0000000000000000 20 4 30 10 -1\n"
            n += 1
        }
        let (local, backend, other) = (UInt32(0x0A00_0002), UInt32(0x0A00_0005), UInt32(0x0A00_0006))
        for i in 0..<5 { line(local, 1000 + i, backend, 443, "01", inode: 100 + i) }
        line(local, 1005, backend, 443, "06", inode: 0)  // TIME_WAIT
        line(local, 1000, other, 80, "01", inode: 200)
        try tcp.write(to: root.appendingPathComponent("net/tcp"), atomically: true, encoding: .utf8)
        try header.write(to: root.appendingPathComponent("net/udp"), atomically: true, encoding: .utf8)
        try "1000\t1009\n".write(to: root.appendingPathComponent("sys/net/ipv4/ip_local_port_range"), atomically: true, encoding: .utf8)
        try "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 1 17 19\nIpExt: InOctets\nIpExt: 5\n"
            .write(to: root.appendingPathComponent("net/netstat"), atomically: true, encoding: .utf8)
        let base = ["--source", "proc", "--proc-root", root.path]

        let s = try Binary.sockscope(["-s", "--json"] + base)
        let summary = try jsonObject(s)
        #expect(summary["listen_overflows"] as? Int == 17 && summary["listen_drops"] as? Int == 19)
        let e = try #require(summary["ephemeral_ports"] as? [String: Any])
        #expect(e["low"] as? Int == 1000 && e["high"] as? Int == 1009 && e["size"] as? Int == 10)
        let first = try #require((e["destinations"] as? [[String: Any]])?.first)
        #expect(first["address"] as? String == "10.0.0.5" && first["port"] as? Int == 443)
        #expect(first["local_ports"] as? Int == 6 && first["percent"] as? Int == 60 && first["over_half"] as? Bool == true)
        #expect(first["local_address"] as? String == "10.0.0.2" && first["connections"] as? Int == 6)
        let warnings = s.stderrText.split(separator: "\n").filter { $0.contains("ephemeral ports") }
        #expect(warnings.count == 1 && warnings[0].contains("6 of 10 (60%)") && warnings[0].contains("10.0.0.5:443"), "\(s.stderrText)")

        let text = try Binary.sockscope(["-s"] + base)
        #expect(text.stdoutText.contains("Listen queues since boot (all listeners): 17 overflows, 19 drops"))
        #expect(text.stdoutText.contains("60%!"))

        let m = try Binary.sockscope(["--map", "--json"] + base)
        let map = try jsonObject(m)
        let edges = try #require(map["edges"] as? [[String: Any]])
        let out = try #require(edges.first { ($0["server"] as? [String: Any])?["address"] as? String == "10.0.0.5" })
        #expect(out["kind"] as? String == "outbound" && out["connections"] as? Int == 5, "ESTABLISHED only")
        #expect((out["client"] as? [String: Any])?["uid"] as? Int == 1000, "no owner in this procfs: grouped by uid")
        #expect(out["ephemeral"] as? Bool == false)
        #expect(((map["ephemeral_ports"] as? [String: Any])?["destinations"] as? [[String: Any]])?.first?["over_half"] as? Bool == true)
        #expect(m.stderrText.contains("ephemeral ports: 6 of 10"))
        let dot = try Binary.sockscope(["--map", "--format", "dot"] + base)
        #expect(dot.stdoutText.contains("color=red"))
        try DotCheck.parses(Array(dot.stdout))
    }

    // MARK: usage

    @Test(arguments: [["--map", "--format", "xml"], ["--listeners", "--format", "dot"], ["-s", "--format", "json"],
                      ["--map", "--listeners"], ["--map", "-s"], ["--listeners", "-w"], ["--map", "--json", "--format", "dot"]])
    func badInsightArgumentsAreUsageErrors(args: [String]) throws {
        let r = try Binary.sockscope(args)
        #expect(r.status == 2, "\(args): \(r.stderrText)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderrText.hasPrefix("sockscope: "), "\(r.stderrText)")
    }
}

/// Runs Graphviz's `dot -Tsvg` (tests that call it carry `.requires(DotCheck.dot)`).
enum DotCheck {
    static let dot = Requirement.tool("dot", package: "graphviz")

    /// Renders `dot` as SVG; returns the SVG.
    @discardableResult
    static func parses(_ dot: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let path = try Self.dot.path()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-map-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).dot")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(dot).write(to: file)
        let r = try Binary.run(path, ["-Tsvg", file.path], timeout: 30)
        #expect(r.status == 0 && r.stderr.isEmpty, "dot: \(r.stderrText)", sourceLocation: sourceLocation)
        #expect(r.stdoutText.contains("<svg"), sourceLocation: sourceLocation)
        return r.stdoutText
    }
}
