import Foundation
import SockscopeModel
import TestSupport
import Testing

/// Runs the built binary as a user would.
@Suite struct EndToEndTests {
    struct Row: Decodable, Hashable {
        var proto: String, family: String, state: String, inode: UInt64
        var local: Endpoint, remote: Endpoint
        var recv_q: UInt32, send_q: UInt32, uid: UInt32
    }

    func json(_ args: [String]) throws -> [Row] {
        let r = try Binary.sockscope(args + ["--json"])
        #expect(r.status == 0, "\(args): \(r.stderrText)")
        return try JSONDecoder().decode([Row].self, from: r.stdout)
    }

    @Test(arguments: ["netlink", "proc"])
    func jsonListingReportsOwnSocketsExactly(source: String) throws {
        var socks: [TestSocket] = []
        let l = try Loopback.tcpListener("::", dualStack: true)
        socks.append(l)
        let c = try Loopback.tcpConnect("127.0.0.1", l.local.port)
        let a = try Loopback.accept(l)
        socks += [c, a]
        let u = try Loopback.udp("::1")
        socks.append(u)
        let rows = try json(["-a", "--source", source])
        func row(_ s: TestSocket) -> Row? { rows.first { $0.inode == s.inode && $0.proto == s.proto.rawValue } }
        #expect(row(l)?.state == "LISTEN" && row(l)?.local.port == l.local.port && row(l)?.family == "inet6")
        #expect(row(c)?.state == "ESTABLISHED" && row(c)?.family == "inet" && row(c)?.remote == Endpoint(address: IPAddress("127.0.0.1")!, port: l.local.port))
        #expect(row(a)?.local.address.description == "::ffff:127.0.0.1" && row(a)?.remote.port == c.local.port)
        #expect(row(u)?.state == "UNCONN" && row(u)?.local.address.description == "::1")
        let ids = rows.filter { $0.inode != 0 }.map { "\($0.proto)/\($0.inode)" }
        #expect(Set(ids).count == ids.count, "no socket is listed twice")
    }

    @Test(arguments: [["--port", "70000"], ["--state", "no-such-state"], ["--no-such-flag"], ["--sport", "8100-8000"],
                      ["--source", "carrier-pigeon"], ["--port", ""], ["-X"]])
    func badInputIsAUsageErrorWithOneReason(args: [String]) throws {
        let r = try Binary.sockscope(args)
        #expect(r.status == 2, "\(args)")
        #expect(r.stdout.isEmpty)
        let lines = r.stderrText.split(separator: "\n")
        #expect(lines.first?.hasPrefix("sockscope: ") == true, "\(r.stderrText)")
        #expect(r.stderrText.contains("Usage:") || r.stderrText.contains("sockscope <options>") || r.stderrText.contains("USAGE"))
    }

    @Test func helpAndVersionGoToStdout() throws {
        let h = try Binary.sockscope(["--help"])
        #expect(h.status == 0 && h.stdoutText.contains("--port") && h.stderr.isEmpty)
        let v = try Binary.sockscope(["--version"])
        #expect(v.status == 0 && !v.stdoutText.isEmpty)
    }

    /// `sockscope --json | head -1` ends quietly: status 0 and nothing on stderr.
    @Test func closedPipeEndsQuietly() throws {
        var socks: [TestSocket] = []
        let l = try Loopback.tcpListener("127.0.0.1", backlog: 512)
        socks.append(l)
        for _ in 0..<250 { let (c, a) = try Loopback.tcpPair(l); socks += [c, a] }  // > 64 KiB of JSON
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-pipe-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: err) }
        let script = "'\(Binary.sockscope)' -ta --json 2>'\(err)' | head -1 >/dev/null; echo \"${PIPESTATUS[0]}\""
        let r = try Binary.run("/bin/bash", ["-c", script])
        #expect(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect((try? String(contentsOfFile: err, encoding: .utf8)) == "")
        _ = socks
    }

    @Test func writeErrorIsReportedWithStatusOne() throws {
        let r = try Binary.run("/bin/sh", ["-c", "'\(Binary.sockscope)' -ta > /dev/full"])
        #expect(r.status == 1)
        #expect(r.stderrText.contains("write error: No space left on device"), "\(r.stderrText)")
    }

    @Test func unreadableProcFileIsAnErrorNamingIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-e2e-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("net/tcp"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Binary.sockscope(["-ta", "--source", "proc", "--proc-root", dir.path])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty, "no partial table")
        #expect(r.stderrText.contains("\(dir.path)/net/tcp"), "\(r.stderrText)")
    }

    @Test(.requires(.tool("strace"))) func netlinkRefusedFallsBackToProcWithOneNotice() throws {
        try Requirement.tool("strace").check()
        let l = try Loopback.tcpListener("127.0.0.1")
        let r = try Binary.run("/usr/bin/strace", ["-f", "-qq", "-o", "/dev/null", "-e", "trace=socket",
                                                   "-e", "inject=socket:error=EPERM", Binary.sockscope, "-tl", "--json"])
        #expect(r.status == 0, "\(r.stderrText)")
        let notices = r.stderrText.split(separator: "\n")
        #expect(notices.count == 1 && notices[0].contains("reading /proc/net instead"), "\(r.stderrText)")
        let rows = try JSONDecoder().decode([Row].self, from: r.stdout)
        #expect(rows.contains { $0.inode == l.inode && $0.state == "LISTEN" })
        let strict = try Binary.run("/usr/bin/strace", ["-f", "-qq", "-o", "/dev/null", "-e", "trace=socket",
                                                        "-e", "inject=socket:error=EPERM", Binary.sockscope, "-tl", "--source", "netlink"])
        #expect(strict.status == 1 && strict.stdout.isEmpty && strict.stderrText.contains("unavailable"))
    }

    /// The same sockets, compared with `ss -tuna`: this test's own sockets, picked out by their exact
    /// endpoints (port numbers alone can repeat across addresses while other tests run).
    @Test func matchesSSForOwnSockets() throws {
        var socks: [(TestSocket, String)] = []
        let l4 = try Loopback.tcpListener("127.0.0.1"), l6 = try Loopback.tcpListener("::", dualStack: true)
        socks += [(l4, "LISTEN"), (l6, "LISTEN")]
        for l in [l4, l6] {
            for _ in 0..<3 {
                let (c, a) = try Loopback.tcpPair(l, connectTo: "127.0.0.1")
                socks += [(c, "ESTABLISHED"), (a, "ESTABLISHED")]
            }
        }
        let u = try Loopback.udp("127.0.0.1")
        let v = try Loopback.udp("127.0.0.1", connectTo: u.local)
        socks += [(u, "UNCONN"), (v, "ESTABLISHED")]
        func key(_ proto: String, _ state: String, _ la: String, _ lp: UInt16, _ ra: String, _ rp: UInt16) -> String {
            "\(proto) \(state) \(la):\(lp) \(ra):\(rp)"
        }
        let expected = Set(socks.map { s, state -> String in
            let remote = state == "LISTEN" || state == "UNCONN"
                ? Endpoint(address: s.family == .inet ? .anyIPv4 : .anyIPv6, port: 0) : s.remote
            return key(s.proto.rawValue, state, s.local.address.description, s.local.port, remote.address.description, remote.port)
        })
        #expect(expected.count == 16)

        let ss = try Binary.run("/usr/bin/ss", ["-tunaH"])
        var theirs = Set<String>()
        for line in ss.stdoutText.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6 else { continue }
            func split(_ s: Substring) -> (String, UInt16) {
                let i = s.lastIndex(of: ":")!
                var a = String(s[..<i])
                if a.hasPrefix("[") { a = String(a.dropFirst().dropLast()) }
                if let pct = a.firstIndex(of: "%") { a = String(a[..<pct]) }
                // ss prints a dual-stack (AF_INET6, IPV6_V6ONLY off) wildcard as `*`: it is `::`.
                return (a == "*" ? "::" : a, UInt16(s[s.index(after: i)...]) ?? 0)
            }
            let (la, lp) = split(f[4]), (ra, rp) = split(f[5])
            let state = ["ESTAB": "ESTABLISHED", "LISTEN": "LISTEN", "UNCONN": "UNCONN"][String(f[1])] ?? String(f[1])
            theirs.insert(key(String(f[0]), state, la, lp, ra, rp))
        }
        let ours = Set(try json(["-tua"]).map {
            key($0.proto, $0.state, $0.local.address.description, $0.local.port, $0.remote.address.description, $0.remote.port)
        })
        #expect(ours.intersection(expected) == expected, "missing from sockscope: \(expected.subtracting(ours))")
        #expect(theirs.intersection(expected) == expected, "missing from ss: \(expected.subtracting(theirs))")
        _ = socks
    }

    @Test func manPageDocumentsEveryOptionAndRendersCleanly() throws {
        let man = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("man/sockscope.1")
        let text = try String(contentsOf: man, encoding: .utf8).replacingOccurrences(of: "\\-", with: "-")
        let help = try Binary.sockscope(["--help"]).stdoutText
        let options = Set(help.split(whereSeparator: { " ,<>=\n[]():;.'".contains($0) })
            .filter { $0.hasPrefix("--") && $0.count > 2 }.map(String.init))
        #expect(options.count >= 15, "\(options)")
        for o in options {
            #expect(text.contains(o), "man page does not mention \(o)")
        }
        let groff = try Binary.run("/usr/bin/groff", ["-man", "-ww", "-z", man.path])
        #expect(groff.status == 0 && groff.stderr.isEmpty, "\(groff.stderrText)")
    }
}
