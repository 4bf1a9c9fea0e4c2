import Foundation
import SockscopeModel
import SockscopeRender
import Testing

/// Names a hostile process could choose: terminal escapes (CSI, OSC 52 clipboard, title), BEL,
/// C1 controls as UTF-8 and as raw bytes, newlines, bidi overrides, invalid UTF-8, quotes, `)`.
let hostileNames: [[UInt8]] = [
    Array("\u{1B}[31mred\u{1B}[0m".utf8),
    Array("\u{1B}]52;c;SGVsbG8=\u{07}".utf8),
    Array("\u{1B}[2J\u{1B}[H".utf8),
    Array("a\nb\rc\td".utf8),
    Array("c1\u{85}\u{9B}x".utf8),
    [0x61, 0x9B, 0x32, 0x4A, 0xFF, 0xC0, 0xAF],
    Array("evil\u{202E}gnp.exe".utf8),
    Array("q\"uote\\ )(".utf8),
    [0x00, 0x7F, 0x1F],
]

func hasRawControl(_ bytes: [UInt8], allowNewline: Bool) -> Bool {
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        if b == 0x0A && allowNewline { i += 1; continue }
        if b < 0x20 || b == 0x7F { return true }
        if b == 0xC2, i + 1 < bytes.count, (0x80...0x9F).contains(bytes[i + 1]) { return true }  // C1 as UTF-8
        i += 1
    }
    // Raw C1 bytes (0x80-0x9F) outside valid UTF-8 would be invalid UTF-8: check the whole is valid.
    return String(validating: bytes, as: UTF8.self) == nil
}

@Suite struct EscapeTests {
    @Test func terminalEscapingLeavesNoControlBytesAndStaysVisible() {
        for name in hostileNames {
            var out: [UInt8] = []
            Escape.terminal(name, to: &out)
            #expect(!hasRawControl(out, allowNewline: false), "\(name) -> \(String(decoding: out, as: UTF8.self))")
        }
        var out: [UInt8] = []
        Escape.terminal(Array("\u{1B}[31m".utf8), to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "\\x1b[31m")
        #expect(Escape.terminal("a\\b") == "a\\\\b", "a backslash is doubled so escapes are unambiguous")
        #expect(Escape.terminal("naïve ✓") == "naïve ✓", "printable UTF-8 is kept")
        out = []
        Escape.terminal([0xFF, 0x41], to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "\\xffA")
    }

    @Test func jsonEscapingIsValidJSONForAnyBytes() throws {
        for name in hostileNames {
            var out: [UInt8] = [UInt8(ascii: "\"")]
            Escape.json(name, to: &out)
            out.append(UInt8(ascii: "\""))
            #expect(!hasRawControl(out, allowNewline: false))
            let parsed = try JSONSerialization.jsonObject(with: Data(out), options: .fragmentsAllowed)
            #expect(parsed is String)
        }
    }
}

@Suite struct JSONRendererTests {
    func records() -> [SocketRecord] {
        var a = SocketRecord(proto: .tcp, family: .inet, state: .listen,
                             local: Endpoint(address: IPAddress("127.0.0.1")!, port: 8080),
                             remote: Endpoint(address: .anyIPv4, port: 0), recvQueue: 3, sendQueue: 128,
                             uid: 1000, inode: 555, interfaceIndex: 1, interface: "lo", cookie: 0xABCDEF)
        a.processes = hostileNames.enumerated().map { SocketOwner(pid: Int32($0.offset + 1), rawName: $0.element, uid: 0, user: "root", fd: 3, cgroup: "/system.slice/x.service", unit: "x.service") }
        var b = SocketRecord(proto: .udp, family: .inet6, state: .close,
                             local: Endpoint(address: IPAddress("::1")!, port: 53),
                             remote: Endpoint(address: .anyIPv6, port: 0), inode: 9)
        b.memory = SocketMemory(rmemAlloc: 1, rcvbuf: 2, wmemAlloc: 3, sndbuf: 4, fwdAlloc: 5, wmemQueued: 6, optmem: 7, backlog: 8, drops: 9)
        var c = SocketRecord(proto: .tcp, family: .inet6, state: .established,
                             local: Endpoint(address: IPAddress("::ffff:10.0.0.1")!, port: 443),
                             remote: Endpoint(address: IPAddress("2001:db8::2")!, port: 50000), inode: 10)
        c.tcpInfo = TCPInfo(rttUs: 1234, rttvarUs: 56, rtoUs: 204000, mss: 1448, cwnd: 10, ssthresh: 7, unacked: 1,
                            retrans: 0, totalRetrans: 2, lost: 0, bytesAcked: 100, bytesReceived: 200, bytesSent: 300,
                            deliveryRate: 1000, pacingRate: 2000, congestion: "cubic", lastSendMs: 5, lastRecvMs: 6, minRttUs: 40)
        return [a, b, c]
    }

    func render(_ rs: [SocketRecord]) -> [UInt8] {
        var out: [UInt8] = []
        JSONRenderer(includeCookie: true).renderArray(rs, into: &out, flush: { _ in })
        return out
    }

    @Test func handWrittenJSONEqualsTheCodableEncoding() throws {
        let rs = records()
        let fast = try JSONSerialization.jsonObject(with: Data(render(rs))) as? NSArray
        let slow = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(rs)) as? NSArray
        #expect(fast != nil && fast == slow)
        let decoded = try JSONDecoder().decode([SocketRecord].self, from: Data(render(rs)))
        #expect(decoded.count == 3 && decoded[2].tcpInfo == rs[2].tcpInfo && decoded[1].memory == rs[1].memory)
    }

    @Test func hostileProcessNamesStayValidAndInert() throws {
        let out = render(records())
        #expect(!hasRawControl(out, allowNewline: true))
        let arr = try #require(try JSONSerialization.jsonObject(with: Data(out)) as? [[String: Any]])
        let names = (arr[0]["processes"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(names.count == hostileNames.count)
        #expect(names[0] == "\u{1B}[31mred\u{1B}[0m", "JSON escapes round-trip to the original text")
    }

    @Test func emptyListingIsAnEmptyArray() {
        #expect(String(decoding: render([]), as: UTF8.self) == "[]\n")
    }

    @Test func flushIsCalledForLargeOutputAndNothingIsLost() throws {
        let many = [SocketRecord](repeating: records()[1], count: 3000)
        var out: [UInt8] = []
        var flushed: [UInt8] = []
        var flushes = 0
        JSONRenderer().renderArray(many, into: &out, flush: { buf in flushed += buf; buf.removeAll(); flushes += 1 })
        flushed += out
        #expect(flushes > 1)
        #expect((try JSONSerialization.jsonObject(with: Data(flushed)) as? [Any])?.count == 3000)
    }
}

@Suite struct TableRendererTests {
    @Test func goldenTable() {
        var svc = ServiceTable()
        svc.add(name: "https", port: 443, proto: .tcp)
        svc.add(name: "domain", port: 53, proto: .udp)
        let rs = [
            SocketRecord(proto: .tcp, family: .inet, state: .listen,
                         local: Endpoint(address: .anyIPv4, port: 443), remote: Endpoint(address: .anyIPv4, port: 0),
                         sendQueue: 4096),
            SocketRecord(proto: .tcp, family: .inet6, state: .established,
                         local: Endpoint(address: IPAddress("::ffff:127.0.0.1")!, port: 443),
                         remote: Endpoint(address: IPAddress("::ffff:127.0.0.1")!, port: 51234), recvQueue: 12),
            SocketRecord(proto: .udp, family: .inet, state: .close,
                         local: Endpoint(address: IPAddress("127.0.0.53")!, port: 53), remote: Endpoint(address: .anyIPv4, port: 0),
                         interfaceIndex: 1, interface: "lo"),
        ]
        var out: [UInt8] = []
        TableRenderer(options: TableOptions(services: svc)).render(rs, into: &out, flush: { _ in })
        let expected = """
        Netid State  Recv-Q Send-Q      Local Address:Port         Peer Address:Port
        tcp   LISTEN 0      4096              0.0.0.0:https             0.0.0.0:*
        tcp   ESTAB  12     0      [::ffff:127.0.0.1]:https  [::ffff:127.0.0.1]:51234
        udp   UNCONN 0      0           127.0.0.53%lo:domain            0.0.0.0:*

        """
        #expect(String(decoding: out, as: UTF8.self) == expected)
        out = []
        TableRenderer(options: TableOptions(header: false, numeric: true, services: svc, netid: false)).render(Array(rs.prefix(1)), into: &out, flush: { _ in })
        #expect(String(decoding: out, as: UTF8.self) == "LISTEN 0      4096         0.0.0.0:443       0.0.0.0:*\n")
    }

    @Test func ownersAreEscapedAndEachSocketIsOneLine() {
        var r = SocketRecord(proto: .tcp, family: .inet, state: .listen,
                             local: Endpoint(address: IPAddress("127.0.0.1")!, port: 1), remote: Endpoint(address: .anyIPv4, port: 0))
        r.processes = hostileNames.enumerated().map { SocketOwner(pid: Int32($0.offset + 10), rawName: $0.element, uid: 0, fd: 4) }
        var out: [UInt8] = []
        TableRenderer(options: TableOptions(header: false, numeric: true, processes: true)).render([r], into: &out, flush: { _ in })
        #expect(!hasRawControl(out, allowNewline: true))
        #expect(out.filter { $0 == 0x0A }.count == 1, "\(String(decoding: out, as: UTF8.self))")
        #expect(String(decoding: out, as: UTF8.self).contains(#"users:(("\x1b[31mred\x1b[0m",pid=10,fd=4)"#))
    }
}

@Suite struct EventRendererTests {
    @Test func oneValidJSONObjectPerLine() throws {
        let r = SocketRecord(proto: .tcp, family: .inet, state: .established,
                             local: Endpoint(address: IPAddress("127.0.0.1")!, port: 5000),
                             remote: Endpoint(address: IPAddress("127.0.0.1")!, port: 80), inode: 3)
        var out: [UInt8] = []
        let e = EventRenderer()
        e.append(event: "open", time: "2026-11-21T00:00:00.000Z", record: r, to: &out)
        e.append(event: "state", time: "2026-11-21T00:00:01.000Z", record: r, from: "SYN_SENT", to: &out)
        e.append(event: "close", time: "2026-11-21T00:00:02.000Z", record: r, via: "destroy", to: &out)
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3)
        let objs = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(objs.map { $0["event"] as? String } == ["open", "state", "close"])
        #expect(objs[1]["from"] as? String == "SYN_SENT" && objs[2]["via"] as? String == "destroy")
        #expect((objs[0]["socket"] as? [String: Any])?["state"] as? String == "ESTABLISHED")
    }
}

@Suite struct SummaryRendererTests {
    @Test func handWrittenJSONDecodesToTheSameSummary() throws {
        let s = SocketSummary(total: 3, protocols: [.init(proto: .tcp, family: .inet6, count: 2)],
                              states: [.init(proto: .udp, state: "UNCONN", count: 1)],
                              topListeningPorts: [.init(port: 443, listeners: 2, established: 7)],
                              topPeers: [.init(address: IPAddress("::ffff:10.1.2.3")!, established: 7)])
        let decoded = try JSONDecoder().decode(SocketSummary.self, from: Data(SummaryRenderer.json(s)))
        #expect(decoded == s)
    }
}

@Suite struct InfoLineTests {
    @Test func tcpInfoLineMatchesTheSsLayout() {
        var r = SocketRecord(proto: .tcp, family: .inet, state: .established,
                             local: Endpoint(address: IPAddress("127.0.0.1")!, port: 1), remote: Endpoint(address: IPAddress("127.0.0.1")!, port: 2))
        r.tcpInfo = TCPInfo(rttUs: 1234, rttvarUs: 56, rtoUs: 204000, mss: 1448, cwnd: 10, ssthresh: 7, unacked: 1, retrans: 0,
                            totalRetrans: 2, lost: 0, bytesAcked: 100, bytesReceived: 200, bytesSent: 300, deliveryRate: 1_250_000,
                            pacingRate: 125, congestion: "cubic", lastSendMs: 5, lastRecvMs: 6, minRttUs: 40)
        var out: [UInt8] = []
        TableRenderer(options: TableOptions(header: false, numeric: true, netid: false, info: true)).render([r], into: &out, flush: { _ in })
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.last == "\t cubic rto:204 rtt:1.234/0.056 mss:1448 cwnd:10 ssthresh:7 bytes_sent:300 bytes_acked:100 bytes_received:200 send 93873582bps lastsnd:5 lastrcv:6 pacing_rate 1000bps delivery_rate 10000000bps unacked:1 retrans:0/2 minrtt:0.04")
    }

    /// Every field set, in ss's order: options (with -o), algorithm, wscale, times, sizes, counters,
    /// algorithm details, rates, limits, loss and receive-side fields. Human rates without -n.
    @Test func everyFieldInSsOrder() {
        var t = TCPInfo(rttUs: 26_000, rttvarUs: 12_500, rtoUs: 230_000, mss: 1448, cwnd: 20, ssthresh: 30, unacked: 2,
                        retrans: 1, totalRetrans: 4, lost: 1, bytesAcked: 1000, bytesReceived: 2000, bytesSent: 3000,
                        deliveryRate: 125_000, pacingRate: 1_250_000, congestion: "bbr", lastSendMs: 10, lastRecvMs: 20,
                        minRttUs: 25_125)
        t.options = TCPInfo.optionTimestamps | TCPInfo.optionSACK | TCPInfo.optionWscale | TCPInfo.optionECN
        t.sendWscale = 7; t.recvWscale = 9; t.backoff = 2; t.atoUs = 40_000; t.pmtu = 1500; t.recvMss = 536; t.advmss = 1448
        t.sacked = 3; t.fackets = 0; t.reordering = 5; t.recvRttUs = 1_500; t.recvSpace = 14_600; t.recvSsthresh = 64_000
        t.lastAckMs = 30; t.maxPacingRate = 12_500_000; t.segsOut = 11; t.segsIn = 12; t.dataSegsOut = 9; t.dataSegsIn = 8
        t.notsentBytes = 100; t.appLimited = true; t.busyTimeUs = 2_000_000; t.rwndLimitedUs = 500_000; t.sndbufLimitedUs = 0
        t.delivered = 7; t.deliveredCE = 1; t.bytesRetrans = 1448; t.dsackDups = 1; t.reordSeen = 2; t.recvOutOfOrder = 3
        t.sendWindow = 65_536; t.recvWindow = 65_000; t.rehash = 1
        t.bbr = BBRInfo(bandwidth: 1_000_000, minRttUs: 25_125, pacingGain: 739, cwndGain: 512)
        var out: [UInt8] = []
        SSText.info(t, listening: false, options: true, numeric: false, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == " ts sack ecn bbr wscale:7,9 rto:230 backoff:2 rtt:26/12.5 ato:40"
            + " mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:20 ssthresh:30 bytes_sent:3000 bytes_retrans:1448"
            + " bytes_acked:1000 bytes_received:2000 segs_out:11 segs_in:12 data_segs_out:9 data_segs_in:8"
            + " bbr:(bw:8Mbps,mrtt:25.125,pacing_gain:2.88672,cwnd_gain:2) send 8.91Mbps lastsnd:10 lastrcv:20 lastack:30"
            + " pacing_rate 10Mbps/100Mbps delivery_rate 1Mbps delivered:7 delivered_ce:1 app_limited"
            + " busy:2000ms rwnd_limited:500ms(25.0%) unacked:2 retrans:1/4 lost:1 sacked:3 dsack_dups:1 reordering:5"
            + " reord_seen:2 rcv_rtt:1.5 rcv_space:14600 rcv_ssthresh:64000 notsent:100 minrtt:25.125 rcv_ooopack:3"
            + " snd_wnd:65536 rcv_wnd:65000 rehash:1")
        // Without -o the negotiated options are left out, as ss leaves them out.
        out.removeAll()
        SSText.info(t, listening: true, options: false, numeric: true, to: &out)
        let plain = String(decoding: out, as: UTF8.self)
        #expect(plain.hasPrefix(" bbr wscale:7,9 "), "\(plain)")
        #expect(plain.contains(" pacing_rate 10000000bps/100000000bps ") && !plain.contains("sacked:"), "\(plain)")
    }
}

/// The table builder across its chunks: a table of many rows (several MiB of cells) is the same
/// as its rows rendered one by one, when every row has the same widths.
@Suite struct TableBuilderTests {
    @Test func rowsAcrossChunksAreTheRowsRenderedAlone() {
        var records: [SocketRecord] = []
        for i in 0..<30_000 {
            var r = SocketRecord(proto: .tcp, family: .inet, state: .established,
                                 local: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: UInt16(10_000 + i % 50_000)),
                                 remote: Endpoint(address: IPAddress(ipv4: 0x7F00_0002), port: 44_444),
                                 recvQueue: UInt32(i % 10), sendQueue: 7, inode: UInt64(i))
            // Every 7th row long (owners), so rows of both kinds meet the chunk ends.
            if i % 7 == 0 {
                r.processes = (0..<40).map { SocketOwner(pid: Int32(1000 + $0), rawName: Array("worker".utf8), uid: 0, fd: 9) }
            }
            records.append(r)
        }
        let renderer = TableRenderer(options: TableOptions(header: false, numeric: true, netid: false, processes: true))
        var whole: [UInt8] = []
        renderer.render(records, into: &whole, flush: { _ in })
        #expect(whole.count > 3 * TableBuilder.chunkSize)
        var alone: [UInt8] = []
        for r in records { renderer.render([r], into: &alone, flush: { _ in }) }
        #expect(whole == alone)
        var flushed: [UInt8] = [], out: [UInt8] = []
        renderer.render(records, into: &out) { flushed += $0; $0.removeAll() }
        #expect(flushed + out == whole)
    }
}
