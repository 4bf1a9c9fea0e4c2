import Foundation
import SockscopeCollect
import SockscopeModel
import TestSupport
import Testing

@Suite struct ServicesAndClassesTests {
    @Test func fixtureServicesAreProtocolAwareAndClassified() throws {
        let table = ServicesParser.parse(try FixtureFiles.bytes("services-sample.txt"))
        let ctx = PortContext(services: table, ephemeral: EphemeralRange(low: 32768, high: 60999))
        #expect(ctx.service(22, .tcp) == "ssh")
        #expect(ctx.service(22, .udp) == nil, "ssh is listed for tcp only")
        #expect(ctx.service(443, .tcp) == "https", "the first name for a port wins")
        #expect(ctx.service(443, .udp) == "https")
        #expect(ctx.service(8080, .tcp) == "http-alt")
        #expect(table.port(named: "webcache", proto: .tcp) == 8080, "aliases resolve")
        #expect(ctx.service(50000, .udp) == "sample-dyn" && ctx.service(50000, .tcp) == nil)
        #expect(ctx.service(0, .tcp) == nil, "port 0 is no port")
        #expect(table.ports(named: "noport").isEmpty && table.ports(named: "toobig").isEmpty)
        #expect(table.ports(named: "othersctp").isEmpty, "only tcp and udp are kept")
        #expect([22, 443, 8080, 50000].map { PortClass(port: $0) } == [.system, .system, .registered, .dynamic])
        #expect(PortClass(port: 0) == .system && PortClass(port: 1023) == .system && PortClass(port: 1024) == .registered)
        #expect(PortClass(port: 49151) == .registered && PortClass(port: 49152) == .dynamic && PortClass(port: 65535) == .dynamic)
        let range = try #require(ctx.ephemeral)
        #expect(!range.contains(22) && !range.contains(8080) && range.contains(50000) && !range.contains(61000))
        #expect(range.size == 28232)
    }

    @Test func realServicesFile() throws {
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: "/etc/services")))
        let table = ServicesParser.parse(bytes)
        #expect(table.name(port: 22, proto: .tcp) == "ssh")
        #expect(table.name(port: 443, proto: .tcp) == "https")
        #expect(table.name(port: 8080, proto: .tcp) == "http-alt")
        // 50000 is in the dynamic range, which IANA never assigns.
        #expect(table.name(port: 50000, proto: .tcp) == nil)
        #expect(PortClass(port: 50000) == .dynamic)
        #expect(ServicesParser.load() == table)
    }

    @Test func ephemeralRangeParser() {
        #expect(EphemeralRangeParser.parse(Array("32768\t60999\n".utf8)) == EphemeralRange(low: 32768, high: 60999))
        #expect(EphemeralRangeParser.parse(Array("1000 1009".utf8))?.size == 10)
        for bad in ["", "5 4", "1 2 3", "70000 70001", "-1 5", "a b", "1\u{0}2 5", "0x10 20", "00000000001 2"] {
            #expect(EphemeralRangeParser.parse(Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(EphemeralRangeParser.load(procRoot: "/nonexistent") == nil)
        #expect(EphemeralRangeParser.load() != nil, "this host's range is readable")
    }
}

@Suite struct NetstatParserTests {
    /// A real /proc/net/netstat, captured with ListenOverflows set to 17 and ListenDrops to 19.
    @Test func listenCountersFromFixture() throws {
        let bytes = try FixtureFiles.bytes("proc-net-netstat.txt")
        #expect(NetstatParser.listenCounters(bytes) == ListenCounters(overflows: 17, drops: 19))
        let all = NetstatParser.parse(bytes)
        #expect(all["TcpExt"]?["SyncookiesSent"] != nil)
        #expect(all["IpExt"]?["InOctets"] != nil)
    }

    @Test func malformedInputIsSkipped() {
        let cases: [(String, ListenCounters?)] = [
            ("", nil),
            ("TcpExt: ListenOverflows ListenDrops\n", nil),  // header without values
            ("TcpExt: 1 2\n", nil),  // values without header
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4\n", ListenCounters(overflows: 3, drops: 4)),
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3\n", nil),  // a value missing
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 x\n", nil),
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4 5 6\n", ListenCounters(overflows: 3, drops: 4)),
            ("IpExt: A B\nTcpExt: ListenOverflows ListenDrops\r\nTcpExt: 7 8\r\nIpExt: 1 2\n", ListenCounters(overflows: 7, drops: 8)),
            ("TcpExt: ListenOverflows ListenDrops\nTcpExt: 99999999999999999999999 4\n", nil),
            (":\n: :\n\u{0}\u{FF}", nil),
        ]
        for (text, expected) in cases {
            #expect(NetstatParser.listenCounters(Array(text.utf8)) == expected, "\(text.debugDescription)")
        }
        // Arbitrary bytes never trap.
        var rng = SplitMix(seed: 7)
        for _ in 0..<200 {
            let n = Int(rng.next() % 300)
            let alphabet = Array("TcpExt: ListenDrops 0123456789\n\t".utf8) + [0xFF, 0x00]
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            _ = NetstatParser.parse(bytes)
            _ = EphemeralRangeParser.parse(bytes)
        }
        #expect(NetstatParser.loadListenCounters(procRoot: "/nonexistent") == nil)
        #expect(NetstatParser.loadListenCounters() != nil, "this host's counters are readable")
    }
}
