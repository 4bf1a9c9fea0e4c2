import SockscopeAnalysis
import SockscopeFilter
import SockscopeModel
@testable import SockscopeTUI

/// A fixed, made-up socket table in two refreshes (t = 100 and t = 102), covering listeners on
/// both families, connections with tcp_info, a new, a closed and a state-changed socket, UDP,
/// several owners, and hostile process and interface names.
enum Synthetic {
    static let services: ServiceTable = {
        var s = ServiceTable()
        s.add(name: "ssh", port: 22, proto: .tcp)
        s.add(name: "http", port: 80, proto: .tcp)
        s.add(name: "https", port: 443, proto: .tcp)
        s.add(name: "postgresql", port: 5432, proto: .tcp, aliases: ["postgres"])
        s.add(name: "domain", port: 53, proto: .udp)
        return s
    }()

    static func v4(_ s: String, _ port: UInt16) -> Endpoint { Endpoint(address: IPAddress(s)!, port: port) }

    static func owner(_ pid: Int32, _ name: String, fd: Int32 = 3, unit: String? = nil) -> SocketOwner {
        SocketOwner(pid: pid, rawName: Array(name.utf8), uid: 0, user: "root", fd: fd,
                    cgroup: unit.map { "/system.slice/" + $0 }, unit: unit)
    }

    static func tcp(_ state: SocketState, _ local: Endpoint, _ remote: Endpoint, cookie: UInt64, recvQ: UInt32 = 0,
                    sendQ: UInt32 = 0, rtt: UInt32 = 0, received: UInt64? = nil, acked: UInt64? = nil,
                    owners: [SocketOwner]? = nil) -> SocketRecord {
        var r = SocketRecord(proto: .tcp, family: local.address.isIPv6 ? .inet6 : .inet, state: state, local: local,
                             remote: remote, recvQueue: recvQ, sendQueue: sendQ, uid: 0, inode: cookie * 1000,
                             cookie: cookie)
        r.tcpInfo = TCPInfo(rttUs: rtt, rttvarUs: rtt / 2, rtoUs: 204_000, mss: 1448, cwnd: 10, unacked: 0,
                            bytesAcked: acked, bytesReceived: received, bytesSent: acked, congestion: "cubic",
                            lastSendMs: 120, lastRecvMs: 80, minRttUs: rtt / 3)
        r.memory = SocketMemory(rmemAlloc: 0, rcvbuf: 131_072, wmemAlloc: 0, sndbuf: 87_040)
        r.processes = owners ?? []
        return r
    }

    static let any4 = Endpoint(address: .anyIPv4, port: 0)
    static let any6 = Endpoint(address: .anyIPv6, port: 0)
    static let host = "10.0.0.5"
    static let v6 = IPAddress("2001:db8::1")!

    static func v6(_ s: String, _ port: UInt16) -> Endpoint { Endpoint(address: IPAddress(s)!, port: port) }

    static func records(second: Bool) -> [SocketRecord] {
        var r: [SocketRecord] = [
            tcp(.listen, v4("0.0.0.0", 22), any4, cookie: 1, sendQ: 128, owners: [owner(812, "sshd", unit: "ssh.service")]),
            tcp(.listen, Endpoint(address: .anyIPv6, port: 443), any6, cookie: 2, recvQ: 3, sendQ: 511,
                owners: [owner(1200, "nginx", fd: 6), owner(1201, "nginx", fd: 6)]),
            tcp(.listen, v4("127.0.0.1", 5432), any4, cookie: 3, sendQ: 244, owners: [owner(950, "postgres")]),
            tcp(.established, v4(host, 22), v4("203.0.113.7", 51234), cookie: 10, rtt: 23_400,
                received: second ? 14_000 : 10_000, acked: second ? 260_000 : 200_000, owners: [owner(1500, "sshd")]),
            tcp(.established, v6("2001:db8::1", 443), v6("2001:db8::99", 40001), cookie: 11, sendQ: 2896, rtt: 850,
                received: second ? 2_400 : 1_200, acked: second ? 9_000_000 : 1_000_000, owners: [owner(1200, "nginx")]),
            tcp(.established, v6("2001:db8::1", 443), v6("2001:db8::99", 40002), cookie: 12, rtt: 910,
                received: 900, acked: 1_500, owners: [owner(1201, "nginx")]),
            tcp(.established, v4("127.0.0.1", 5432), v4("127.0.0.1", 39000), cookie: 14, rtt: 52,
                received: 300, acked: 4_000, owners: [owner(4242, "evil\u{1b}]0;pwned\u{07}")]),
            tcp(.established, v4("127.0.0.1", 39000), v4("127.0.0.1", 5432), cookie: 15, rtt: 47,
                received: 4_000, acked: 300, owners: [owner(3000, "psql")]),
            tcp(second ? .timeWait : .established, v4(host, 48000), v4("93.184.216.34", 443), cookie: 16,
                rtt: 95_000, received: 5_000, acked: 700),
        ]
        if second {
            r.append(tcp(.established, v6("2001:db8::1", 443), v6("2001:db8::42", 40003), cookie: 13, rtt: 1_200,
                         received: 517, acked: 0, owners: [owner(1200, "nginx")]))
        } else {
            r.append(tcp(.established, v4(host, 48100), v4("93.184.216.34", 80), cookie: 17, rtt: 88_000,
                         received: 70_000, acked: 1_000))
        }
        var unconn = SocketRecord(proto: .udp, family: .inet, state: .close, local: v4("0.0.0.0", 53), remote: any4,
                                  inode: 20_000, interfaceIndex: 2, interface: "eth0\u{1b}[31m", cookie: 20)
        unconn.processes = [owner(700, "dnsmasq")]
        r.append(unconn)
        var udp = SocketRecord(proto: .udp, family: .inet, state: .established, local: v4(host, 41000),
                               remote: v4("8.8.8.8", 53), inode: 21_000, cookie: 21)
        udp.processes = []
        r.append(udp)
        return r
    }

    /// The tracker after both refreshes.
    static func tracker() -> ChangeTracker {
        var t = ChangeTracker(closedRetention: 5)
        _ = t.update(Snapshot(records: records(second: false), source: .netlink), at: 100)
        _ = t.update(Snapshot(records: records(second: true), source: .netlink), at: 102)
        return t
    }

    static func settings(states: StateSet = .all, numeric: Bool = false) -> WatchSettings {
        WatchSettings(host: "testhost", interval: 1, states: states, services: services, numeric: numeric)
    }

    /// A view model with both refreshes taken.
    static func model(states: StateSet = .all, numeric: Bool = false) -> ViewModel {
        var m = ViewModel(settings: settings(states: states, numeric: numeric))
        let t = tracker()
        m.ingest(t.sockets, source: .netlink, at: 102)
        return m
    }
}
