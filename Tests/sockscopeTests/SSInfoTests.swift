import Foundation
import Glibc
import TestSupport
import Testing

/// `-i` and `-o` against `ss` itself, on the same sockets: the same fields, in the same order,
/// with the same text.
@Suite(.serialized) struct SSInfoTests {
    static let ss = Requirement.tool("ss", package: "iproute2")

    /// The `-i` line split into fields: `key:value`, or `key value` for ss's spaced rates.
    static func fields(_ line: Substring) -> [(key: String, value: String)] {
        var out: [(String, String)] = []
        var words = line.split(separator: " ").map(String.init)[...]
        while let w = words.popFirst() {
            if ["send", "pacing_rate", "delivery_rate"].contains(w), let v = words.popFirst() {
                out.append((w, v))
            } else if let colon = w.firstIndex(of: ":") {
                out.append((String(w[..<colon]), String(w[w.index(after: colon)...])))
            } else {
                out.append((w, ""))
            }
        }
        return out
    }

    /// The info line of the only socket listed (`-H`: no header), and that row.
    static func rowAndInfo(_ text: String) throws -> (row: String, info: Substring) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        try #require(lines.count == 2, "expected one socket and its info line: \(text)")
        try #require(lines[1].hasPrefix("\t"), "the info line starts with a tab: \(text)")
        return (String(lines[0]), lines[1].dropFirst())
    }

    /// Fields whose value moves between two runs: not compared. Their presence moves too: ss
    /// and sockscope leave out `lastsnd:0` and the like, and a run in the same millisecond as
    /// the last send sees 0 where the other run sees 60.
    static let moving: Set<String> = ["lastsnd", "lastrcv", "lastack", "busy", "rwnd_limited", "sndbuf_limited"]
    /// Fields newer ss releases print (when the kernel reports them) and the installed one may not.
    static let newer: Set<String> = ["rcv_wnd", "rehash", "usec_ts"]

    func compare(port: UInt16, local: Bool, extra: [String]) throws {
        let ssPath = try Self.ss.path()
        let side = local ? "sport" : "dport"
        let theirs = try Binary.run(ssPath, ["-tiH"] + extra + ["\(side) = :\(port)"])
        let ours = try Binary.sockscope(["-tiH"] + extra + ["--\(side)", String(port)])
        #expect(ours.status == 0, "\(ours.stderrText)")
        let (_, a) = try Self.rowAndInfo(theirs.stdoutText)
        let (_, b) = try Self.rowAndInfo(ours.stdoutText)
        let fa = Self.fields(a).filter { !Self.moving.contains($0.key) }
        let fb = Self.fields(b).filter { f in !Self.moving.contains(f.key) && (!Self.newer.contains(f.key) || fa.contains { $0.key == f.key }) }
        #expect(fa.map(\.key) == fb.map(\.key), "ss: \(a)\nsockscope: \(b)")
        for (x, y) in zip(fa, fb) where x.key == y.key && !Self.moving.contains(x.key) {
            #expect(x.value == y.value, "\(x.key): ss \(x.value), sockscope \(y.value)\nss: \(a)\nsockscope: \(b)")
        }
        // Our extra fields are only those a newer ss prints.
        #expect(Self.fields(b).allSatisfy { f in fa.contains { $0.key == f.key } || Self.newer.contains(f.key) || Self.moving.contains(f.key) },
                "\(b)")
    }

    @Test(.requires(ss)) func infoLineMatchesSSFieldByField() throws {
        let listener = try Loopback.tcpListener()
        let (client, server) = try Loopback.tcpPair(listener)
        try Loopback.send(client, [UInt8](repeating: 7, count: 200_000))
        _ = try Loopback.receive(server, count: 200_000)
        try Loopback.send(server, [UInt8](repeating: 1, count: 3_000))
        _ = try Loopback.receive(client, count: 3_000)
        for extra in [[], ["-n"], ["-o"], ["-no"]] {
            try compare(port: listener.local.port, local: true, extra: extra)   // the accepted side
            try compare(port: listener.local.port, local: false, extra: extra)  // the connecting side
        }
        withExtendedLifetime((listener, client, server)) {}
    }

    @Test(.requires(ss)) func jsonCarriesEveryFieldWithItsUnit() throws {
        let listener = try Loopback.tcpListener()
        let (client, server) = try Loopback.tcpPair(listener)
        try Loopback.send(client, [UInt8](repeating: 7, count: 50_000))
        _ = try Loopback.receive(server, count: 50_000)
        let r = try Binary.sockscope(["-ti", "--json", "--dport", String(listener.local.port)])
        let rows = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
        let info = try #require(rows.first?["tcp_info"] as? [String: Any])
        for key in ["rtt_us", "rto_us", "ato_us", "pmtu", "rcv_mss", "advmss", "snd_wscale", "rcv_wscale", "options",
                    "segs_out", "segs_in", "data_segs_out", "bytes_sent", "bytes_acked", "delivered", "rcv_space",
                    "rcv_ssthresh", "snd_wnd", "last_ack_ms", "busy_time_us", "app_limited", "reordering"] {
            #expect(info[key] != nil, "tcp_info.\(key) missing: \(info.keys.sorted())")
        }
        #expect(info["bytes_acked"] as? Int == 50_001)
        #expect((info["options"] as? Int).map { $0 & 4 != 0 } == true, "window scaling is negotiated on loopback")
        withExtendedLifetime((listener, client, server)) {}
    }
}

/// `-o`: the kernel's timer per socket, shown as ss shows it.
@Suite(.serialized) struct TimerTests {
    static func timer(_ args: [String]) throws -> (text: String, json: [String: Any]?) {
        let text = try Binary.sockscope(["-toH"] + args)
        #expect(text.status == 0, "\(text.stderrText)")
        let json = try Binary.sockscope(["-to", "--json"] + args)
        let rows = try JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]]
        return (text.stdoutText, rows?.first?["timer"] as? [String: Any])
    }

    @Test func keepaliveTimer() throws {
        let listener = try Loopback.tcpListener()
        let (client, server) = try Loopback.tcpPair(listener)
        var one: Int32 = 1, idle: Int32 = 7200
        setsockopt(client.fd, SOL_SOCKET, SO_KEEPALIVE, &one, 4)
        setsockopt(client.fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, 4)
        let (text, json) = try Self.timer(["--dport", String(listener.local.port)])
        #expect(text.contains(" timer:(keepalive,119min,0)") || text.contains(" timer:(keepalive,120min,0)"), "\(text)")
        #expect(json?["kind"] as? String == "keepalive")
        #expect((json?["expires_ms"] as? Int).map { $0 > 7_000_000 && $0 <= 7_200_000 } == true, "\(String(describing: json))")
        #expect(json?["retransmits"] as? Int == 0)
        // The server side has no timer armed: no timer key, nothing in the row.
        let (serverText, serverJSON) = try Self.timer(["--sport", String(listener.local.port), "--state", "established"])
        #expect(!serverText.contains("timer:") && serverJSON == nil, "\(serverText)")
        withExtendedLifetime((listener, client, server)) {}
    }

    @Test func timeWaitTimer() throws {
        let listener = try Loopback.tcpListener()
        var (client, server): (TestSocket?, TestSocket?) = try Loopback.tcpPair(listener)
        let port = client!.local.port
        // The side that closes first keeps the TIME_WAIT. (Closed by releasing the TestSocket, which
        // closes its descriptor once: a second close() could hit a descriptor another test reused.)
        client = nil
        var buf = [UInt8](repeating: 0, count: 1)
        _ = recv(server!.fd, &buf, 1, 0)
        server = nil
        let deadline = Date().addingTimeInterval(10)
        var text = "", json: [String: Any]?
        while Date() < deadline {
            (text, json) = try Self.timer(["--state", "time-wait", "--sport", String(port)])
            if text.contains("TIME-WAIT") { break }
            usleep(20_000)
        }
        let row = try #require(text.split(separator: "\n").first, "no TIME-WAIT socket")
        #expect(row.contains(" timer:(timewait,") && row.hasSuffix(",0)"), "\(row)")
        #expect(row.contains("sec,0)"), "a fresh TIME_WAIT has under a minute left: \(row)")
        #expect(json?["kind"] as? String == "timewait")
        #expect((json?["expires_ms"] as? Int).map { $0 <= 60_000 } == true)
        withExtendedLifetime(listener) {}
    }

    /// A peer that stopped reading: the window closes, data stays unacknowledged, and the sender
    /// probes the zero window (persist) or waits to retransmit (on).
    @Test func unackedDataToAPeerThatStoppedReading() throws {
        let listener = try Loopback.tcpListener()
        let (client, server) = try Loopback.tcpPair(listener)
        var small: Int32 = 4096
        setsockopt(server.fd, SOL_SOCKET, SO_RCVBUF, &small, 4)
        let flags = fcntl(client.fd, F_GETFL)
        _ = fcntl(client.fd, F_SETFL, flags | O_NONBLOCK)
        let chunk = [UInt8](repeating: 9, count: 65_536)
        var sent = 0
        for _ in 0..<2_000 {
            let n = chunk.withUnsafeBytes { Glibc.send(client.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            sent += n
        }
        #expect(sent > 0)
        let deadline = Date().addingTimeInterval(10)
        var text = "", json: [String: Any]?
        while Date() < deadline {
            (text, json) = try Self.timer(["--dport", String(listener.local.port)])
            if let k = json?["kind"] as? String, k == "persist" || k == "on" { break }
            usleep(50_000)
        }
        let kind = try #require(json?["kind"] as? String, "no timer on a sender with unacknowledged data: \(text)")
        #expect(kind == "persist" || kind == "on", "\(text)")
        #expect(text.contains(" timer:(\(kind),"), "\(text)")
        withExtendedLifetime((listener, client, server)) {}
    }
}
