import Foundation
import SockscopeModel
import Testing

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("::", "::"), ("::1", "::1"), ("1::", "1::"), ("2001:db8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),      // first longest run wins
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),    // a single zero group is not compressed
        ("fe80::abcd:ef01:2345:6789", "fe80::abcd:ef01:2345:6789"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"), ("::FFFF:7f00:1", "::ffff:127.0.0.1"),
        ("0:0:0:0:0:0:0:2", "::2"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
    ])
    func rfc5952Formatting(input: String, expected: String) throws {
        let a = try #require(IPAddress(input))
        #expect(a.description == expected)
        #expect(IPAddress(expected) == a, "round trip")
    }

    @Test(arguments: ["", "1.2.3", "256.0.0.1", "1::2::3", "12345::", "1.2.3.4.5", "::g", ":::"])
    func invalidTextIsRejected(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func bytesAndClassification() {
        #expect(IPAddress(bytes: [127, 0, 0, 1])?.isLoopback == true)
        #expect(IPAddress("::ffff:127.0.0.1")?.isIPv4Mapped == true)
        #expect(IPAddress("::1")?.bytes == [UInt8](repeating: 0, count: 15) + [1])
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }
}

@Suite struct SocketRecordTests {
    func sample() -> SocketRecord {
        var r = SocketRecord(proto: .tcp, family: .inet6, state: .established,
                             local: Endpoint(address: IPAddress("::ffff:127.0.0.1")!, port: 443),
                             remote: Endpoint(address: IPAddress("::ffff:127.0.0.1")!, port: 50000),
                             recvQueue: 1, sendQueue: 2, uid: 1000, inode: 12345, interfaceIndex: 1, interface: "lo",
                             cookie: 99)
        r.tcpInfo = TCPInfo(rttUs: 50, mss: 65483, cwnd: 10, bytesAcked: 5, congestion: "cubic")
        r.processes = [SocketOwner(pid: 7, rawName: Array("nginx".utf8), uid: 0, user: "root", fd: 3)]
        return r
    }

    @Test func codableRoundTripUsesTheDocumentedKeys() throws {
        let r = sample()
        let data = try JSONEncoder().encode(r)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["proto", "family", "state", "local", "remote", "recv_q", "send_q", "uid", "inode",
                                     "interface", "cookie", "processes", "tcp_info"])
        #expect(object["state"] as? String == "ESTABLISHED")
        #expect((object["local"] as? [String: Any])?["address"] as? String == "::ffff:127.0.0.1")
        var back = try JSONDecoder().decode(SocketRecord.self, from: data)
        // The schema carries the interface's name, not its index.
        #expect(back.interface == "lo" && back.hasInterface)
        back.interfaceIndex = r.interfaceIndex
        #expect(back == r)
    }

    @Test func stateNamesByProtocol() {
        #expect(SocketState.close.kernelName(for: .udp) == "UNCONN")
        #expect(SocketState.close.kernelName(for: .tcp) == "CLOSE")
        #expect(SocketState.newSynRecv.kernelName(for: .tcp) == "SYN_RECV")
        #expect(SocketState.established.ssName == "ESTAB")
        for s in SocketState.allCases where s != .newSynRecv {
            #expect(SocketState(kernelName: s.kernelName(for: .tcp)) == s)
        }
    }

    @Test func largeExtensionsAreBoxedSoPlainRecordsStaySmall() {
        #expect(MemoryLayout<SocketRecord>.stride <= 128, "stride \(MemoryLayout<SocketRecord>.stride)")
    }
}
