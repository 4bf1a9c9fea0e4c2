import Foundation
import TestSupport
import Testing

/// `-T` (owners per thread) against a python3 child whose threads are named and one of which has
/// a descriptor table of its own, and `-r` against /etc/hosts in a private mount namespace.
@Suite struct ThreadsAndNamesTests {
    /// Listens on A from the main thread; thread "sst-shared" shares the table; thread
    /// "sst-own" unshares it (CLONE_FILES) and then listens on B, which only it holds. Prints
    /// `{"pid","tids":{name: tid},"a","b","fd_a","fd_b"}` and waits for stdin to close.
    static let script = #"""
    import ctypes, json, os, signal, socket, sys, threading
    signal.alarm(120)
    libc = ctypes.CDLL(None, use_errno=True)
    def name(n): libc.prctl(15, ctypes.c_char_p(n), 0, 0, 0)  # PR_SET_NAME, this thread
    name(b"sst-main")
    a = socket.socket(); a.bind(("127.0.0.1", 0)); a.listen(8)
    info = {"pid": os.getpid(), "a": a.getsockname()[1], "fd_a": a.fileno(), "tids": {"sst-main": threading.get_native_id()}}
    ready = threading.Barrier(3)
    done = threading.Event()
    def shared():
        name(b"sst-shared"); info["tids"]["sst-shared"] = threading.get_native_id()
        ready.wait(); done.wait()
    def own():
        name(b"sst-own"); info["tids"]["sst-own"] = threading.get_native_id()
        if libc.unshare(0x400) != 0: raise SystemExit("unshare")  # CLONE_FILES
        b = socket.socket(); b.bind(("127.0.0.1", 0)); b.listen(8)
        info["b"] = b.getsockname()[1]; info["fd_b"] = b.fileno()
        ready.wait(); done.wait()
    for f in (shared, own): threading.Thread(target=f, daemon=True).start()
    ready.wait()
    print(json.dumps(info), flush=True)
    sys.stdin.read()
    done.set()
    """#

    struct Child {
        var pid: Int, a: Int, b: Int, fdA: Int, fdB: Int, tids: [String: Int]
    }

    static func start() throws -> (Process, Pipe, Child) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script]
        let inPipe = Pipe(), out = Pipe()
        p.standardInput = inPipe
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let line = out.readFirstLine()
        let o = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any], "child: \(line)")
        let child = Child(pid: o["pid"] as! Int, a: o["a"] as! Int, b: o["b"] as! Int, fdA: o["fd_a"] as! Int,
                          fdB: o["fd_b"] as! Int, tids: o["tids"] as! [String: Int])
        return (p, inPipe, child)
    }

    @Test func threadsListEveryThreadHoldingTheSocket() throws {
        let (p, stdin, c) = try Self.start()
        defer { try? stdin.fileHandleForWriting.close(); p.waitUntilExit() }
        let main = c.tids["sst-main"]!, shared = c.tids["sst-shared"]!, own = c.tids["sst-own"]!
        // A: the main thread's table, shared by sst-shared; sst-own's copy of it holds A too.
        let holdersA = [("sst-main", main), ("sst-shared", shared), ("sst-own", own)].sorted { $0.1 < $1.1 }
        let usersA = "users:(" + holdersA.map { "(\"\($0.0)\",pid=\(c.pid),tid=\($0.1),fd=\(c.fdA))" }.joined(separator: ",") + ")"
        let a = try Binary.sockscope(["-tlT", "-H", "sport = :\(c.a)"])
        #expect(a.status == 0, "\(a.stderrText)")
        let rowA = a.stdoutText.split(separator: "\n")
        #expect(rowA.count == 1 && rowA[0].hasSuffix(usersA), "\(a.stdoutText) vs \(usersA)")
        // B: only in sst-own's own table.
        let b = try Binary.sockscope(["-tlT", "-H", "sport = :\(c.b)"])
        let usersB = "users:((\"sst-own\",pid=\(c.pid),tid=\(own),fd=\(c.fdB)))"
        #expect(b.stdoutText.split(separator: "\n").first?.hasSuffix(usersB) == true, "\(b.stdoutText) vs \(usersB)")
        // -p names the process once per descriptor, with no tid.
        let pB = try Binary.sockscope(["-tlp", "-H", "sport = :\(c.b)"])
        #expect(pB.stdoutText.split(separator: "\n").first?.hasSuffix("users:((\"sst-main\",pid=\(c.pid),fd=\(c.fdB)))") == true,
                "\(pB.stdoutText)")
        // JSON: one entry per thread, with "tid" and the thread's name.
        let j = try Binary.sockscope(["-tlT", "--json", "sport = :\(c.a)"])
        let rows = try #require(try JSONSerialization.jsonObject(with: j.stdout) as? [[String: Any]])
        let procs = try #require(rows.first?["processes"] as? [[String: Any]])
        #expect(procs.map { $0["tid"] as? Int } == holdersA.map { $0.1 })
        #expect(procs.map { $0["name"] as? String } == holdersA.map { $0.0 })
        #expect(procs.allSatisfy { $0["pid"] as? Int == c.pid && $0["fd"] as? Int == c.fdA })
        // Without -T there is no tid key.
        let plain = try Binary.sockscope(["-tlp", "--json", "sport = :\(c.a)"])
        #expect(!plain.stdoutText.contains("\"tid\""))
    }

    @Test func threadsOnlyInTheListing() throws {
        let r = try Binary.sockscope(["-T", "--listeners"])
        #expect(r.status == 2 && r.stderrText.contains("-T does not apply to --listeners"), "\(r.stderrText)")
    }

    /// Runs sockscope in a private mount namespace where /etc/hosts (and, when given,
    /// /etc/resolv.conf) are files of the test's.
    static func inMountNamespace(hosts: String, resolvConf: String? = nil, _ args: [String], timeout: Double = 30) throws -> RunResult {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-resolve-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try hosts.write(to: dir.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)
        try (resolvConf ?? "").write(to: dir.appendingPathComponent("resolv.conf"), atomically: true, encoding: .utf8)
        // nsswitch as on a stock system, so the test does not depend on the machine's.
        try "hosts: files dns\n".write(to: dir.appendingPathComponent("nsswitch.conf"), atomically: true, encoding: .utf8)
        var script = #"mount --bind "$1/hosts" /etc/hosts && mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf"#
        if resolvConf != nil { script += #" && mount --bind "$1/resolv.conf" /etc/resolv.conf"# }
        script += #" && shift && exec "$@""#
        return try Binary.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", dir.path,
                                                   Binary.sockscope] + args, timeout: timeout)
    }

    @Test(.requires(.root, .tool("unshare", package: "util-linux")))
    func resolveNamesFromHosts() throws {
        let listener = try Loopback.tcpListener("127.0.0.77")
        let port = listener.local.port
        let (client, server) = try Loopback.tcpPair(listener, connectTo: "127.0.0.77")
        let clientPort = client.local.port
        let hosts = "127.0.0.1 sockscope-client.test\n127.0.0.77 sockscope-server.test\n"
        let t = try Self.inMountNamespace(hosts: hosts, ["-tn", "-r", "-H", "src 127.0.0.77:\(port)"])
        #expect(t.status == 0, "\(t.stderrText)")
        let fields = t.stdoutText.split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: true) ?? []
        #expect(fields.count >= 5 && fields[3] == "sockscope-server.test:\(port)" && fields[4] == "sockscope-client.test:\(clientPort)",
                "\(t.stdoutText)")
        let j = try Self.inMountNamespace(hosts: hosts, ["-tn", "-r", "--json", "src 127.0.0.77:\(port)"])
        let rows = try #require(try JSONSerialization.jsonObject(with: j.stdout) as? [[String: Any]], "\(j.stderrText)")
        let local = rows.first?["local"] as? [String: Any], remote = rows.first?["remote"] as? [String: Any]
        #expect(local?["name"] as? String == "sockscope-server.test" && local?["address"] as? String == "127.0.0.77")
        #expect(remote?["name"] as? String == "sockscope-client.test" && remote?["port"] as? Int == Int(clientPort))
        // Without -r: addresses only, no name key.
        let plain = try Self.inMountNamespace(hosts: hosts, ["-tn", "--json", "src 127.0.0.77:\(port)"])
        #expect(plain.status == 0 && !plain.stdoutText.contains("\"name\""), "\(plain.stdoutText)")
        _ = server
    }

    /// A DNS server that never answers: each lookup would wait the resolver's 30 s; the run ends
    /// long before with the address numeric, because each lookup is given up after 0.3 s.
    @Test(.requires(.root, .tool("unshare", package: "util-linux")))
    func aSilentDNSServerCostsOneTimeout() throws {
        let blackHole = try Loopback.udp("127.0.0.99", port: 53)
        var peers: [TestSocket] = []
        let listener = try Loopback.tcpListener("127.0.0.98")
        // Ten peers from ten addresses none of which /etc/hosts names: ten lookups, in parallel.
        for i in 1...10 { peers.append(try Loopback.tcpConnect("127.0.0.98", listener.local.port, from: "127.0.1.\(i)", sourcePort: 0)) }
        let r = try Self.inMountNamespace(hosts: "", resolvConf: "nameserver 127.0.0.99\noptions timeout:30 attempts:1\n",
                                          ["-tn", "-r", "-H", "--resolve-timeout", "0.3", "dst 127.0.0.98:\(listener.local.port)"],
                                          timeout: 20)
        #expect(r.status == 0, "exit \(r.status): \(r.stderrText)")
        let lines = r.stdoutText.split(separator: "\n")
        #expect(lines.count == 10 && lines.allSatisfy { $0.contains(":\(listener.local.port)") && $0.contains("127.0.0.98") },
                "\(r.stdoutText)")
        _ = blackHole
    }

    @Test func resolveTimeoutNeedsResolve() throws {
        let r = try Binary.sockscope(["--resolve-timeout", "1"])
        #expect(r.status == 2 && r.stderrText.contains("--resolve-timeout goes with -r"), "\(r.stderrText)")
    }

    /// `-q` leaves out notices and nothing else.
    @Test func quietLeavesOutNotices() throws {
        let loud = try Binary.sockscope(["-ta", "--pid", "2147483646"])
        #expect(loud.status == 0 && loud.stderrText.contains("no process with pid 2147483646"), "\(loud.stderrText)")
        let quiet = try Binary.sockscope(["-ta", "-q", "--pid", "2147483646"])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty && quiet.stdout == loud.stdout, "\(quiet.stderrText)")
        let bad = try Binary.sockscope(["-q", "--port", "nope-no-such-service"])
        #expect(bad.status == 2 && !bad.stderr.isEmpty, "errors are not notices")
    }
}
