import SockscopeCollect
import SockscopeModel
import TestSupport
import Testing

@Suite struct ProcNetParserTests {
    static let files: [(String, TransportProtocol, AddressFamily)] = [
        ("proc-net-tcp.txt", .tcp, .inet), ("proc-net-tcp6.txt", .tcp, .inet6),
        ("proc-net-udp.txt", .udp, .inet), ("proc-net-udp6.txt", .udp, .inet6),
    ]

    func parseAll() throws -> [SocketRecord] {
        var all: [SocketRecord] = []
        for (name, proto, family) in Self.files {
            let (recs, bad) = ProcNetParser(proto: proto, family: family).parse(try FixtureFiles.bytes(name))
            #expect(bad.isEmpty, "\(name): \(bad)")
            all += recs
        }
        return all
    }

    @Test func capturedFixturesGiveEveryExpectedSocketExactly() throws {
        let records = try parseAll()
        let expected = try FixtureFiles.expected()
        #expect(expected.count == 21)
        for e in expected {
            let hits = records.filter { $0.inode == e.inode && $0.proto == e.proto }
            #expect(hits.count == 1, "\(e)")
            #expect(hits.first.map(e.matches) == true, "expected \(e), got \(hits)")
        }
        // Every data line of every file is one record: nothing dropped, nothing invented.
        let lines = try Self.files.map { try FixtureFiles.bytes($0.0).split(separator: 0x0A).count - 1 }.reduce(0, +)
        #expect(records.count == lines)
    }

    @Test func byteOrderOfAddressesAndPorts() throws {
        let p4 = ProcNetParser(proto: .tcp, family: .inet)
        let line = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            + "   0: 0100007F:0277 0200A8C0:01BB 01 0000000A:00000014 00:00000000 00000000  1000        0 4242 1\n"
        let (r, bad) = p4.parse(Array(line.utf8))
        #expect(bad.isEmpty)
        let rec = try #require(r.first)
        #expect(rec.local == Endpoint(address: IPAddress("127.0.0.1")!, port: 631))
        #expect(rec.remote == Endpoint(address: IPAddress("192.168.0.2")!, port: 443))
        #expect(rec.state == .established && rec.sendQueue == 10 && rec.recvQueue == 20)
        #expect(rec.uid == 1000 && rec.inode == 4242)

        let p6 = ProcNetParser(proto: .tcp, family: .inet6)
        let six = "  sl  local_address                         remote_address                        st\n"
            + "   0: 00000000000000000000000001000000:0016 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 77 1\n"
        let (r6, bad6) = p6.parse(Array(six.utf8))
        #expect(bad6.isEmpty)
        #expect(r6.first?.local.address.description == "::1")
        #expect(r6.first?.remote.address.description == "::ffff:127.0.0.1")
        #expect(r6.first?.remote.port == 0xD431)
    }

    @Test func udpSlotIsAHashBucketAndMayRepeat() throws {
        let text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
            + "  123: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 10 2 0000000000000000 0\n"
            + "  123: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 11 2 0000000000000000 0\n"
        let (r, bad) = ProcNetParser(proto: .udp, family: .inet).parse(Array(text.utf8))
        #expect(bad.isEmpty)
        #expect(r.map(\.inode) == [10, 11])
        #expect(r.allSatisfy { $0.stateName == "UNCONN" })
    }

    static let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    static let good = "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1\n"

    /// Each case's malformed text; it follows a header and a good line, so it is line 3.
    static func malformedText(_ name: String) -> String {
        let tail = " 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n"
        switch name {
        case "truncated last line": return "   0: 0100007F:00"
        case "non-hex address": return "   0: 0100Z07F:0016" + tail
        case "missing inode": return "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0\n"
        case "NUL bytes": return "   0: 0100007F:\0\0\0\0" + tail
        case "unknown state": return "   0: 0100007F:0016 00000000:0000 FF 00000000:00000000 00:00000000 00000000 0 0 1 1\n"
        case "huge uid": return "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 99999999999 0 1 1\n"
        case "100 KB line": return "   0: " + String(repeating: "A", count: 100_000) + "\n"
        default: return ""
        }
    }

    @Test(arguments: ["truncated last line", "non-hex address", "missing inode", "NUL bytes", "unknown state",
                      "huge uid", "100 KB line"])
    func malformedLineIsReportedWithItsNumberAndSkipped(name: String) {
        let bytes = Array((Self.header + Self.good + Self.malformedText(name)).utf8)
        let (r, bad) = ProcNetParser(proto: .tcp, family: .inet).parse(bytes)
        #expect(r.map(\.inode) == [99], "the good line is still parsed")
        #expect(bad.count == 1)
        #expect(bad.first?.line == 3)
    }

    @Test func emptyAndHeaderOnlyFilesHaveNoSockets() {
        for text in ["", Self.header, Self.header + "\n\n"] {
            let (r, bad) = ProcNetParser(proto: .tcp, family: .inet).parse(Array(text.utf8))
            #expect(r.isEmpty && bad.isEmpty)
        }
    }

    @Test func arbitraryBytesNeverTrap() {
        var rng = SplitMix(seed: 42)
        for _ in 0..<2000 {
            let n = Int(rng.next() % 300)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = ProcNetParser(proto: .tcp, family: .inet6).parse(Array(Self.header.utf8) + bytes)
        }
    }
}
