import Foundation
import SockscopeModel
import Testing

@Suite struct EndpointModelTests {
    /// A plain listing holds one record per socket: the endpoints' sum type must not make it larger
    /// than it was with two plain inet endpoints (104 bytes; 10 MB at 100k sockets).
    @Test func recordStaysAsSmallAsWithPlainInetEndpoints() {
        #expect(MemoryLayout<SocketEndpoint>.size <= 24, "\(MemoryLayout<SocketEndpoint>.size)")
        #expect(MemoryLayout<SocketRecord>.stride <= 104, "\(MemoryLayout<SocketRecord>.stride)")
    }

    @Test func inetCodeReadsAddressAndPortThroughTheSumType() {
        var r = SocketRecord(proto: .tcp, family: .inet, state: .established,
                             local: Endpoint(address: IPAddress("127.0.0.1")!, port: 80),
                             remote: Endpoint(address: IPAddress("10.0.0.2")!, port: 40000))
        #expect(r.local.port == 80 && r.remote.address == IPAddress("10.0.0.2"))
        #expect(r.local.inet == Endpoint(address: IPAddress("127.0.0.1")!, port: 80))
        r.local.port = 81
        #expect(r.local == .inet(Endpoint(address: IPAddress("127.0.0.1")!, port: 81)))
    }

    @Test func otherFamiliesHaveNoIPAddressOrPort() {
        var u = SocketRecord(proto: .unixStream, family: .unix, state: .established,
                             local: .unix(UnixEndpoint(name: .path(Array("/run/x.sock".utf8)), inode: 7)),
                             remote: .unix(UnixEndpoint(name: .unnamed, inode: 8)), inode: 7)
        #expect(u.local.inet == nil && u.local.port == 0 && u.remote.address == .anyIPv4)
        u.local.port = 99
        #expect(u.local == .unix(UnixEndpoint(name: .path(Array("/run/x.sock".utf8)), inode: 7)), "writing a port is ignored")
        #expect(u.stateName == "ESTABLISHED")
        let p = SocketRecord(proto: .packetRaw, family: .packet, state: .close,
                             local: .packet(PacketEndpoint(interfaceIndex: 2, protocolNumber: 3)),
                             remote: .packet(PacketEndpoint(interfaceIndex: 0, protocolNumber: 0)))
        #expect(p.stateName == "UNCONN")
    }

    @Test func everyProtocolNamesItsFamiliesAndOrder() {
        for p in TransportProtocol.allCases {
            #expect(!p.families.isEmpty)
            #expect(p.families.allSatisfy(\.isIP) == (p.ipProtocol != nil), "\(p)")
        }
        #expect(TransportProtocol.mptcp.ipProtocol == 262, "MPTCP's number does not fit a byte")
        #expect(TransportProtocol.allCases.sorted() == TransportProtocol.allCases)
        #expect(TransportProtocol.tcp < .udp && AddressFamily.inet < .inet6)
        for f in AddressFamily.allCases { #expect(AddressFamily(rawFamily: f.rawFamily) == f) }
        #expect(SocketState.close.kernelName(for: .tcp) == "CLOSE" && SocketState.close.kernelName(for: .udp) == "UNCONN")
    }

    @Test func codableFormOfEachFamily() throws {
        let ends: [SocketEndpoint] = [
            .inet(Endpoint(address: IPAddress("::1")!, port: 53)),
            .unix(UnixEndpoint(name: .path(Array("/tmp/s".utf8)), inode: 5)),
            .unix(UnixEndpoint(name: .abstract(Array("abs".utf8)), inode: 6)),
            .unix(UnixEndpoint(name: .unnamed, inode: 0)),
            .packet(PacketEndpoint(interfaceIndex: 2, protocolNumber: 0x0800)),
            .netlink(NetlinkEndpoint(protocolNumber: 0, portID: 1234, groups: 5)),
        ]
        let data = try JSONEncoder().encode(ends)
        // A UNIX end is its name alone (`--json` keeps the inodes at the record's `inode` and `peer_inode`).
        let nameOnly = ends.map { e -> SocketEndpoint in
            if case .unix(let u) = e { return .unix(UnixEndpoint(name: u.name, inode: 0)) }
            return e
        }
        #expect(try JSONDecoder().decode([SocketEndpoint].self, from: data) == nameOnly)
        #expect(String(decoding: try JSONEncoder().encode(ends[1]), as: UTF8.self) == #"{"path":"\/tmp\/s"}"#)
        #expect(String(decoding: try JSONEncoder().encode(ends[3]), as: UTF8.self) == "{}")
        let inet = String(decoding: try JSONEncoder().encode(ends[0]), as: UTF8.self)
        #expect(inet == #"{"address":"::1","port":53}"# || inet == #"{"port":53,"address":"::1"}"#, "inet stays {address, port}")
    }
}
