import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// `-D FILE` records the netlink replies a listing was read from; `--from-dump FILE` reads such a
/// file (or one `ss -D` wrote) instead of the kernel.
@Suite(.serialized) struct DumpFileTests {
    static func temporary(_ name: String) -> String {
        NSTemporaryDirectory() + "sockscope-dump-\(getpid())-\(name)"
    }

    /// The sockets in a dump file: inet_diag replies (type 18 or 20), walked by their headers.
    static func messageCount(_ data: Data) -> Int {
        let b = [UInt8](data)
        var off = 0, n = 0
        while off + 16 <= b.count {
            let len = Int(b[off]) | Int(b[off + 1]) << 8 | Int(b[off + 2]) << 16 | Int(b[off + 3]) << 24
            let type = Int(b[off + 4]) | Int(b[off + 5]) << 8
            if type == 18 || type == 20 { n += 1 }
            guard len >= 16 else { break }
            off += (len + 3) & ~3
        }
        return n
    }

    @Test func dumpThenReplayEqualsTheLiveListing() throws {
        let listener = try Loopback.tcpListener()
        let (client, server) = try Loopback.tcpPair(listener)
        let udp = try Loopback.udp()
        let v6 = try Loopback.tcpListener("::1")
        let file = Self.temporary("own")
        defer { unlink(file) }
        for args in [["-tuan"], ["-tuanio"], ["-tuanm", "--json"], ["-tuaie", "--json"]] {
            let live = try Binary.sockscope(args + ["-D", file])
            #expect(live.status == 0, "\(live.stderrText)")
            for port in [listener.local.port, udp.local.port, v6.local.port] {
                #expect(live.stdoutText.contains(String(port)), "\(args): port \(port) listed live")
            }
            let replay = try Binary.sockscope(args + ["--from-dump", file])
            #expect(replay.status == 0, "\(replay.stderrText)")
            #expect(replay.stdoutText == live.stdoutText, "\(args)")
            #expect(Self.messageCount(try Data(contentsOf: URL(fileURLWithPath: file)))
                    == live.stdoutText.split(separator: "\n").filter { $0.hasPrefix("{") || $0.hasPrefix("tcp") || $0.hasPrefix("udp") }.count,
                    "\(args): one reply per listed socket")
        }
        // A query narrows the replay as it narrows the kernel's dump.
        let narrowed = try Binary.sockscope(["-tnH", "--from-dump", file, "--sport", String(listener.local.port)])
        #expect(narrowed.stdoutText.split(separator: "\n").count == 1 && narrowed.stdoutText.contains("ESTAB"), "\(narrowed.stdoutText)")
        // "-D -" writes the dump itself to standard output.
        let raw = try Binary.sockscope(["-tuan", "-D", "-"])
        #expect(raw.status == 0 && Self.messageCount(raw.stdout) > 0)
        withExtendedLifetime((listener, client, server, udp, v6)) {}
    }

    /// ss writes one section per address family (each ended by NLMSG_DONE); every section is read.
    @Test(.requires(.tool("ss", package: "iproute2"))) func ssDumpIsReadCompletely() throws {
        let ss = try Requirement.tool("ss", package: "iproute2").path()
        let v4 = try Loopback.tcpListener()
        let v6 = try Loopback.tcpListener("::1")
        let (c6, s6) = try Loopback.tcpPair(v6)
        let file = Self.temporary("ss")
        defer { unlink(file) }
        let dumped = try Binary.run(ss, ["-ntaD", file])
        #expect(dumped.status == 0, "\(dumped.stderrText)")
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let r = try Binary.sockscope(["-tanH", "--from-dump", file])
        #expect(r.status == 0, "\(r.stderrText)")
        let rows = r.stdoutText.split(separator: "\n")
        #expect(rows.count == Self.messageCount(data), "every socket of every section")
        #expect(rows.contains { $0.contains("127.0.0.1:\(v4.local.port)") && $0.hasPrefix("LISTEN") })
        #expect(rows.contains { $0.contains("[::1]:\(v6.local.port)") && $0.hasPrefix("LISTEN") }, "the IPv6 section is read too")
        #expect(rows.filter { $0.contains("[::1]:\(v6.local.port)") && $0.hasPrefix("ESTAB") }.count == 2)
        withExtendedLifetime((v4, v6, c6, s6)) {}
    }

    /// A cut or corrupted file is an error with nothing on standard output, wherever it is cut.
    @Test(.requires(.tool("ss", package: "iproute2"))) func truncatedOrGarbageDumpIsAnError() throws {
        let ss = try Requirement.tool("ss", package: "iproute2").path()
        let v4 = try Loopback.tcpListener()
        let file = Self.temporary("whole"), cut = Self.temporary("cut")
        defer { unlink(file); unlink(cut) }
        #expect(try Binary.run(ss, ["-ntaD", file]).status == 0)
        let whole = try Data(contentsOf: URL(fileURLWithPath: file))
        try #require(whole.count > 40)
        for n in Array(stride(from: 1, to: whole.count, by: max(1, whole.count / 40))) + [whole.count - 1] {
            try whole.prefix(n).write(to: URL(fileURLWithPath: cut))
            let r = try Binary.sockscope(["-tan", "--from-dump", cut])
            #expect(r.status == 1 && r.stdout.isEmpty, "cut at \(n) of \(whole.count): \(r.stdoutText)")
            #expect(r.stderrText.hasPrefix("sockscope: --from-dump ") && r.stderrText.split(separator: "\n").count == 1, "\(r.stderrText)")
        }
        var garbage = [UInt8](repeating: 0, count: 4096)
        for i in garbage.indices { garbage[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 7) }
        try Data(garbage).write(to: URL(fileURLWithPath: cut))
        let g = try Binary.sockscope(["-tan", "--from-dump", cut])
        #expect(g.status == 1 && g.stdout.isEmpty, "\(g.stderrText)")
        try Data().write(to: URL(fileURLWithPath: cut))
        #expect(try Binary.sockscope(["--from-dump", cut]).status == 1)
        // Combinations that cannot mean anything are usage errors.
        #expect(try Binary.sockscope(["-p", "--from-dump", file]).status == 2)
        #expect(try Binary.sockscope(["-s", "--from-dump", file]).status == 2)
        #expect(try Binary.sockscope(["-D", file, "--from-dump", file]).status == 2)
        withExtendedLifetime(v4) {}
    }
}

/// Dump files hold inet_diag dumps only: a table they cannot hold is refused up front, not
/// written as an empty file that reads back as "empty".
@Suite struct DumpFileTablesTests {
    @Test(arguments: [["-x", "-D", "out.nl"], ["-0", "-D", "out.nl"], ["--netlink", "-D", "out.nl"], ["--raw", "-D", "out.nl"],
                      ["-A", "unix,inet", "-D", "out.nl"], ["-x", "--from-dump", "out.nl"]])
    func otherTablesAreRefused(args: [String]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-dump-tables-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Binary.sockscope(args.map { $0 == "out.nl" ? dir.appendingPathComponent("out.nl").path : $0 })
        #expect(r.status == 2 && r.stdout.isEmpty, "\(args): \(r.stderrText)")
        #expect(r.stderrText.contains("UNIX, raw, packet and netlink tables are not in dump files"), "\(r.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.nl").path), "no file is written")
    }
}

/// `--from-dump` of files that never end or are absurdly large: one line, nothing on stdout, and
/// bounded memory (peak RSS from `wait4` of the process; see `BoundedMemoryTests`).
@Suite(.requires(.tool("python3"))) struct EndlessDumpFileTests {
    @Test(arguments: ["sparse", "/dev/zero", "/dev/urandom", "fifo"]) func anEndlessDumpIsRefusedInBoundedMemory(kind: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-endless-dump-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/dump"
        let expected: String
        switch kind {
        case "sparse":
            // 2 GiB of NUL bytes, past the 1 GiB a dump may have: it was read to that limit first
            // (1 GiB resident, minutes in a debug build) before the error.
            #expect(FileManager.default.createFile(atPath: file, contents: nil))
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            try h.truncate(atOffset: 2 << 30)
            try h.close()
            expected = "read \(file): longer than 1073741824 bytes"
        case "fifo":
            #expect(mkfifo(file, 0o600) == 0)
            expected = "open \(file): not a regular file (a FIFO)"
        default:
            try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: kind)
            expected = "open \(file): not a regular file (a character device)"
        }
        let m = try Binary.runMeasured(Binary.sockscope, ["-tan", "--from-dump", file], timeout: 60)
        #expect(m.result.status == 1, "\(kind): \(m.result.status) \(m.result.stderrText.prefix(300))")
        #expect(m.result.stdout.isEmpty)
        #expect(m.result.stderrText == "sockscope: --from-dump: \(expected)\n", "\(kind)")
        #expect(m.peakKiB > 0 && m.peakKiB < BoundedMemoryTests.boundKiB, "\(kind): peak RSS \(m.peakKiB) KiB")
    }
}
