import Foundation
import SockscopeModel
import Testing

/// The plain values of the port insight views.
@Suite struct PortInsightModelTests {
    @Test func portClassBoundaries() {
        let cases: [(UInt16, PortClass)] = [(0, .system), (22, .system), (1023, .system), (1024, .registered),
                                            (8080, .registered), (49151, .registered), (49152, .dynamic), (65535, .dynamic)]
        for (p, c) in cases { #expect(PortClass(port: p) == c, "\(p)") }
    }

    @Test func ephemeralRange() throws {
        #expect(EphemeralRange(low: 10, high: 9) == nil)
        let one = try #require(EphemeralRange(low: 5, high: 5))
        #expect(one.size == 1 && one.contains(5) && !one.contains(4) && !one.contains(6))
        #expect(EphemeralRange(low: 0, high: 65535)?.size == 65536)
        #expect(EphemeralRange.linuxDefault.size == 28232)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(EphemeralRange.self, from: Data(#"{"low":9,"high":8}"#.utf8)) }
    }

    @Test func listenerQueueFlag() {
        let l = SocketRecord(proto: .tcp, family: .inet, state: .listen, local: Endpoint(address: .anyIPv4, port: 80),
                             remote: Endpoint(address: .anyIPv4, port: 0), recvQueue: 65, sendQueue: 128)
        func health(_ queue: UInt32, _ backlog: UInt32?) -> ListenerHealth {
            var r = l
            r.recvQueue = queue
            return ListenerHealth(listener: r, backlog: backlog, established: 0, peers: 0, topPeers: [])
        }
        #expect(health(65, 128).isQueueOverHalf && health(65, 128).queuePercent == 50)
        #expect(!health(64, 128).isQueueOverHalf, "exactly half is not over half")
        #expect(health(1, 0).isQueueOverHalf && health(1, 0).queuePercent == nil)
        #expect(!health(0, 0).isQueueOverHalf)
        #expect(!health(500, nil).isQueueOverHalf && health(500, nil).queuePercent == nil, "unknown backlog: no flag")
        #expect(health(UInt32.max, UInt32.max).queuePercent == 100, "no overflow")
    }

    @Test func pressureArithmeticAndCodable() throws {
        let p = PortPressure(proto: .tcp, remote: Endpoint(address: IPAddress("10.0.0.5")!, port: 443),
                             localAddress: IPAddress("10.0.0.2")!, localPorts: 6, connections: 9, rangeSize: 10)
        #expect(p.percent == 60 && p.isOverHalf)
        var q = p
        q.localPorts = 5
        #expect(!q.isOverHalf)
        q.rangeSize = 0
        #expect(q.percent == 0, "no division by zero")
        let report = EphemeralReport(range: EphemeralRange(low: 1000, high: 1009)!, destinations: [p, q])
        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(EphemeralReport.self, from: data) == report)
        #expect(report.warnings == [p])
    }

    @Test func mappedAddressesAndNodes() {
        #expect(IPAddress("::ffff:10.1.2.3")!.unmapped == IPAddress("10.1.2.3")!)
        #expect(IPAddress("2001:db8::1")!.unmapped == IPAddress("2001:db8::1")!)
        #expect(IPAddress("10.1.2.3")!.unmapped == IPAddress("10.1.2.3")!)
        let nodes: [MapNode] = [.remote(.anyIPv4), .user(3), .localPort(80), .process(Array("b".utf8)), .process(Array("a".utf8))]
        #expect(nodes.sorted() == [.process(Array("a".utf8)), .process(Array("b".utf8)), .localPort(80), .user(3), .remote(.anyIPv4)])
        var e = MapEdge(proto: .tcp, kind: .outbound, client: .user(0), server: .remote(.anyIPv4), port: 1)
        #expect(e.bytes == nil)
        e.bytesToClient = 5
        #expect(e.bytes == 5)
        e.bytesToServer = UInt64.max
        #expect(e.bytes == 4, "wraps rather than traps")
        #expect([MapEdge.Kind.inbound, .outbound, .local].sorted() == [.local, .outbound, .inbound])
    }
}
