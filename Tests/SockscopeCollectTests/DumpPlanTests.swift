import Foundation
@testable import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeSystem
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct DumpPlanTests {
    @Test func planIsPerProtocolAndFamily() {
        let q = Query(protocols: [.tcp, .udp, .mptcp, .unixStream], families: [.inet, .inet6, .unix])
        let (parts, unplanned) = SocketCollector.dumpParts(q, legacyTCP: true)
        #expect(parts.map { "\($0.proto.rawValue)/\($0.family?.rawValue ?? "any")" }
                == ["tcp/any", "udp/inet", "udp/inet6", "mptcp/inet", "mptcp/inet6"])
        #expect(unplanned == [.unixStream], "a family with no reader yet is named, not silently empty")
        let v6 = SocketCollector.dumpParts(Query(protocols: [.tcp], families: [.inet6]), legacyTCP: true).parts
        #expect(v6.map(\.family) == [.inet6], "one IP family: no legacy both-families walk")
    }

    @Test func destroyGroupsExistOnlyForTCPAndUDPOverIP() {
        #expect(DestroyListener.group(.tcp, .inet) == 1 && DestroyListener.group(.udp, .inet) == 2)
        #expect(DestroyListener.group(.tcp, .inet6) == 3 && DestroyListener.group(.udp, .inet6) == 4)
        #expect(DestroyListener.group(.mptcp, .inet) == nil && DestroyListener.group(.unixStream, .unix) == nil)
    }

    @Test func tableFingerprintHasCountersOnlyForTCPAndUDP() {
        let f = TableFingerprint(tcp: [1], udp: [2])
        #expect(f.of(.tcp) == [1] && f.of(.udp) == [2] && f.of(.mptcp) == nil)
    }

    /// MPTCP's protocol number (262) does not fit the request's byte: the dump asks for it through
    /// the protocol attribute, and the kernel answers with this test's own MPTCP listener.
    @Test func mptcpListenerIsDumpedByItsWideProtocolNumber() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 262)
        guard fd >= 0 else {
            // EPROTONOSUPPORT / EINVAL: this kernel has no MPTCP, which the plan must still express.
            #expect(errno == EPROTONOSUPPORT || errno == EINVAL || errno == ENOPROTOOPT)
            return
        }
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        } }
        try #require(bound == 0 && listen(fd, 8) == 0)
        var st = stat()
        try #require(fstat(fd, &st) == 0)

        let s = try SockDiagSocket()
        let number = try #require(TransportProtocol.mptcp.ipProtocol)
        let seq = try s.requestDump(family: AddressFamily.inet.rawFamily, protocol: number,
                                    states: SocketState.listen.maskBit, extensions: 0, bytecode: nil)
        var parser = InetDiagParser(proto: .mptcp, sequence: seq)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: SockDiagSocket.receiveBufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var found: [SocketRecord] = []
        for _ in 0..<1000 {
            let n = try s.receive(into: buffer)
            if case .done = try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), emit: { found.append($0) }) { break }
        }
        let mine = found.filter { $0.inode == UInt64(st.st_ino) }
        #expect(mine.count == 1 && mine.first?.proto == .mptcp && mine.first?.state == .listen
                && mine.first?.local.address == IPAddress("127.0.0.1"), "\(found)")
    }
}
