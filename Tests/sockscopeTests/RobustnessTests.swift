import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SockscopeModel
import TestSupport
import Testing

/// Faults injected into the real binary, namespaces, and hostile process names.
///
/// Faults with no natural trigger are injected with strace (`-e inject=SYSCALL:error=ERRNO:when=N`;
/// .ci/run installs it) or, for reply contents strace cannot reach, an LD_PRELOAD wrapper of
/// recvmsg compiled here. Root-only cases carry `.requires(.root)`.
@Suite struct FaultTests {

    struct Row: Decodable { var proto: String, state: String, inode: UInt64, local: Endpoint, remote: Endpoint }

    static func rows(_ r: RunResult) throws -> [Row] { try JSONDecoder().decode([Row].self, from: r.stdout) }

    /// sockscope under strace with one injection; the trace goes to `log` so the test can see it fired.
    static func injected(_ inject: String, _ args: [String], log: String) throws -> RunResult {
        try Binary.run(try Requirement.tool("strace").path(), ["-f", "-qq", "-o", log, "-e", "trace=\(inject.split(separator: ":")[0])",
                                "-e", "inject=\(inject)", Binary.sockscope] + args, timeout: 60)
    }

    static func tempPath(_ tag: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    }

    /// A listener and enough connections that one dump spans several receive buffers.
    static func ownSockets(pairs: Int) throws -> [TestSocket] {
        let l = try Loopback.tcpListener("127.0.0.1", backlog: 1024)
        var socks = [l]
        for _ in 0..<pairs { let (c, a) = try Loopback.tcpPair(l); socks += [c, a] }
        return socks
    }

    static func expectAllOnce(_ socks: [TestSocket], in rows: [Row], _ what: String) {
        let inodes = Set(socks.map(\.inode))
        let seen = rows.filter { $0.proto == "tcp" && inodes.contains($0.inode) }.map(\.inode)
        #expect(Set(seen) == inodes, "\(what): \(inodes.count - Set(seen).count) of our sockets missing")
        #expect(seen.count == Set(seen).count, "\(what): a socket listed twice")
    }

    @Test(.requires(.tool("strace")), arguments: ["EAFNOSUPPORT", "EPROTONOSUPPORT"])
    func netlinkRefusedFallsBackToProcWithTheSameSockets(errno: String) throws {
        let socks = try Self.ownSockets(pairs: 3)
        let log = Self.tempPath("strace")
        defer { try? FileManager.default.removeItem(atPath: log) }
        let r = try Self.injected("socket:error=\(errno)", ["-ta", "--json"], log: log)
        #expect(r.status == 0, "\(r.stderrText)")
        let lines = r.stderrText.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("reading /proc/net instead"), "\(r.stderrText)")
        Self.expectAllOnce(socks, in: try Self.rows(r), "fallback after \(errno)")
    }

    /// ENOBUFS (the kernel dropped replies) or EIO on the second recvmsg of a dump: the dump is
    /// redone on a new socket and the listing is whole.
    @Test(.requires(.tool("strace")), arguments: ["ENOBUFS", "EIO"])
    func receiveFailureMidDumpIsRedone(errno: String) throws {
        let socks = try Self.ownSockets(pairs: 300)  // > 32 KiB of replies: several recvmsg calls
        let log = Self.tempPath("strace")
        defer { try? FileManager.default.removeItem(atPath: log) }
        let r = try Self.injected("recvmsg:error=\(errno):when=2", ["-ta", "--json"], log: log)
        let trace = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(trace.contains("(INJECTED)"), "the fault was not injected")
        #expect(r.status == 0, "\(r.stderrText)")
        Self.expectAllOnce(socks, in: try Self.rows(r), "after one \(errno)")
    }

    /// A failed listing on stdout: nothing for a table (its rows wait for the widths); JSON goes out
    /// as the dump arrives, so what was written stays, but cut off before its closing bracket, so
    /// no parser takes it for a complete listing.
    static func expectNoCompleteListing(_ r: RunResult, _ args: [String]) {
        guard args.contains("--json") else {
            #expect(r.stdout.isEmpty, "\(args): partial output")
            return
        }
        #expect(r.stdout.isEmpty || (try? JSONSerialization.jsonObject(with: Data(r.stdout))) == nil,
                "\(args): a failed listing parses as complete JSON")
    }

    /// The same failure on every receive: exit 1 with the reason, and no complete listing on stdout.
    @Test(.requires(.tool("strace")), arguments: ["ENOBUFS", "EIO"])
    func receiveFailingEveryTimeIsAnErrorWithoutOutput(errno: String) throws {
        let socks = try Self.ownSockets(pairs: 300)
        let log = Self.tempPath("strace")
        defer { try? FileManager.default.removeItem(atPath: log) }
        for args in [["-ta"], ["-ta", "--json"]] {
            let r = try Self.injected("recvmsg:error=\(errno):when=2+", args, log: log)
            #expect(r.status == 1, "\(args): \(r.stderrText)")
            Self.expectNoCompleteListing(r, args)
            #expect(r.stderrText.contains("failed 4 times"), "\(r.stderrText)")
        }
        _ = socks
    }

    /// An LD_PRELOAD recvmsg wrapper that writes `-FAKE_DONE_ERRNO` into the first FAKE_DONE_TIMES
    /// (default: every) NLMSG_DONE of netlink replies: what the kernel sends when a dump fails
    /// part-way, and what libmnl alone would take for a clean end.
    static let preloadSource = #"""
    #define _GNU_SOURCE
    #include <dlfcn.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/socket.h>
    #include <linux/netlink.h>
    static int spoiled;
    ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
        static ssize_t (*real)(int, struct msghdr *, int);
        if (!real) real = (ssize_t (*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
        ssize_t n = real(fd, msg, flags);
        const char *e = getenv("FAKE_DONE_ERRNO"), *t = getenv("FAKE_DONE_TIMES");
        struct sockaddr_nl *from = msg->msg_name;
        if (n <= 0 || !e || msg->msg_iovlen < 1 || !from || from->nl_family != AF_NETLINK) return n;
        int limit = t ? atoi(t) : 1 << 30;
        char *buf = msg->msg_iov[0].iov_base;
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct nlmsghdr) <= n;) {
            struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
            if (h->nlmsg_len < sizeof *h || off + (ssize_t)h->nlmsg_len > n) break;
            if (h->nlmsg_type == NLMSG_DONE && h->nlmsg_len >= sizeof *h + 4 && spoiled < limit) {
                int code = -atoi(e);
                memcpy(buf + off + sizeof *h, &code, 4);
                spoiled++;
            }
            off += NLMSG_ALIGN(h->nlmsg_len);
        }
        return n;
    }
    """#

    static func buildPreload() throws -> String? {
        let dir = tempPath("preload")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try preloadSource.write(toFile: dir + "/fake.c", atomically: true, encoding: .utf8)
        for cc in ["/usr/bin/cc", "/usr/bin/clang", "/opt/swift/usr/bin/clang"] where FileManager.default.isExecutableFile(atPath: cc) {
            let r = try Binary.run(cc, ["-shared", "-fPIC", "-O1", "-o", dir + "/fake.so", dir + "/fake.c", "-ldl"])
            if r.status == 0 { return dir + "/fake.so" }
        }
        return nil
    }

    @Test func nlmsgDoneCarryingAnErrorIsNeverAnEmptyListing() throws {
        guard let so = try Self.buildPreload() else { Issue.record("no C compiler for the recvmsg wrapper"); return }
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: so).deletingLastPathComponent().path) }
        let socks = try Self.ownSockets(pairs: 3)
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = so
        env["FAKE_DONE_ERRNO"] = "5"  // EIO
        for args in [["-ta"], ["-ta", "--json"], ["-ua", "--json"]] {
            let r = try Binary.run(Binary.sockscope, args, environment: env)
            #expect(r.status == 1, "\(args): \(r.stderrText)")
            Self.expectNoCompleteListing(r, args)
            #expect(r.stderrText.contains("Input/output error"), "\(r.stderrText)")
        }
        // Once only: the dump is redone and the listing is whole.
        env["FAKE_DONE_TIMES"] = "1"
        let r = try Binary.run(Binary.sockscope, ["-ta", "--json"], environment: env)
        #expect(r.status == 0, "\(r.stderrText)")
        Self.expectAllOnce(socks, in: try Self.rows(r), "after one failed dump")
    }

    /// `ulimit -n 16` is enough for a listing with owners: sockscope holds few descriptors at once.
    @Test func sixteenDescriptorsAreEnoughEvenWithOwners() throws {
        let socks = try Self.ownSockets(pairs: 2)
        for args in ["-ta --json", "-tap --json", "-ta --json --source proc"] {
            let r = try Binary.run("/bin/bash", ["-c", "ulimit -n 16 && exec '\(Binary.sockscope)' \(args)"])
            #expect(r.status == 0, "\(args): \(r.stderrText)")
            Self.expectAllOnce(socks, in: try Self.rows(r), "ulimit -n 16, \(args)")
            #expect(!r.stderrText.contains("Too many open files"), "\(r.stderrText)")
        }
    }

    /// No descriptor left for the netlink socket (EMFILE, injected: a real `ulimit -n` low enough for
    /// that leaves none for the dynamic loader either): a clear error, never a fallback or a listing.
    @Test(.requires(.tool("strace"))) func noDescriptorForTheSocketIsAClearError() throws {
        let log = Self.tempPath("strace")
        defer { try? FileManager.default.removeItem(atPath: log) }
        for args in [["-ta"], ["-tap", "--json"]] {
            let r = try Self.injected("socket:error=EMFILE", args, log: log)
            #expect(r.status == 1, "\(args): \(r.stderrText)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderrText.contains("cannot open netlink socket") && r.stderrText.contains("Too many open files"),
                    "\(r.stderrText)")
        }
    }

    /// `sockscope >&-`: nothing to write to, a quiet end (status 0, nothing on stderr). Before the
    /// fix: "write error: Bad file descriptor", and with -p the output went into whatever file got
    /// descriptor 1 ("write error: Invalid argument").
    @Test func closedStdoutIsAQuietExit() throws {
        for args in ["-ta", "-ta --json", "-tap", "-s"] {
            let r = try Binary.run("/bin/bash", ["-c", "'\(Binary.sockscope)' \(args) >&-; echo \"status=$?\" >&2"])
            let err = r.stderrText.split(separator: "\n").filter { !$0.hasPrefix("sockscope: some owners") }
            #expect(err == ["status=0"], "\(args): \(r.stderrText)")
        }
    }
}

/// `--netns`: the sockets of another namespace, with their owners; none of them in ours.
@Suite struct NetnsTests {
    @Test(.requires(.root)) func listsAnotherNamespaceWithOwnersLikeSSN() throws {
        try Requirement.root.check()
        let name = "sockscope-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let add = try Binary.run("/usr/sbin/ip", ["netns", "add", name])
        try #require(add.status == 0, "\(add.stderrText)")
        defer { _ = try? Binary.run("/usr/sbin/ip", ["netns", "delete", name]) }
        _ = try Binary.run("/usr/sbin/ip", ["netns", "exec", name, "ip", "link", "set", "lo", "up"])
        // `ip netns exec` execs the command: the pid we start is the listener's.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", name, "python3", "-c",
                       "import socket,sys,time\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n"
                           + "print(s.getsockname()[1], flush=True); sys.stdin.read()"]
        let out = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardInput = input
        try p.run()
        defer { try? input.fileHandleForWriting.close(); kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(UInt16(line.trimmingCharacters(in: .whitespacesAndNewlines)))

        struct Row: Decodable {
            struct Owner: Decodable { var pid: Int32 }
            var state: String, inode: UInt64, local: Endpoint, processes: [Owner]?
        }
        func rows(_ args: [String]) throws -> [Row] {
            let r = try Binary.sockscope(args + ["--json"])
            #expect(r.status == 0, "\(args): \(r.stderrText)")
            return try JSONDecoder().decode([Row].self, from: r.stdout)
        }
        for ns in [name, "/run/netns/\(name)", "/proc/\(p.processIdentifier)/ns/net"] {
            for source in ["netlink", "proc"] {
                let listed = try rows(["--netns", ns, "-tlp", "--source", source])
                let row = listed.first { $0.local.port == port && $0.local.address.description == "127.0.0.1" }
                #expect(row?.state == "LISTEN", "\(ns) \(source): \(listed.count) rows")
                #expect(row?.processes?.map(\.pid) == [p.processIdentifier], "\(ns) \(source): owner")
                // Only that namespace: it has nothing but this listener.
                #expect(listed.count == 1, "\(ns) \(source): \(listed.map(\.local))")
                if let inode = row?.inode {
                    let here = try rows(["-tap"])
                    #expect(!here.contains { $0.inode == inode }, "listed in the default namespace too")
                    // Our namespace's sockets never get the other namespace's owner.
                    #expect(!here.contains { $0.processes?.contains { $0.pid == p.processIdentifier } == true })
                }
            }
        }
        let bad = try Binary.sockscope(["--netns", "no-such-namespace-\(getpid())", "-t"])
        #expect(bad.status == 1 && bad.stdout.isEmpty && bad.stderrText.contains("/run/netns/no-such-namespace"))
    }
}

/// Process names carrying terminal controls (OSC 52 clipboard write, BEL, CSI 2J, C1 bytes, both raw
/// and as UTF-8 U+009B) never reach the output raw.
@Suite struct TerminalSafetyTests {
    /// The names, as bytes for prctl(PR_SET_NAME) (at most 15 bytes each).
    static let names: [[UInt8]] = [
        Array("\u{1b}]52;c;QUJD\u{07}".utf8) + [0x9B],   // OSC 52 ... BEL, then a raw C1 CSI byte
        Array("\u{1b}[2J".utf8) + [0xC2, 0x9B] + Array("2J".utf8) + [0x9D, 0x90, 0x07],  // CSI 2J, U+009B, raw C1
    ]

    /// What in the bytes a terminal would act on: a raw byte that is not UTF-8 (a C1 byte alone),
    /// or a control character other than newline and tab (ESC, BEL, U+0080…U+009F); nil if none.
    static func hostile(_ b: [UInt8]) -> String? {
        guard let s = String(validating: b, as: UTF8.self) else { return "a byte that is not UTF-8" }
        for u in s.unicodeScalars where (u.value < 0x20 && u != "\n" && u != "\t") || (0x7F...0x9F).contains(u.value) {
            return "U+\(String(u.value, radix: 16, uppercase: true))"
        }
        return nil
    }

    /// Starts listeners on loopback in children named with the hostile names; returns (process, ports).
    static func startListeners() throws -> (Process, [UInt16], Pipe) {
        let script = """
        import ctypes, os, socket, sys
        names = [bytes.fromhex(h) for h in sys.argv[1:]]
        ports = []
        for n in names:
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
            ports.append(s.getsockname()[1])
            if os.fork() == 0:
                ctypes.CDLL(None).prctl(15, ctypes.c_char_p(n), 0, 0, 0)  # PR_SET_NAME
                sys.stdin.read(); os._exit(0)
            s.close()
        print(" ".join(map(str, ports)), flush=True)
        sys.stdin.read()
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script] + names.map { $0.map { String(format: "%02x", $0) }.joined() }
        let out = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardInput = input
        try p.run()
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let ports = line.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt16($0) }
        return (p, ports, input)
    }

    @Test func tableAndNDJSONCarryNoRawControls() throws {
        let (p, ports, input) = try Self.startListeners()
        // Closing stdin ends the children (they read it to EOF).
        defer { try? input.fileHandleForWriting.close(); p.waitUntilExit() }
        #expect(ports.count == 2)
        for args in [["-tlp"], ["-tlpn", "-e"], ["-tlp", "--json"], ["-w", "--json", "--count", "1", "-tlp"]] {
            let r = try Binary.sockscope(args)
            #expect(r.status == 0, "\(args): \(r.stderrText)")
            let bytes = [UInt8](r.stdout)
            #expect(Self.hostile(bytes) == nil, "\(args): \(Self.hostile(bytes) ?? "")")
            let text = r.stdoutText
            for port in ports {
                #expect(text.contains(":\(port)") || text.contains("\"port\":\(port)"), "\(args): port \(port) missing")
            }
            #expect(text.contains("52;c;QUJD"), "\(args): the name is shown, escaped")
        }
    }

    /// The live view under tmux: the pane's raw output (pipe-pane) has no OSC 52 and no C1 byte,
    /// and the screen shows the names escaped.
    @Test(.requires(.tool("tmux"))) func liveViewCarriesNoRawControls() throws {
        let (p, ports, input) = try Self.startListeners()
        defer { try? input.fileHandleForWriting.close(); p.waitUntilExit() }
        let tmux = TmuxServer()
        defer { tmux.kill() }
        let raw = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-raw-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: raw) }
        try tmux.newSession(width: 160, height: 30)
        try tmux.run(["pipe-pane", "-t", "t", "-o", "cat >> '\(raw)'"])
        try tmux.run(["send-keys", "-t", "t", "-l", "'\(Binary.sockscope)' -w -tlp --port \(ports.map(String.init).joined(separator: ","))"])
        try tmux.run(["send-keys", "-t", "t", "Enter"])
        // The owner column is narrow: the escaped name's start is what shows.
        let shown = try TmuxServer.waitUntil(10) { try tmux.capture().contains { $0.contains("\\x1b]52") } }
        let screen = (try? tmux.capture().joined(separator: "\n")) ?? ""
        #expect(shown, "\(screen)")
        try tmux.run(["send-keys", "-t", "t", "q"])
        _ = TmuxServer.waitUntil(1) { false }  // let the pane's output reach the pipe
        let bytes = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: raw))) ?? Data())
        #expect(!bytes.isEmpty)
        // curses writes escape sequences of its own: look for the names' ones, and for C1 controls.
        let text = try #require(String(validating: bytes, as: UTF8.self), "raw bytes that are not UTF-8 reached the terminal")
        #expect(!text.contains("\u{1b}]52;"), "OSC 52 reached the terminal")
        #expect(!text.contains("\u{1b}[2J\u{9b}"), "the name's CSI 2J reached the terminal")
        #expect(!text.unicodeScalars.contains { (0x80...0x9F).contains($0.value) }, "a C1 control reached the terminal")
    }
}
