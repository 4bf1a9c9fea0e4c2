import Foundation
import SockscopeModel
import SockscopeRender
import Testing

/// The TCP/UDP listing's bytes (`--json` with and without `-e` and port context, and the table as
/// `-tuan`, `-tuanp`, `-tuanei` and `-m` print it) over synthetic records that set every field,
/// compared with files under `Golden/`: a change to the model or the writers must not move a byte.
///
/// To regenerate after an intended change, run with `SOCKSCOPE_UPDATE_GOLDEN=1`:
///
///     SOCKSCOPE_UPDATE_GOLDEN=1 swift test --filter OutputShapeGoldenTests
///
/// and review the diff of `Tests/SockscopeRenderTests/Golden/` before committing it.
@Suite struct OutputShapeGoldenTests {
    static func check(_ name: String, _ actual: [UInt8], file: String = #filePath) throws {
        let url = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("Golden/\(name)")
        if ProcessInfo.processInfo.environment["SOCKSCOPE_UPDATE_GOLDEN"] == "1" {
            try Data(actual).write(to: url)
            return
        }
        let expected = [UInt8](try Data(contentsOf: url))
        let a = String(decoding: actual, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let e = String(decoding: expected, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let firstDiff = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(actual == expected, """
            \(name) differs from Golden/\(name)\
            \(firstDiff.map { " at line \($0.offset + 1):\n  got:      \($0.element.0)\n  expected: \($0.element.1)" } ?? "")
            (regenerate with SOCKSCOPE_UPDATE_GOLDEN=1 if the change is intended)
            """)
    }

    /// Every state of both protocols and families, every optional field set on some record and
    /// absent on another, owners with hostile names, interface by name and by index only.
    static func records() -> [SocketRecord] {
        var out: [SocketRecord] = []
        let v4 = ["127.0.0.1", "10.1.2.3", "0.0.0.0", "255.255.255.255"]
        let v6 = ["::1", "::ffff:127.0.0.1", "2001:db8::2", "::", "fe80::1"]
        var n: UInt64 = 1
        for proto in [TransportProtocol.tcp, .udp] {
            for (fi, family) in [AddressFamily.inet, .inet6].enumerated() {
                let addrs = fi == 0 ? v4 : v6
                for state in SocketState.allCases {
                    if proto == .udp && state != .established && state != .close { continue }
                    let la = IPAddress(addrs[Int(n) % addrs.count])!, ra = IPAddress(addrs[Int(n + 1) % addrs.count])!
                    let lp: UInt16 = [22, 80, 443, 53, 8080, 50000, 65535, 1][Int(n) % 8]
                    let rp: UInt16 = state == .listen || state == .close ? 0 : [40000, 443, 32768, 60999][Int(n) % 4]
                    var r = SocketRecord(proto: proto, family: family, state: state,
                                         local: Endpoint(address: la, port: lp), remote: Endpoint(address: ra, port: rp),
                                         recvQueue: UInt32(n * 7 % 100), sendQueue: UInt32(n * 13 % 4097),
                                         uid: UInt32(n % 3 == 0 ? 0 : 1000 + n), inode: n % 5 == 0 ? 0 : 10_000 + n,
                                         interfaceIndex: n % 6 == 0 ? 1 : (n % 7 == 0 ? 42 : 0),
                                         interface: n % 6 == 0 ? "lo" : nil, cookie: n % 4 == 0 ? nil : 0xABC0 + n)
                    if n % 3 == 1 {
                        r.processes = [SocketOwner(pid: Int32(n), rawName: hostileNames[Int(n) % hostileNames.count],
                                                   uid: 0, user: n % 2 == 0 ? "root" : nil, fd: Int32(n % 9 + 3),
                                                   cgroup: n % 2 == 0 ? "/system.slice/x.service" : nil,
                                                   unit: n % 2 == 0 ? "x.service" : nil,
                                                   container: n % 5 == 1 ? "0123456789ab" : nil),
                                       SocketOwner(pid: Int32(n + 100), rawName: Array("nginx".utf8), uid: 33, fd: 7)]
                    } else if n % 3 == 2 {
                        r.processes = []
                    }
                    if proto == .tcp && n % 2 == 0 {
                        r.tcpInfo = TCPInfo(rttUs: UInt32(n * 1234), rttvarUs: 56, rtoUs: 204_000, mss: 1448, cwnd: 10,
                                            ssthresh: n % 4 == 0 ? nil : 7, unacked: UInt32(n % 2), retrans: UInt32(n % 3),
                                            totalRetrans: 2, lost: UInt32(n % 2),
                                            bytesAcked: n % 8 == 0 ? nil : 100 * n, bytesReceived: 200, bytesSent: 300,
                                            deliveryRate: n % 8 == 0 ? nil : 1_500_000 * n, pacingRate: 2_000_000_000,
                                            congestion: n % 8 == 0 ? nil : "cubic\u{1B}[2J",
                                            lastSendMs: 5, lastRecvMs: 6, minRttUs: n % 8 == 0 ? nil : 40)
                    }
                    if n % 4 == 1 {
                        r.memory = SocketMemory(rmemAlloc: 1, rcvbuf: 131_072, wmemAlloc: 3, sndbuf: 16_384, fwdAlloc: 5,
                                                wmemQueued: 6, optmem: 7, backlog: 8, drops: UInt32(n))
                    }
                    out.append(r)
                    n += 1
                }
            }
        }
        return out
    }

    static func services() -> ServiceTable {
        var svc = ServiceTable()
        svc.add(name: "ssh", port: 22, proto: .tcp)
        svc.add(name: "http", port: 80, proto: .tcp)
        svc.add(name: "https", port: 443, proto: .tcp)
        svc.add(name: "https", port: 443, proto: .udp)
        svc.add(name: "domain", port: 53, proto: .udp)
        svc.add(name: "domain", port: 53, proto: .tcp)
        svc.add(name: "http-alt", port: 8080, proto: .tcp)
        return svc
    }

    func json(_ renderer: JSONRenderer) -> [UInt8] {
        var out: [UInt8] = []
        renderer.renderArray(Self.records(), into: &out, flush: { _ in })
        return out
    }

    func table(_ options: TableOptions) -> [UInt8] {
        var out: [UInt8] = []
        TableRenderer(options: options).render(Self.records(), into: &out, flush: { _ in })
        return out
    }

    @Test func jsonIsByteIdentical() throws {
        try Self.check("list.json", json(JSONRenderer()))
        try Self.check("list-e.json", json(JSONRenderer(includeCookie: true)))
        let context = PortContext(services: Self.services(), ephemeral: EphemeralRange(low: 32768, high: 60999))
        try Self.check("list-e-ports.json", json(JSONRenderer(includeCookie: true, ports: context)))
        try Self.check("list-ports-no-range.json", json(JSONRenderer(ports: PortContext(services: Self.services()))))
    }

    @Test func jsonGoldenIsValidAndHoldsEveryRecord() throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(json(JSONRenderer(includeCookie: true)))) as? [Any]
        #expect(parsed?.count == Self.records().count)
    }

    @Test func tableIsByteIdentical() throws {
        let svc = Self.services()
        try Self.check("tuan.txt", table(TableOptions(numeric: true, services: svc)))
        try Self.check("tuap.txt", table(TableOptions(numeric: false, services: svc, processes: true)))
        try Self.check("tuanp.txt", table(TableOptions(numeric: true, services: svc, processes: true)))
        try Self.check("tuanei.txt", table(TableOptions(numeric: true, services: svc, extended: true, info: true)))
        try Self.check("tuanm-noheader.txt", table(TableOptions(header: false, numeric: true, services: svc, netid: false, memory: true)))
    }
}
