import Foundation
import SockscopeModel
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The filter language end to end: the command line, -F, --src/--dst, and sockscope against ss.
@Suite struct FilterLanguageTests {
    struct Row: Decodable { var state: String; var local: Endpoint; var remote: Endpoint; var inode: UInt64 }

    /// Runs sockscope with stdout into a file, so that all of it is read however loaded the machine is.
    func rows(_ args: [String], stdin: FileHandle? = nil, via program: String? = nil) throws -> (RunResult, [Row]) {
        let path = NSTemporaryDirectory() + "sockscope-filter-out-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer { unlink(path) }
        let r = try Binary.run(program ?? Binary.sockscope, args, stdin: stdin, stdoutTo: out)
        try out.close()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return (r, r.status == 0 ? try JSONDecoder().decode([Row].self, from: data) : [])
    }

    @Test func positionalExpressionSelectsExactlyTheMatchingConnection() throws {
        let l = try Loopback.tcpListener("127.0.0.1")
        let c = try Loopback.tcpConnect("127.0.0.1", l.local.port)
        let a = try Loopback.accept(l)
        let port = l.local.port
        let (r, got) = try rows(["-tn", "--json", "state", "established", "(", "dport", "=", ":\(port)", "or", "sport", "=", ":\(port)", ")"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(Set(got.map(\.local)) == [c.local, a.local], "both ends of the pair, nothing else")
        // Parentheses attached to words, as people type them.
        let (_, attached) = try rows(["-tn", "--json", "(dport = :\(port) or sport = :\(port))"])
        #expect(Set(attached.map(\.local)) == [c.local, a.local])
        let (_, dst) = try rows(["-t", "--json", "dst", "127.0.0.1:\(port)"])
        #expect(dst.map(\.local) == [c.local])
        let (_, opt) = try rows(["-t", "--json", "--dst", "127.0.0.1:\(port)", "--src", "127.0.0.1"])
        #expect(opt.map(\.local) == [c.local])
        let (_, none) = try rows(["-t", "--json", "--dst", "127.0.0.1:\(port)", "sport", "=", ":\(port)"])
        #expect(none.isEmpty, "options and expression are joined with and")
        let (_, listening) = try rows(["-t", "--json", "state", "listening", "sport", "=", ":\(port)"])
        #expect(listening.map(\.state) == ["LISTEN"], "states in the expression replace the default")
        _ = (c, a)
    }

    @Test func filterFileAndStandardInput() throws {
        let l = try Loopback.tcpListener("127.0.0.1")
        let port = l.local.port
        let path = NSTemporaryDirectory() + "sockscope-filter-\(getpid()).txt"
        try "# listeners on our port\nstate listening\nsport = :\(port) # this one\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let (r, got) = try rows(["-t", "--json", "-F", path])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(got.map(\.local) == [l.local])
        let (_, fromStdin) = try rows(["-t", "--json", "-F", "-"], stdin: FileHandle(forReadingAtPath: path))
        #expect(fromStdin.map(\.local) == [l.local])
        let missing = try Binary.run(Binary.sockscope, ["-t", "-F", "/nonexistent/filter"])
        #expect(missing.status == 2 && missing.stderrText.hasPrefix("sockscope: filter: cannot read /nonexistent/filter"))
    }

    @Test func badExpressionIsOneLineAndStatusTwo() throws {
        let r = try Binary.run(Binary.sockscope, ["-t", "sport", "=", "foo"])
        #expect(r.status == 2)
        #expect(r.stderrText == "sockscope: filter: expected a port after 'sport =' (word 3: 'foo')\n")
        #expect(r.stdout.isEmpty)
        let ambiguous = try Binary.run(Binary.sockscope, ["-t", "--json", "sport", "=", ":1", "or", "sport", "=", ":2", "and", "sport", "=", ":3"])
        #expect(ambiguous.status == 0)
        #expect(ambiguous.stderrText.split(separator: "\n").count == 1, "one notice: \(ambiguous.stderrText)")
        #expect(ambiguous.stderrText.contains("ss itself reads and/or left to right"))
    }

    @Test func everyModeTakesTheExpression() throws {
        let l = try Loopback.tcpListener("127.0.0.1")
        let port = l.local.port
        let summary = try Binary.run(Binary.sockscope, ["-t", "-s", "--json", "state", "listening", "sport", "=", ":\(port)"])
        #expect(summary.status == 0, "\(summary.stderrText)")
        let listeners = try Binary.run(Binary.sockscope, ["--listeners", "--format", "json", "sport", "=", ":\(port)"])
        #expect(listeners.status == 0 && listeners.stdoutText.contains("\(port)"), "\(listeners.stderrText)")
        let other = try Binary.run(Binary.sockscope, ["--listeners", "--format", "json", "sport", "=", ":\(port &+ 1)"])
        #expect(other.status == 0 && !other.stdoutText.contains("\"port\":\(port)"), "the expression narrows --listeners")
    }

    /// Without CAP_NET_ADMIN the kernel refuses INET_DIAG_BC_MARK_COND (EPERM) and hides marks:
    /// the request is retried without it, and since no mark can be judged, the run fails loudly
    /// instead of listing sockets as if unmarked. Other rules still run in the kernel.
    @Test(.requires(.root, .tool("setpriv", package: "util-linux")))
    func fwmarkWithoutNetAdminFailsLoudlyAndOtherRulesStillWork() throws {
        let setpriv = try Requirement.tool("setpriv", package: "util-linux").path()
        let l = try Loopback.tcpListener("127.0.0.1")
        let r = try Binary.run(setpriv, ["--bounding-set=-net_admin", Binary.sockscope, "-ta", "fwmark", "=", "0x15"])
        #expect(r.status == 1)
        #expect(r.stderrText.contains("CAP_NET_ADMIN"), "\(r.stderrText)")
        let (okAgain, listed) = try rows(["--bounding-set=-net_admin", Binary.sockscope, "-ta", "--json", "sport", "=", ":\(l.local.port)"],
                                         via: setpriv)
        #expect(okAgain.status == 0)
        #expect(listed.map(\.local) == [l.local])
    }

    /// Hundreds of random expressions through `ss -tanHe` and `sockscope -tan --json` on the same
    /// sockets in a private network namespace, compared by inode set.
    @Test(.requires(.root, .tool("ss", package: "iproute2"), .tool("unshare", package: "util-linux"),
                    .tool("python3"), .tool("ip", package: "iproute2")))
    func agreesWithSsOnRandomExpressions() throws {
        for r in [Requirement.root, .tool("ss", package: "iproute2"), .tool("unshare", package: "util-linux"), .tool("python3")] {
            try r.check()
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("filter_differential.py").path
        let count = 400
        let r = try Binary.run(try Requirement.tool("unshare", package: "util-linux").path(),
                               ["-n", try Requirement.tool("python3").path(), script, Binary.sockscope, String(count), "12"],
                               timeout: 900)
        struct Report: Decodable {
            var expressions: Int; var compared: Int; var nonempty: Int; var cgroup: Bool
            var mismatches: [[String: AnyDecodable]]
        }
        let last = r.stdoutText.split(separator: "\n").last.map(String.init) ?? ""
        let report = try #require(try? JSONDecoder().decode(Report.self, from: Data(last.utf8)),
                                  "the differential driver gave no report (exit \(r.status)): \(r.stderrText.suffix(2000))")
        #expect(report.expressions == count && report.compared == count)
        #expect(report.mismatches.isEmpty, "\(r.stdoutText)")
        #expect(report.nonempty > count / 4, "most expressions select something: \(report.nonempty)")
        #expect(r.status == 0, "\(r.stderrText)")
    }
}

/// Any JSON value, kept only to be printed in a failure.
struct AnyDecodable: Decodable, CustomStringConvertible {
    var description: String
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { description = s } else if let a = try? c.decode([Int].self) {
            description = "\(a)"
        } else { description = "…" }
    }
}
