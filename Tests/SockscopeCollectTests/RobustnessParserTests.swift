@testable import SockscopeCollect
import SockscopeModel
import SockscopeSystem
import TestSupport
import Testing

/// Inputs the fuzzers (`.ci/fuzz`) found, kept as regression tests, and the /proc round-trip property.
@Suite struct FuzzRegressionTests {
    /// The parser's result for one buffer (a Result: typed-throws closures crash this compiler's IRGen).
    static func parse(_ bytes: [UInt8], info: Bool = false) -> Result<DumpProgress, DumpError> {
        var parser = InetDiagParser(proto: .tcp, decodeInfo: info, decodeMemory: info)
        return bytes.withUnsafeBytes { raw in
            do throws(DumpError) { return .success(try parser.parse(raw) { _ in }) } catch { return .failure(error) }
        }
    }

    /// An NLMSG_ERROR whose code is Int32.min: negating it trapped (netlink fuzz target, issue 8).
    @Test func errorCodeInt32MinIsMalformedNotATrap() {
        for type: UInt16 in [2, 3] {  // NLMSG_ERROR, and NLMSG_DONE carrying an error
            var msg: [UInt8] = []
            func le32(_ v: UInt32) { msg += withUnsafeBytes(of: v.littleEndian, Array.init) }
            le32(20); msg += withUnsafeBytes(of: type.littleEndian, Array.init); msg += [0, 0]
            le32(0); le32(0)
            le32(0x8000_0000)
            #expect(Self.parse(msg) == .failure(.malformed("error code -2147483648")))
        }
    }

    /// The input libFuzzer saved, verbatim.
    @Test func savedCrashInput() {
        let bytes: [UInt8] = [
            0x41, 0x0, 0x0, 0x0, 0x2, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x80,
            0x4, 0x8, 0xff, 0xff, 0x8, 0x0, 0xff, 0xff, 0xff, 0xf7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x14, 0x0,
            0x0, 0x0, 0xfe, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x8, 0x4f, 0x70, 0x74, 0x69, 0x6f, 0x6e,
            0x61, 0x6c, 0x0, 0x1, 0x0, 0xc8, 0x4, 0x8, 0x0,
        ]
        guard case .failure = Self.parse(bytes, info: true) else {
            Issue.record("a reply with error code Int32.min must be an error")
            return
        }
    }
}

/// parse(format(record)) == record for the /proc/net text form, on random records.
@Suite struct ProcRoundTripTests {
    static let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

    /// A /proc/net line as the kernel prints it (`tcp4_seq_show`/`tcp6_seq_show`): each 32-bit word
    /// of an address in host byte order as %08X, ports big-endian as %04X.
    static func format(_ r: SocketRecord, slot: Int) -> String {
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, digits - s.count)) + s
        }
        func address(_ a: IPAddress) -> String {
            let bytes = a.bytes
            var out = ""
            for w in stride(from: 0, to: bytes.count, by: 4) {
                // The word as it sits in memory (network order) read as a little-endian host integer.
                let word = UInt32(bytes[w]) | UInt32(bytes[w + 1]) << 8 | UInt32(bytes[w + 2]) << 16 | UInt32(bytes[w + 3]) << 24
                out += hex(UInt64(word), 8)
            }
            return out
        }
        return "\(String(repeating: " ", count: max(0, 4 - String(slot).count)))\(slot): "
            + "\(address(r.local.address)):\(hex(UInt64(r.local.port), 4)) "
            + "\(address(r.remote.address)):\(hex(UInt64(r.remote.port), 4)) "
            + "\(hex(UInt64(r.state.rawValue), 2)) \(hex(UInt64(r.sendQueue), 8)):\(hex(UInt64(r.recvQueue), 8)) "
            + "00:00000000 00000000 \(String(repeating: " ", count: 5))\(r.uid)        0 \(r.inode) 1 0000000000000000 100 0 0 10 0"
    }

    static func random(_ rng: inout SplitMix, proto: TransportProtocol, family: AddressFamily) -> SocketRecord {
        func address() -> IPAddress {
            if family == .inet { return IPAddress(ipv4: UInt32(truncatingIfNeeded: rng.next())) }
            switch rng.next() % 4 {
            case 0: return IPAddress(ipv6High: 0, low: 0xFFFF_0000_0000 | (rng.next() & 0xFFFF_FFFF))  // v4-mapped
            case 1: return .anyIPv6
            default: return IPAddress(ipv6High: rng.next(), low: rng.next())
            }
        }
        func edge32() -> UInt32 { [0, 1, UInt32.max, UInt32(truncatingIfNeeded: rng.next())][Int(rng.next() % 4)] }
        let states = SocketState.allCases.filter { $0 != .boundInactive }
        return SocketRecord(proto: proto, family: family, state: states[Int(rng.next() % UInt64(states.count))],
                            local: Endpoint(address: address(), port: UInt16(truncatingIfNeeded: rng.next())),
                            remote: Endpoint(address: address(), port: UInt16(truncatingIfNeeded: rng.next())),
                            recvQueue: edge32(), sendQueue: edge32(), uid: edge32(),
                            inode: rng.next() % 3 == 0 ? 0 : rng.next() >> UInt64(rng.next() % 64))
    }

    @Test(arguments: [(TransportProtocol.tcp, AddressFamily.inet), (.tcp, .inet6), (.udp, .inet), (.udp, .inet6)])
    func parseOfFormatIsIdentity(proto: TransportProtocol, family: AddressFamily) {
        var rng = SplitMix(seed: 0x5EED_0008 ^ UInt64(proto.ipProtocol ?? 0) << 8 ^ UInt64(family.rawFamily))
        for _ in 0..<50 {
            let records = (0..<Int(rng.next() % 40)).map { _ in Self.random(&rng, proto: proto, family: family) }
            var text = Self.header
            for (i, r) in records.enumerated() { text += Self.format(r, slot: i) + "\n" }
            let (parsed, bad) = ProcNetParser(proto: proto, family: family).parse(Array(text.utf8))
            #expect(bad.isEmpty, "\(bad)")
            #expect(parsed == records)
            if parsed != records { return }
        }
    }
}

/// The merge of a first dump with a verifying second one (ConsistentDump.swift).
@Suite struct VerifiedDumpMergeTests {
    static func rec(_ cookie: UInt64, _ proto: TransportProtocol = .tcp, _ state: SocketState = .established) -> SocketRecord {
        SocketRecord(proto: proto, family: .inet, state: state,
                     local: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: UInt16(truncatingIfNeeded: cookie)),
                     remote: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 80), cookie: cookie)
    }

    @Test func unionByCookieLaterStateWinsNothingTwice() {
        let first = [Self.rec(1), Self.rec(2), Self.rec(3, .udp), Self.rec(4)]
        // The second dump skipped 2, saw 4 change state, and found 5 (which the first skipped).
        let second = [Self.rec(4, .tcp, .finWait1), Self.rec(1), Self.rec(5)]
        let merged = SocketCollector.merge(first, second, redone: [.tcp])
        #expect(merged.map { $0.cookie! } == [1, 2, 3, 4, 5])
        #expect(merged[3].state == .finWait1)
    }

    @Test func countersThatMoveWithTrafficAreNotInTheFingerprint() {
        let snmp = Array("Tcp: RtoAlgorithm ActiveOpens PassiveOpens CurrEstab InSegs OutSegs\nTcp: 1 10 10 4 500 600\n".utf8)
        let busier = Array("Tcp: RtoAlgorithm ActiveOpens PassiveOpens CurrEstab InSegs OutSegs\nTcp: 1 10 10 4 900 990\n".utf8)
        let opened = Array("Tcp: RtoAlgorithm ActiveOpens PassiveOpens CurrEstab InSegs OutSegs\nTcp: 1 11 10 4 900 990\n".utf8)
        let sockstat = Array("TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 3\nUDP: inuse 2 mem 1\n".utf8)
        let moreMemory = Array("TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 9\nUDP: inuse 2 mem 4\n".utf8)
        let a = TableFingerprint.parse(sockstat: sockstat, sockstat6: [], snmp: snmp, netstat: [])
        #expect(a == TableFingerprint.parse(sockstat: moreMemory, sockstat6: [], snmp: busier, netstat: []))
        let b = TableFingerprint.parse(sockstat: sockstat, sockstat6: [], snmp: opened, netstat: [])
        #expect(a.tcp != b.tcp && a.udp == b.udp)
    }
}
