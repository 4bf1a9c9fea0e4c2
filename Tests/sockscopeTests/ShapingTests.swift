import Foundation
import SockscopeModel
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `--sort`, `--limit`, `--format csv`, the notices for a missing pid or proc root, and the
/// per-process DOT graph, on real loopback sockets and real child processes.
@Suite struct ShapingTests {
    func rows(_ args: [String]) throws -> [[String: Any]] {
        let r = try Binary.sockscope(args)
        try #require(r.status == 0, "exit \(r.status): \(r.stderrText)")
        return try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
    }

    /// Three accepted connections holding 10, 300 and 20 unread bytes: `--sort=-recv-q --limit 2`
    /// gives the 300 and the 20, in that order; `--sort port` orders by local port.
    @Test func sortAndLimit() throws {
        let l = try Loopback.tcpListener("127.0.0.1")
        var keep: [TestSocket] = []
        for n in [10, 300, 20] {
            let (c, s) = try Loopback.tcpPair(l)
            try Loopback.send(c, Array(repeating: 0x61, count: n))
            keep += [c, s]
        }
        let port = String(l.local.port)
        // Data sent on loopback is queued at once, but poll rather than assume.
        var top: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(10)
        repeat {
            top = try rows(["-t", "--json", "--sport", port, "--sort=-recv-q", "--limit", "2"])
        } while top.map({ $0["recv_q"] as? Int ?? -1 }) != [300, 20] && Date() < deadline
        #expect(top.map { $0["recv_q"] as? Int ?? -1 } == [300, 20], "\(top)")

        let byPort = try rows(["-ta", "--json", "--port", port, "--sort", "port,state"])
        let ports = byPort.map { ($0["local"] as? [String: Any])?["port"] as? Int ?? -1 }
        #expect(ports == ports.sorted() && byPort.count == 7, "\(byPort)")
        let descending = try rows(["-ta", "--json", "--port", port, "--sort=-port"])
        #expect(descending.map { ($0["local"] as? [String: Any])?["port"] as? Int ?? -1 } == ports.sorted(by: >))

        // rtt and owner are read for sorting only: the output does not grow keys not asked for.
        let rtt = try rows(["-ta", "--json", "--port", port, "--sort", "rtt,owner", "--limit", "3"])
        #expect(rtt.count == 3 && rtt.allSatisfy { $0["tcp_info"] == nil && $0["processes"] == nil }, "\(rtt)")
        let owned = try rows(["-ta", "--json", "--port", port, "--sort", "owner", "-p"])
        #expect(owned.first.flatMap { ($0["processes"] as? [[String: Any]])?.first?["pid"] as? Int } == Int(getpid()))

        // The table takes them too, header first.
        let table = try Binary.sockscope(["-t", "--sport", port, "--sort=-recv-q", "--limit", "1"])
        let lines = table.stdoutText.split(separator: "\n")
        #expect(table.status == 0 && lines.count == 2 && lines[0].hasPrefix("State") && lines[1].contains(" 300 "), "\(table.stdoutText)")

        for bad in [["--sort", "nope"], ["--limit", "0"], ["--limit", "x"], ["-s", "--sort", "state"], ["--map", "--limit", "3"],
                    ["--format", "csv", "--listeners"], ["--format", "dot"], ["--json", "--format", "csv"]] {
            let r = try Binary.sockscope(bad)
            #expect(r.status == 2 && r.stdout.isEmpty && r.stderrText.hasPrefix("sockscope: "), "\(bad): \(r.stderrText)")
        }
    }

    /// CSV per RFC 4180 read back by Python's csv module: every record has the header's fields, and
    /// a child process named with a quote, a comma, a newline and an escape keeps one field,
    /// terminal-safe.
    @Test func csvSurvivesHostileNames() throws {
        let name = "a\"b,c\nd\u{1B}["
        let child = try MapChild(name: name, arguments: ["server"])
        defer { child.stop() }
        let r = try Binary.sockscope(["-tl", "--format", "csv", "-p", "-e", "--sport", String(child.port)])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stdoutText.hasSuffix("\r\n") && !r.stdout.contains(0x1B))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-csv-\(getpid()).csv")
        defer { try? FileManager.default.removeItem(at: file) }
        try r.stdout.write(to: file)
        let parsed = try Binary.run("/bin/sh", ["-c", """
            exec python3 -c 'import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline="")))))' "$0"
            """, file.path])
        let table = try #require(try JSONSerialization.jsonObject(with: parsed.stdout) as? [[String]], "\(parsed.stderrText)")
        try #require(table.count == 2, "\(table)")
        let header = table[0]
        #expect(header.starts(with: ["proto", "family", "state", "local_address", "local_port"]))
        #expect(table.allSatisfy { $0.count == header.count })
        let row = Dictionary(uniqueKeysWithValues: zip(header, table[1]))
        #expect(row["state"] == "LISTEN" && row["local_port"] == String(child.port) && row["pid"] == String(child.pid))
        #expect(row["process"] == #"a"b,c\x0ad\x1b["#, "\(row)")
        #expect(row["backlog"] == "16" && row["send_q"] == "16" && row["owners"] == "1")
        #expect(Int(row["cookie"] ?? "") != nil)

        // -H: no header; /proc: no backlog.
        let plain = try Binary.sockscope(["-tl", "--format", "csv", "-H", "--source", "proc", "--sport", String(child.port)])
        #expect(plain.stdoutText.split(separator: "\r\n").count == 1 && plain.stdoutText.hasPrefix("tcp,inet,LISTEN,127.0.0.1,"))
        #expect(plain.stdoutText.contains(",0.0.0.0,0,0,0,,"), "recv_q 0, send_q 0, backlog empty: \(plain.stdoutText)")
    }

    @Test func missingPidIsANoticeAndMissingProcRootAnError() throws {
        // A pid above pid_max cannot exist.
        let r = try Binary.sockscope(["-ta", "--pid", "2147483647"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stderrText.contains("no process with pid 2147483647"), "\(r.stderrText)")
        #expect(r.stdoutText.split(separator: "\n").count == 1, "the header only: \(r.stdoutText)")
        let json = try Binary.sockscope(["-ta", "--pid", "2147483647", "--json"])
        #expect(json.status == 0 && json.stdoutText == "[]\n" && json.stderrText.contains("no process"))
        let mine = try Binary.sockscope(["-ta", "--pid", String(getpid())])
        #expect(mine.status == 0 && !mine.stderrText.contains("no process"))

        let missing = "/nonexistent-proc-\(getpid())"
        let m = try Binary.sockscope(["-ta", "--proc-root", missing])
        #expect(m.status == 1 && m.stdout.isEmpty, "\(m.stdoutText)")
        #expect(m.stderrText.contains("--proc-root '\(missing)'") && m.stderrText.contains("No such file or directory"),
                "\(m.stderrText)")
    }

    /// Two client processes of one name talking to one server: three process nodes in the DOT
    /// graph (rendered by Graphviz, nodes counted in the SVG), where the table and JSON group the
    /// clients by name.
    @Test(.requires(DotCheck.dot)) func dotHasOneNodePerProcess() throws {
        let tag = String(UInt32.random(in: 0..<0xFFFFFF), radix: 16)
        let server = try MapChild(name: "sscD\(tag)", arguments: ["server"])
        defer { server.stop() }
        let a = try MapChild(name: "sscP\(tag)", arguments: ["client", String(server.port), "2"])
        defer { a.stop() }
        let b = try MapChild(name: "sscP\(tag)", arguments: ["client", String(server.port), "1"])
        defer { b.stop() }
        let port = String(server.port)

        let dot = try Binary.sockscope(["--map", "--format", "dot", "-i", "--port", port])
        #expect(dot.status == 0, "\(dot.stderrText)")
        let text = dot.stdoutText
        #expect(text.contains("sscP\(tag)\\npid \(a.pid)\"") && text.contains("sscP\(tag)\\npid \(b.pid)\""), "\(text)")
        #expect(text.contains("2 connections") && text.contains("1 connection\\n") && text.contains("→ ") && text.contains("← "),
                "\(text)")
        let svg = try DotCheck.parses(Array(dot.stdout))
        #expect(svg.components(separatedBy: "class=\"node\"").count - 1 == 3, "\(svg)")
        #expect(svg.components(separatedBy: "class=\"edge\"").count - 1 == 2)

        let json = try Binary.sockscope(["--map", "--json", "--port", port])
        let edges = try #require((try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])?["edges"] as? [[String: Any]])
        #expect(edges.count == 1 && edges.first?["connections"] as? Int == 3, "JSON groups by name: \(edges)")
    }
}
