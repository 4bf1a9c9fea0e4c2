import Foundation
import SockscopeModel
import TestSupport
import Testing

/// The NDJSON event stream, the summary and port watching, run as a script would.
@Suite struct ScriptingTests {
    struct Event: Decodable {
        struct Socket: Decodable { var proto: String; var state: String; var local: Endpoint; var remote: Endpoint }
        var event: String
        var time: String
        var from: String?
        var via: String?
        var socket: Socket
    }

    func events(_ lines: [String]) -> [Event] { lines.compactMap { try? JSONDecoder().decode(Event.self, from: Data($0.utf8)) } }

    @Test func streamReportsOpenThenCloseForExactlyThatConnection() throws {
        let l = try Loopback.tcpListener("127.0.0.1")
        let port = l.local.port
        let stream = try StreamingProcess(Binary.sockscope, ["-w", "--json", "-t", "--interval", "0.2", "--port", String(port)])
        Thread.sleep(forTimeInterval: 0.5)
        var c: TestSocket? = try Loopback.tcpConnect("127.0.0.1", port)
        var a: TestSocket? = try Loopback.accept(l)
        let client = c!.local, server = a!.local
        func has(_ kind: String, _ e: [Event]) -> Bool {
            e.contains { $0.event == kind && $0.socket.local == client && $0.socket.remote == server }
        }
        #expect(stream.wait(timeout: 10) { has("open", events($0)) }, "open event for \(client)")
        c = nil; a = nil
        #expect(stream.wait(timeout: 10) { has("close", events($0)) }, "close event for \(client)")
        let status = stream.stop()
        #expect(status == 0, "SIGINT ends the stream with status 0")
        let lines = stream.output
        #expect(!lines.isEmpty)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not JSON: \(line)")
        }
        let mine = events(lines).filter { $0.socket.local == client }
        #expect(mine.map(\.event).first == "open" && mine.map(\.event).last == "close")
        #expect(mine.allSatisfy { $0.time.hasSuffix("Z") && $0.time.count == 24 }, "RFC 3339 UTC with milliseconds")
        _ = l
    }

    /// A connection opened and closed between two refreshes: the kernel's destroy notification
    /// reports it (needs CAP_NET_ADMIN; CI runs as root).
    @Test(.requires(.root)) func shortLivedConnectionBetweenRefreshesIsReported() throws {
        try Requirement.root.check()  // destroy notifications need CAP_NET_ADMIN
        let l = try Loopback.tcpListener("127.0.0.1")
        let port = l.local.port
        let stream = try StreamingProcess(Binary.sockscope, ["-w", "--json", "-t", "--interval", "3", "--port", String(port)])
        Thread.sleep(forTimeInterval: 0.5)
        var c: TestSocket? = try Loopback.tcpConnect("127.0.0.1", port)
        var a: TestSocket? = try Loopback.accept(l)
        let client = c!.local
        c = nil; a = nil  // closed well before the next refresh, 3 s later
        let seen = stream.wait(timeout: 8) { lines in
            events(lines).contains { $0.event == "close" && $0.via == "destroy" && $0.socket.local == client }
        }
        #expect(seen, "close via destroy for \(client): \(stream.output)")
        _ = stream.stop()
        _ = l
    }

    @Test func streamEndsQuietlyWhenTheReaderGoesAway() throws {
        let r = try Binary.run("/bin/bash", ["-c", "'\(Binary.sockscope)' -w --json -a --interval 0.1 2>/tmp/sockscope-stream-err-\(getpid()) | head -1 >/dev/null; echo \"${PIPESTATUS[0]}\""], timeout: 20)
        defer { unlink("/tmp/sockscope-stream-err-\(getpid())") }
        #expect(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect((try? String(contentsOfFile: "/tmp/sockscope-stream-err-\(getpid())", encoding: .utf8))?.isEmpty == true)
    }

    @Test func countBoundsTheStream() throws {
        let r = try Binary.sockscope(["-w", "--json", "-a", "--interval", "0.05", "--count", "3"], timeout: 20)
        #expect(r.status == 0)
        #expect(r.stdoutText.split(separator: "\n").allSatisfy { $0.hasPrefix("{\"event\":") })
    }

    /// In a private network namespace nothing else opens sockets, so the two runs see the same table.
    @Test(.requires(.root)) func summaryEqualsCountsFromTheJSONListing() throws {
        try Requirement.root.check()  // unshare -n
        let script = """
        import json, socket, subprocess, sys
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        keep = []
        for host, fam in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
            l = socket.socket(fam); l.bind((host, 0)); l.listen(64); keep.append(l)
            for _ in range(5 if fam == socket.AF_INET else 3):
                c = socket.socket(fam); c.connect(l.getsockname()[:2]); a, _ = l.accept(); keep += [c, a]
        for host, fam in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
            u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((host, 0)); keep.append(u)
        s = subprocess.run([sys.argv[1], "-s", "--json"], capture_output=True, check=True).stdout
        a = subprocess.run([sys.argv[1], "-a", "--json"], capture_output=True, check=True).stdout
        print(json.dumps({"summary": json.loads(s), "listing": json.loads(a)}))
        """
        let r = try Binary.run("/usr/bin/unshare", ["-n", "python3", "-c", script, Binary.sockscope])
        try #require(r.status == 0, "\(r.stderrText)")
        struct Out: Decodable {
            struct Summary: Decodable {
                struct P: Decodable { var proto: String; var family: String; var count: Int }
                struct S: Decodable { var proto: String; var state: String; var count: Int }
                struct L: Decodable { var port: UInt16; var listeners: Int; var established: Int }
                var total: Int; var protocols: [P]; var states: [S]; var top_listening_ports: [L]
            }
            struct Row: Decodable { var proto: String; var family: String; var state: String; var local: Endpoint }
            var summary: Summary
            var listing: [Row]
        }
        let out = try JSONDecoder().decode(Out.self, from: r.stdout)
        let rows = out.listing
        #expect(out.summary.total == rows.count && rows.count == 2 + 16 + 2)
        for p in out.summary.protocols {
            #expect(p.count == rows.filter { $0.proto == p.proto && $0.family == p.family }.count, "\(p.proto)/\(p.family)")
        }
        for s in out.summary.states {
            #expect(s.count == rows.filter { $0.proto == s.proto && $0.state == s.state }.count, "\(s.proto) \(s.state)")
        }
        #expect(out.summary.states.reduce(0) { $0 + $1.count } == rows.count)
        for l in out.summary.top_listening_ports {
            let est = rows.filter { $0.proto == "tcp" && $0.state == "ESTABLISHED" && $0.local.port == l.port }.count
            #expect(l.established == est && l.listeners == 1)
        }
        #expect(Set(out.summary.top_listening_ports.map(\.established)) == [5, 3])
    }

    /// A port nothing listens on: bound once to learn it, then closed.
    func freePort() throws -> UInt16 {
        let probe = try Loopback.tcpListener("127.0.0.1")
        return probe.local.port
    }

    @Test func untilUpExitsZeroSoonAfterAListenerAppears() throws {
        let port = try freePort()
        let started = Date()
        let waiter = try StreamingProcess(Binary.sockscope, ["--until-up", String(port), "--timeout", "15"])
        Thread.sleep(forTimeInterval: 0.6)
        #expect(waiter.isRunning, "the port is down: still waiting")
        let late = try Loopback.tcpListener("127.0.0.1", port: port)
        let deadline = Date().addingTimeInterval(10)
        while waiter.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(!waiter.isRunning && waiter.stop() == 0)
        #expect(Date().timeIntervalSince(started) < 12)
        #expect(waiter.wait(timeout: 2) { $0.last?.contains("\(port) UP tcp 127.0.0.1:\(port)") == true }, "\(waiter.output)")
        _ = late
    }

    @Test func untilUpTimesOutWithStatusOne() throws {
        let port = try freePort()
        let r = try Binary.sockscope(["--until-up", String(port), "--timeout", "0.6"], timeout: 20)
        #expect(r.status == 1)
        #expect(r.stderrText.contains("timed out"), "\(r.stderrText)")
        #expect(r.stdoutText.contains("\(port) DOWN"))
    }

    /// `--until-down`: status 0 once nothing listens on the port any more.
    @Test func untilDownExitsZeroOnceTheListenerCloses() throws {
        var listener: TestSocket? = try Loopback.tcpListener("127.0.0.1")
        let port = listener!.local.port
        let waiter = try StreamingProcess(Binary.sockscope, ["--until-down", String(port), "--timeout", "15"])
        #expect(waiter.wait(timeout: 10) { $0.contains { $0.contains("\(port) UP tcp 127.0.0.1:\(port)") } }, "\(waiter.output)")
        #expect(waiter.isRunning, "the port is up: still waiting")
        listener = nil
        let deadline = Date().addingTimeInterval(10)
        while waiter.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(!waiter.isRunning && waiter.stop() == 0)
        #expect(waiter.wait(timeout: 2) { $0.last?.contains("\(port) DOWN") == true }, "\(waiter.output)")
    }

    /// `--until-up HOST:PORT` waits for that address: a listener on another loopback address does not count.
    @Test func untilUpHostPortWaitsForThatAddress() throws {
        let other = try Loopback.tcpListener("127.0.0.1")
        let port = other.local.port
        let r = try Binary.sockscope(["--until-up", "127.0.0.2:\(port)", "--timeout", "0.6"], timeout: 20)
        #expect(r.status == 1 && r.stderrText.contains("waiting for port 127.0.0.2:\(port) to listen"), "\(r.stderrText)")
        #expect(r.stdoutText.contains(" 127.0.0.2:\(port) DOWN"), "\(r.stdoutText)")
        let up = try Binary.sockscope(["--until-up", "127.0.0.1:\(port)", "--timeout", "5"], timeout: 20)
        #expect(up.status == 0 && up.stdoutText.contains(" 127.0.0.1:\(port) UP tcp 127.0.0.1:\(port)"), "\(up.stdoutText) \(up.stderrText)")
    }
}
