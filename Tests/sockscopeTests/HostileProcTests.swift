import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SockscopeModel
import TestSupport
import Testing

/// A `--proc-root` tree whose files are hostile: numbers that overflow, endless devices, FIFOs
/// nobody writes to. Each must end with a clear answer, never a trap or a hang.
@Suite struct HostileProcTests {
    /// A copy of this machine's `/proc/net` tables under a temporary root, with our own listener in it.
    final class Tree {
        let root: String
        let net: String

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-hostile-\(UUID().uuidString)").path
            net = root + "/net"
            try FileManager.default.createDirectory(atPath: net, withIntermediateDirectories: true)
            for name in ["tcp", "tcp6", "udp", "udp6", "sockstat", "sockstat6", "snmp", "netstat"] {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: "/proc/net/" + name))
                try bytes.write(to: URL(fileURLWithPath: net + "/" + name))
            }
        }

        /// Replaces `net/NAME` with `text`.
        func write(_ name: String, _ text: String) throws {
            try? FileManager.default.removeItem(atPath: net + "/" + name)
            try Data(text.utf8).write(to: URL(fileURLWithPath: net + "/" + name))
        }

        /// Replaces `net/NAME` with a symbolic link to `target` (a device).
        func link(_ name: String, to target: String) throws {
            try? FileManager.default.removeItem(atPath: net + "/" + name)
            try FileManager.default.createSymbolicLink(atPath: net + "/" + name, withDestinationPath: target)
        }

        /// Replaces `net/NAME` with a FIFO that nobody writes to.
        func fifo(_ name: String) throws {
            try? FileManager.default.removeItem(atPath: net + "/" + name)
            #expect(mkfifo(net + "/" + name, 0o600) == 0)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    static func stderrLines(_ r: RunResult) -> [String] { r.stderrText.split(separator: "\n").map(String.init) }

    /// Case 1: `alloc 9223372036854775807` in sockstat overflowed the socket estimate (a trap, exit
    /// 132) for any listing given `--proc-root`, whatever the source.
    @Test(arguments: ["netlink", "proc"]) func overflowingSockstatIsNoTrap(source: String) throws {
        let tree = try Tree()
        let l = try Loopback.tcpListener()
        // Re-read tcp after the listener exists, so the /proc source lists it too.
        try Data(contentsOf: URL(fileURLWithPath: "/proc/net/tcp")).write(to: URL(fileURLWithPath: tree.net + "/tcp"))
        try tree.write("sockstat", "sockets: used 9223372036854775807\n"
            + "TCP: inuse 9223372036854775807 orphan 9223372036854775807 tw 9223372036854775807 alloc 9223372036854775807 mem 1\n"
            + "UDP: inuse 9223372036854775807 mem -9223372036854775808\n")
        try tree.write("sockstat6", "UDP6: inuse 99999999999999999999999999\n")
        let r = try Binary.sockscope(["-tl", "-n", "--json", "--source", source, "--proc-root", tree.root])
        #expect(r.status == 0, "\(r.status): \(r.stderrText.prefix(300))")
        #expect(r.stderrText.isEmpty, "\(r.stderrText.prefix(300))")
        struct Row: Decodable { var inode: UInt64 }
        let rows = try JSONDecoder().decode([Row].self, from: r.stdout)
        #expect(rows.contains { $0.inode == l.inode }, "our listener is listed")
    }

    /// Cases 2 and 3: an endless device or a FIFO as a socket table is an error naming the file, at once.
    @Test(arguments: [("/dev/zero", "a character device"), ("/dev/urandom", "a character device"), ("fifo", "a FIFO")])
    func deviceOrFIFOAsTheSocketTableIsAnErrorNamingIt(target: String, what: String) throws {
        let tree = try Tree()
        if target == "fifo" { try tree.fifo("tcp") } else { try tree.link("tcp", to: target) }
        let r = try Binary.sockscope(["-ta", "--source", "proc", "--proc-root", tree.root], timeout: 20)
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(Self.stderrLines(r) == ["sockscope: cannot read \(tree.net)/tcp: not a regular file (\(what))"])
    }

    /// Cases 2 and 3: the counters sockscope reads beside a netlink dump (sockstat, snmp, netstat)
    /// as endless devices or FIFOs: they are only estimates and checks, so the listing goes on whole.
    @Test(arguments: ["/dev/zero", "fifo"]) func deviceOrFIFOAsCountersDoesNotStopTheListing(target: String) throws {
        let tree = try Tree()
        for name in ["sockstat", "sockstat6", "snmp", "netstat"] {
            if target == "fifo" { try tree.fifo(name) } else { try tree.link(name, to: target) }
        }
        let l = try Loopback.tcpListener()
        let r = try Binary.sockscope(["-tl", "-n", "--json", "--proc-root", tree.root], timeout: 20)
        #expect(r.status == 0, "\(r.stderrText)")
        struct Row: Decodable { var inode: UInt64 }
        #expect(try JSONDecoder().decode([Row].self, from: r.stdout).contains { $0.inode == l.inode })
    }

    /// Case 3: a FIFO given to `--netns` (as a path, or planted under /run/netns) hung in open(2).
    @Test func aFIFOAsTheNetworkNamespaceIsAnErrorNamingIt() throws {
        let tree = try Tree()
        try tree.fifo("ns")
        let path = tree.net + "/ns"
        let r = try Binary.sockscope(["--netns", path, "-t"], timeout: 20)
        #expect(r.status == 1)
        #expect(Self.stderrLines(r) == ["sockscope: cannot enter network namespace '\(path)': open \(path): not a regular file (a FIFO)"])
    }

    /// Case 2: every malformed line of a large garbage table used to be kept (577 MB after 20 s of
    /// /dev/urandom); now the first five are reported, the rest counted.
    @Test func malformedLinesAreCappedAndCounted() throws {
        let tree = try Tree()
        var text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        for i in 0..<20_000 { text += "garbage line \(i) with no colon\n" }
        try tree.write("tcp", text)
        let r = try Binary.sockscope(["-t4a", "--source", "proc", "--proc-root", tree.root])
        #expect(r.status == 0)
        let lines = Self.stderrLines(r)
        #expect(lines.count == 6, "\(lines.prefix(8))")
        #expect(lines.prefix(5).allSatisfy { $0.hasPrefix("sockscope: \(tree.net)/tcp: skipped malformed line ") })
        #expect(lines.last == "sockscope: \(tree.net)/tcp: skipped 19995 more malformed lines")
    }
}

/// Case 4: with almost no file descriptors (`prlimit --nofile=4:4`: only 0, 1, 2 and one more),
/// libdispatch could not create its epoll descriptor and trapped (SIGILL, exit 132) in every mode
/// that starts a second thread. Now each mode ends with its answer or one clear line.
@Suite(.requires(.tool("prlimit", package: "util-linux"))) struct FewDescriptorsTests {
    static func run(_ args: [String], nofile: Int) throws -> RunResult {
        try Binary.run(try Requirement.tool("prlimit", package: "util-linux").path(),
                       ["--nofile=\(nofile):\(nofile)", Binary.sockscope] + args, timeout: 30)
    }

    @Test(arguments: [["-ta", "-p"], ["-tap", "--json"], ["--listeners"], ["--map"], ["-w", "--json", "--count", "1", "-t"]])
    func fourDescriptorsNeverTrap(args: [String]) throws {
        let r = try Self.run(args, nofile: 4)
        #expect(r.status == 0 || r.status == 1, "\(args): status \(r.status): \(r.stderrText.prefix(300))")
        let lines = r.stderrText.split(separator: "\n")
        #expect(lines.count == 1, "\(args): \(r.stderrText.prefix(300))")
        // Which thread gets the one free descriptor first decides which line it is.
        let clear = lines.allSatisfy {
            $0.hasPrefix("sockscope: ") && ($0.contains("ran out of file descriptors after") || $0.contains("Too many open files"))
        }
        #expect(clear, "\(args): \(r.stderrText.prefix(300))")
    }

    @Test func untilUpWithFourDescriptorsAnswers() throws {
        let l = try Loopback.tcpListener()
        let r = try Self.run(["--until-up", "\(l.local.port)", "--timeout", "10"], nofile: 4)
        #expect(r.status == 0, "\(r.stderrText.prefix(300))")
        #expect(r.stdoutText.contains(" \(l.local.port) UP "), "\(r.stdoutText)")
    }
}

/// Case 7, with a real process: named `",pid=1,fd=3),(` it showed as two owners in `users:(…)`.
@Suite struct ForgedOwnerTests {
    @Test func aProcessNamedLikeAnEntryIsOneOwner() throws {
        let script = """
        import ctypes, socket, sys
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(b'",pid=1,fd=3),('), 0, 0, 0)  # PR_SET_NAME
        print(s.getsockname()[1], s.fileno(), flush=True)
        sys.stdin.read()
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script]
        let out = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardInput = input
        try p.run()
        defer { try? input.fileHandleForWriting.close(); p.waitUntilExit() }
        let words = String(decoding: out.readFirstLine(), as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        let port = try #require(words.first.flatMap { UInt16($0) })
        let fd = try #require(words.dropFirst().first.flatMap { Int($0) })
        let r = try Binary.sockscope(["-tlpn", "--port", "\(port)"])
        #expect(r.status == 0, "\(r.stderrText)")
        let row = try #require(r.stdoutText.split(separator: "\n").first { $0.contains("127.0.0.1:\(port) ") })
        #expect(row.hasSuffix(#"users:(("\",pid=1,fd=3),(",pid=\#(p.processIdentifier),fd=\#(fd)))"#), "\(row)")
    }
}

/// Measured: a socket table that never ends (or is absurdly long) costs bounded memory and
/// ends with one line naming the file. Peak RSS comes from `wait4` of the sockscope process itself
/// (`Binary.runMeasured`); the bound, 64 MiB, is over three times a debug build's whole footprint
/// here (18 MiB) and far below what an unbounded read reached (577 MB after 20 s of /dev/urandom).
@Suite(.requires(.tool("python3"))) struct BoundedMemoryTests {
    static let boundKiB = 64 * 1024

    enum Table: String, CaseIterable {
        /// More lines than any socket table has: 4.6 million short garbage lines (9 MB).
        case lines
        /// A 2 GiB file of NUL bytes (sparse): no newline at all.
        case zeros
        /// `/proc/self/pagemap`: a regular file of hundreds of GiB, mostly NUL bytes.
        case pagemap
        /// `/dev/urandom`: endless, and a device.
        case urandom
    }

    @Test(arguments: Table.allCases) func anEndlessSocketTableEndsInBoundedMemory(table: Table) throws {
        let tree = try HostileProcTests.Tree()
        let path = tree.net + "/tcp"
        let expected: String
        switch table {
        case .lines:
            var text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            text += String(repeating: "x\n", count: 4_600_000)
            try tree.write("tcp", text)
            expected = "cannot read \(path): more than 4000000 lines or 1024000000 bytes; not a socket table"
        case .zeros:
            try? FileManager.default.removeItem(atPath: path)
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try h.truncate(atOffset: 2 << 30)
            try h.close()
            expected = "cannot read \(path): line 1 is longer than 1048576 bytes; not a socket table"
        case .pagemap:
            try tree.link("tcp", to: "/proc/self/pagemap")
            expected = "cannot read \(path): line 1 is longer than 1048576 bytes; not a socket table"
        case .urandom:
            try tree.link("tcp", to: "/dev/urandom")
            expected = "cannot read \(path): not a regular file (a character device)"
        }
        let m = try Binary.runMeasured(Binary.sockscope, ["-t4a", "--source", "proc", "--proc-root", tree.root], timeout: 120)
        #expect(m.result.status == 1, "\(table): status \(m.result.status): \(m.result.stderrText.prefix(300))")
        #expect(m.result.stdout.isEmpty, "\(table): nothing partial on stdout")
        #expect(HostileProcTests.stderrLines(m.result) == ["sockscope: " + expected], "\(table)")
        #expect(m.peakKiB > 0 && m.peakKiB < Self.boundKiB, "\(table): peak RSS \(m.peakKiB) KiB")
    }
}
