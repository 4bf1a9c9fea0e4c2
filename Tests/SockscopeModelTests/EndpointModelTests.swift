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
                             local: .unix(UnixEndpoint(kind: .path, inode: 7)),
                             remote: .unix(UnixEndpoint(kind: .unnamed, inode: 8)), inode: 7)
        u.unixName = Array("/run/x.sock".utf8)
        #expect(u.local.inet == nil && u.local.port == 0 && u.remote.address == .anyIPv4)
        u.local.port = 99
        #expect(u.local == .unix(UnixEndpoint(kind: .path, inode: 7)), "writing a port is ignored")
        #expect(_isPOD(SocketEndpoint.self), "endpoints are plain values: no reference counting per copy")
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
            .unix(UnixEndpoint(kind: .path, inode: 5)),
            .unix(UnixEndpoint(kind: .abstract, inode: 6)),
            .unix(UnixEndpoint(kind: .unnamed, inode: 0)),
            .packet(PacketEndpoint(interfaceIndex: 2, protocolNumber: 0x0800)),
            .netlink(NetlinkEndpoint(protocolNumber: 0, portID: 1234, groups: 5)),
        ]
        let data = try JSONEncoder().encode(ends)
        #expect(try JSONDecoder().decode([SocketEndpoint].self, from: data) == ends)
        let inet = String(decoding: try JSONEncoder().encode(ends[0]), as: UTF8.self)
        #expect(inet == #"{"address":"::1","port":53}"# || inet == #"{"port":53,"address":"::1"}"#, "inet stays {address, port}")
    }

    /// A UNIX record's names travel with the record: the `Codable` form has the listing's
    /// documented object, each end its name alone (`{"abstract"}`, `{"path"}`, `{}`), the inodes
    /// at `inode` and `peer_inode`, the bound file at `vfs`.
    @Test func unixRecordRoundTripsWithItsNames() throws {
        var r = SocketRecord(proto: .unixStream, family: .unix, state: .listen,
                             local: .unix(UnixEndpoint(kind: .abstract, inode: 42)),
                             remote: .unix(UnixEndpoint(kind: .unnamed, inode: 0)), inode: 42)
        r.unixName = Array("sock\"et".utf8)
        let data = try JSONEncoder().encode(r)
        let back = try JSONDecoder().decode(SocketRecord.self, from: data)
        #expect(back == r)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["proto"] as? String == "stream" && object["family"] as? String == "unix")
        #expect((object["local"] as? [String: Any])?["abstract"] as? String == "sock\"et")
        #expect((object["remote"] as? [String: Any])?.isEmpty == true)
        #expect(object["peer_inode"] as? Int == 0)

        var c = SocketRecord(proto: .unixSeqpacket, family: .unix, state: .established,
                             local: .unix(UnixEndpoint(kind: .unnamed, inode: 50)),
                             remote: .unix(UnixEndpoint(kind: .path, inode: 51)), inode: 50)
        c.peerUnixName = Array("/run/x.sock".utf8)
        c.unix = UnixDetails(vfsDevice: 2049, vfsInode: 77)
        #expect(c.remoteUnixName == .path(Array("/run/x.sock".utf8)) && c.localUnixName == .unnamed && c.peerInode == 51)
        let cd = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(SocketRecord.self, from: cd) == c)
        let co = try #require(try JSONSerialization.jsonObject(with: cd) as? [String: Any])
        #expect(co["proto"] as? String == "seqpacket" && co["peer_inode"] as? Int == 51)
        #expect((co["remote"] as? [String: Any])?["path"] as? String == "/run/x.sock")
        #expect((co["vfs"] as? [String: Any])?["ino"] as? Int == 77)
    }
}
