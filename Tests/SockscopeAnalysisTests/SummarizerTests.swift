import SockscopeAnalysis
import SockscopeModel
import Testing

@Suite struct SummarizerTests {
    func rec(_ proto: TransportProtocol, _ state: SocketState, _ lport: UInt16, _ remote: String = "0.0.0.0", _ rport: UInt16 = 0,
             family: AddressFamily = .inet) -> SocketRecord {
        SocketRecord(proto: proto, family: family, state: state,
                     local: Endpoint(address: IPAddress(family == .inet ? "10.0.0.1" : "::1")!, port: lport),
                     remote: Endpoint(address: IPAddress(remote)!, port: rport))
    }

    @Test func countsByProtocolStateListenerAndPeer() {
        var rs = [rec(.tcp, .listen, 443), rec(.tcp, .listen, 443, family: .inet6), rec(.tcp, .listen, 22)]
        for i in 0..<5 { rs.append(rec(.tcp, .established, 443, "10.0.0.9", 40000 + UInt16(i))) }
        for i in 0..<2 { rs.append(rec(.tcp, .established, 22, "10.0.0.7", 50000 + UInt16(i))) }
        rs.append(rec(.tcp, .timeWait, 443, "10.0.0.9", 39999))
        rs.append(rec(.udp, .close, 53))
        rs.append(rec(.tcp, .established, 41000, "10.0.0.8", 5432))  // outgoing: not served by a listener
        let s = Summarizer.summarize(rs, top: 2)
        #expect(s.total == rs.count)
        #expect(s.protocols.first { $0.proto == .tcp && $0.family == .inet6 }?.count == 1)
        #expect(s.protocols.first { $0.proto == .udp && $0.family == .inet }?.count == 1)
        #expect(s.states.first { $0.proto == .tcp && $0.state == "ESTABLISHED" }?.count == 8)
        #expect(s.states.first { $0.proto == .udp && $0.state == "UNCONN" }?.count == 1)
        #expect(s.topListeningPorts == [.init(port: 443, listeners: 2, established: 5), .init(port: 22, listeners: 1, established: 2)])
        #expect(s.topPeers.map(\.established) == [5, 2], "top two peers only")
        #expect(s.topPeers.first?.address.description == "10.0.0.9")
    }
}
