import Foundation
import TestSupport
import Testing

/// A python3 child that names itself with prctl(PR_SET_NAME), listens on 127.0.0.1, prints
/// `{"pid","port","fd"[,"child"]}` and waits for stdin to close. It also ends itself after two
/// minutes (SIGALRM), so a crashed test run cannot leave it behind.
final class ListeningChild: @unchecked Sendable {
    static let python = "/usr/bin/python3"
    static let script = #"""
    import ctypes, json, os, signal, socket, sys
    signal.alarm(120)
    name = bytes.fromhex(sys.argv[1])
    if name:
        ctypes.CDLL(None, use_errno=True).prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    info = {"pid": os.getpid(), "port": s.getsockname()[1], "fd": s.fileno()}
    if len(sys.argv) > 2 and sys.argv[2] == "fork":
        child = os.fork()
        if child == 0:
            sys.stdin.read()
            os._exit(0)
        info["child"] = child
    print(json.dumps(info), flush=True)
    sys.stdin.read()
    """#

    let process = Process()
    let stdin = Pipe()
    let name: [UInt8]
    private(set) var pid: Int32 = 0
    private(set) var port: UInt16 = 0
    private(set) var fd: Int = -1
    /// The forked child's pid (mode "fork").
    private(set) var child: Int32?

    /// Starts the child (as `user` through setpriv when given) and waits for its line.
    init(name: [UInt8], fork: Bool = false, asUID uid: Int? = nil) throws {
        self.name = name
        let hex = name.map { String(format: "%02x", $0) }.joined()
        var args = ["-c", Self.script, hex] + (fork ? ["fork"] : [])
        if let uid {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            args = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", Self.python] + args
        } else {
            process.executableURL = URL(fileURLWithPath: Self.python)
        }
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe()
        process.standardInput = stdin
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        pid = process.processIdentifier
        // One line, or EOF if the child failed; the child's alarm bounds the wait.
        let line = out.readFirstLine()
        guard let obj = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
              let port = obj["port"] as? Int, let fd = obj["fd"] as? Int, let p = obj["pid"] as? Int else {
            stop()
            throw ChildError("child did not start: \(String(decoding: line, as: UTF8.self))")
        }
        // setpriv execs python, so the pid printed is the process started.
        guard Int32(p) == pid else {
            stop()
            throw ChildError("child reports pid \(p), started \(pid)")
        }
        self.port = UInt16(port)
        self.fd = fd
        child = (obj["child"] as? Int).map(Int32.init)
    }

    /// Kills the child (and its fork) by pid and reaps it.
    func stop() {
        try? stdin.fileHandleForWriting.close()
        if let c = child { kill(c, SIGKILL) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// The JSON rows for the given local ports.
func jsonRows(_ r: RunResult) throws -> [[String: Any]] {
    try #require(r.status == 0, "exit \(r.status): \(r.stderrText)")
    return try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
}

func localPort(_ row: [String: Any]) -> Int { (row["local"] as? [String: Any])?["port"] as? Int ?? -1 }
func owners(_ row: [String: Any]) -> [[String: Any]] { row["processes"] as? [[String: Any]] ?? [] }

/// The escaping the table promises, written out independently: printable ASCII as is (`\` and
/// `"` escaped inside users:(…)), every other byte of these test names as `\xNN`.
func tableEscaped(_ name: [UInt8]) -> String {
    var s = ""
    for b in name {
        switch b {
        case UInt8(ascii: "\\"): s += "\\\\"
        case UInt8(ascii: "\""): s += "\\\""
        case 0x20..<0x7F: s.unicodeScalars.append(UnicodeScalar(b))
        default: s += String(format: "\\x%02x", b)
        }
    }
    return s
}

/// True when the bytes are UTF-8 with no control character but the row-ending newline.
func terminalSafe(_ data: Data) -> Bool {
    guard let text = String(data: data, encoding: .utf8) else { return false }
    return text.unicodeScalars.allSatisfy { s in
        s == "\n" || !(s.value < 0x20 || s.value == 0x7F || (0x80...0x9F).contains(s.value))
    }
}

@Suite struct OwnersTests {
    static let names: [[UInt8]] = [
        Array("ssc-plain".utf8),
        Array("a) b (c".utf8),
        Array("\u{1B}[31mred\nx".utf8),
        [0xFF, 0xFE] + Array("bad".utf8) + [0xC3],
    ]

    @Test func namedChildrenAreReportedSafely() throws {
        let children = try Self.names.map { try ListeningChild(name: $0) }
        defer { children.forEach { $0.stop() } }
        let ports = children.map { String($0.port) }.joined(separator: ",")

        let table = try Binary.sockscope(["-tlnp", "--sport", ports])
        #expect(table.status == 0, "\(table.stderrText)")
        #expect(terminalSafe(table.stdout))
        let lines = table.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        // A header and exactly one row per child, whatever its name holds.
        #expect(lines.count == 1 + children.count, "\(table.stdoutText)")
        for c in children {
            let row = lines.filter { $0.contains(":\(c.port) ") }
            #expect(row.count == 1)
            let users = "users:((\"\(tableEscaped(c.name))\",pid=\(c.pid),fd=\(c.fd)))"
            #expect(row.first?.contains(users) == true, "\(row) lacks \(users)")
        }

        let rows = try jsonRows(try Binary.sockscope(["-tlnp", "--json", "--sport", ports]))
        #expect(rows.count == children.count)
        for c in children {
            let row = try #require(rows.first { localPort($0) == Int(c.port) })
            let os = owners(row)
            #expect(os.count == 1)
            #expect(os.first?["pid"] as? Int == Int(c.pid))
            #expect(os.first?["fd"] as? Int == c.fd)
            // Invalid UTF-8 arrives as U+FFFD per bad byte; the rest exactly.
            #expect(os.first?["name"] as? String == String(decoding: c.name, as: UTF8.self))
            #expect(os.first?["uid"] as? Int == Int(getuid()))
            #expect(os.first?["user"] as? String == "root")
            #expect(os.first?["cgroup"] is String)
        }
    }

    @Test func forkedChildSharesTheListener() throws {
        let c = try ListeningChild(name: Array("ssc-fork".utf8), fork: true)
        defer { c.stop() }
        let forked = try #require(c.child)
        let rows = try jsonRows(try Binary.sockscope(["-tlnp", "--json", "--sport", String(c.port)]))
        #expect(rows.count == 1)
        let os = rows.first.map(owners) ?? []
        #expect(os.compactMap { $0["pid"] as? Int } == [Int(c.pid), Int(forked)].sorted())
        #expect(os.allSatisfy { $0["fd"] as? Int == c.fd })
        #expect(os.allSatisfy { $0["name"] as? String == "ssc-fork" })
    }

    @Test func processChurnDuringScans() throws {
        let stable = try ListeningChild(name: Array("ssc-stable".utf8))
        defer { stable.stop() }
        for round in 0..<8 {
            // ~50 short-lived processes starting and exiting while sockscope scans /proc.
            let churn = Process()
            churn.executableURL = URL(fileURLWithPath: "/bin/sh")
            churn.arguments = ["-c", "for i in $(seq 50); do sleep 0.0$((i % 9 + 1)) & done; wait"]
            try churn.run()
            defer { if churn.isRunning { kill(churn.processIdentifier, SIGKILL) }; churn.waitUntilExit() }
            for _ in 0..<3 {
                let r = try Binary.sockscope(["-tanp"])
                #expect(r.status == 0, "round \(round): \(r.stderrText)")
                #expect(r.stdoutText.contains("\"ssc-stable\",pid=\(stable.pid),fd=\(stable.fd)"))
            }
        }
    }

    @Test func tcpInfoReflectsTheBytesSent() throws {
        let listener = try Loopback.tcpListener()
        let (client, server) = try Loopback.tcpPair(listener)
        let up = 3000, down = 1234
        try Loopback.send(client, Array(repeating: 0x61, count: up))
        _ = try Loopback.receive(server, count: up)
        try Loopback.send(server, Array(repeating: 0x62, count: down))
        _ = try Loopback.receive(client, count: down)

        // The last ACK may be delayed: ask again until it has arrived (bounded).
        var clientInfo: [String: Any] = [:], serverInfo: [String: Any] = [:]
        for _ in 0..<50 {
            let rows = try jsonRows(try Binary.sockscope(["-tn", "--json", "-i", "--port", String(listener.local.port)]))
            clientInfo = rows.first { localPort($0) == Int(client.local.port) }?["tcp_info"] as? [String: Any] ?? [:]
            serverInfo = rows.first { localPort($0) == Int(server.local.port) && ($0["remote"] as? [String: Any])?["port"] as? Int == Int(client.local.port) }?["tcp_info"] as? [String: Any] ?? [:]
            if (clientInfo["bytes_acked"] as? Int ?? 0) >= up && (serverInfo["bytes_acked"] as? Int ?? 0) >= down { break }
            usleep(100_000)
        }
        // bytes_acked counts the SYN on the connecting side: data + at most 1.
        #expect((up...up + 1).contains(clientInfo["bytes_acked"] as? Int ?? -1), "\(clientInfo)")
        #expect(clientInfo["bytes_received"] as? Int == down)
        #expect((down...down + 1).contains(serverInfo["bytes_acked"] as? Int ?? -1), "\(serverInfo)")
        #expect(serverInfo["bytes_received"] as? Int == up)
        #expect(clientInfo["bytes_sent"] as? Int == up)
        #expect((clientInfo["rtt_us"] as? Int ?? 0) > 0)
        #expect((serverInfo["rtt_us"] as? Int ?? 0) > 0)
    }

    @Test(.requires(.root, .tool("setpriv", package: "util-linux")))  // switches to uid 65534
    func unprivilegedSeesAllSocketsAndOnlyItsOwners() throws {
        let nobody = 65534
        let rootListener = try Loopback.tcpListener()
        let mine = try ListeningChild(name: Array("ssc-nobody".utf8), asUID: nobody)
        defer { mine.stop() }
        let ports = "\(rootListener.local.port),\(mine.port)"

        let asRoot = try jsonRows(try Binary.sockscope(["-tln", "--json", "--sport", ports]))
        let r = try Binary.run("/usr/bin/setpriv", ["--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups",
                                                    Binary.sockscope, "-tlnp", "--json", "--sport", ports])
        let asNobody = try jsonRows(r)
        func sockets(_ rows: [[String: Any]]) -> Set<[Int]> {
            Set(rows.map { [localPort($0), $0["inode"] as? Int ?? -1] })
        }
        #expect(sockets(asRoot).count == 2)
        #expect(sockets(asNobody) == sockets(asRoot))
        let own = try #require(asNobody.first { localPort($0) == Int(mine.port) })
        #expect(owners(own).map { $0["pid"] as? Int } == [Int(mine.pid)])
        #expect(owners(own).first?["user"] as? String == "nobody")
        let others = try #require(asNobody.first { localPort($0) == Int(rootListener.local.port) })
        #expect(owners(others).isEmpty)
        #expect(asNobody.flatMap(owners).allSatisfy { $0["uid"] as? Int == nobody })
        let notices = r.stderrText.split(separator: "\n")
        #expect(notices == ["sockscope: some owners could not be read (not root?)"], "\(r.stderrText)")
    }

    @Test func pidAndProcessSelectExactlyTheirSockets() throws {
        let tag = String(UInt32.random(in: 0..<0xFFFFFF), radix: 16)
        let a = try ListeningChild(name: Array("ssc-a\(tag)".utf8))
        let b = try ListeningChild(name: Array("ssc-b\(tag)".utf8))
        defer { a.stop(); b.stop() }

        let byPid = try jsonRows(try Binary.sockscope(["-ta", "--json", "--pid", String(a.pid)]))
        #expect(byPid.map(localPort) == [Int(a.port)])
        #expect(byPid.flatMap(owners).allSatisfy { $0["pid"] as? Int == Int(a.pid) })

        let byName = try jsonRows(try Binary.sockscope(["-ta", "--json", "--process", "ssc-b\(tag)"]))
        #expect(byName.map(localPort) == [Int(b.port)])

        // Both conditions and a port filter combine; a process that holds nothing selects nothing.
        #expect(try jsonRows(try Binary.sockscope(["-ta", "--json", "--pid", String(a.pid), "--sport", String(b.port)])).isEmpty)
        #expect(try jsonRows(try Binary.sockscope(["-ta", "--json", "--process", "ssc-none\(tag)"])).isEmpty)

        // The table shows owners with --pid alone (it implies -p).
        let t = try Binary.sockscope(["-tan", "--pid", String(b.pid)])
        #expect(t.stdoutText.contains("users:((\"ssc-b\(tag)\",pid=\(b.pid),fd=\(b.fd)))"))
        #expect(try Binary.sockscope(["--pid", "0"]).status == 2)
    }
}

struct ChildError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
