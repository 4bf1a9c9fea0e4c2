import Foundation
import Glibc
import TestSupport
import Testing

/// `-K`: closes exactly what the filter selects, and nothing without a filter.
@Suite(.serialized) struct KillTests {
    /// A non-blocking read's outcome: the errno, 0 for end of file, -1 while the connection is alive.
    static func readState(_ s: TestSocket) -> Int32 {
        var buf = [UInt8](repeating: 0, count: 16)
        let n = recv(s.fd, &buf, buf.count, Int32(MSG_DONTWAIT))
        if n == 0 { return 0 }
        if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : errno }
        return -1
    }

    static func waitDead(_ s: TestSocket) -> Int32 {
        let deadline = Date().addingTimeInterval(5)
        var st = readState(s)
        while st == -1 && Date() < deadline { usleep(10_000); st = readState(s) }
        return st
    }

    @Test(.requires(.root)) func exactlyTheMatchedConnectionIsAborted() throws {
        let listener = try Loopback.tcpListener()
        let (victim, victimPeer) = try Loopback.tcpPair(listener)
        let (bystander, bystanderPeer) = try Loopback.tcpPair(listener)
        let r = try Binary.sockscope(["-K", "-tn", "sport = :\(victim.local.port)"])
        #expect(r.status == 0, "\(r.stderrText)")
        let rows = r.stdoutText.split(separator: "\n").dropFirst()
        #expect(rows.count == 1 && rows.first?.contains("127.0.0.1:\(victim.local.port)") == true, "it lists what it closed: \(r.stdoutText)")
        let killed = Self.waitDead(victim), peer = Self.waitDead(victimPeer)
        #expect(killed == ECONNABORTED || killed == ECONNRESET, "the closed socket's read: \(killed)")
        #expect(peer == ECONNRESET || peer == ECONNABORTED, "its peer's read: \(peer)")
        #expect(Self.readState(bystander) == -1 && Self.readState(bystanderPeer) == -1, "the unmatched connection survives")
        try Loopback.send(bystander, [1, 2, 3])
        #expect(try Loopback.receive(bystanderPeer, count: 3) == [1, 2, 3])
        withExtendedLifetime((listener, victim, victimPeer, bystander, bystanderPeer)) {}
    }

    @Test func unfilteredKillIsRefused() throws {
        for args in [["-K"], ["-tK"], ["-K", "-a"], ["-K", "--state", "established"], ["--dry-run", "-t"], ["-K", "-s", "dport = :1"]] {
            let r = try Binary.sockscope(args)
            #expect(r.status == 2 && r.stdout.isEmpty, "\(args): \(r.stderrText)")
        }
        let r = try Binary.sockscope(["-K", "-t"])
        #expect(r.stderrText.hasPrefix("sockscope: -K without a filter would close every socket"), "\(r.stderrText)")
    }

    /// SOCK_DESTROY knows only the IP families: a UNIX, packet or netlink table is refused up front,
    /// not reported as "would be closed".
    @Test func otherFamiliesCannotBeKilled() throws {
        for args in [["-xK", "--dry-run", "src unix:/tmp/*"], ["-A", "inet,unix", "-K", "dport = :1"], ["-0K", "dport = :1"], ["--netlink", "-K", "dport = :1"]] {
            let r = try Binary.sockscope(args)
            #expect(r.status == 2 && r.stdout.isEmpty, "\(args): \(r.stderrText)")
            #expect(r.stderrText.hasPrefix("sockscope: -K closes TCP, UDP, raw and MPTCP sockets"), "\(args): \(r.stderrText)")
        }
    }

    @Test(.requires(.root)) func dryRunKillsNothing() throws {
        let listener = try Loopback.tcpListener()
        let (a, b) = try Loopback.tcpPair(listener)
        let r = try Binary.sockscope(["-K", "--dry-run", "-tn", "sport = :\(a.local.port)"])
        #expect(r.status == 0 && r.stdoutText.contains("127.0.0.1:\(a.local.port)"), "\(r.stdoutText)\(r.stderrText)")
        #expect(r.stderrText.contains("1 socket would be closed"))
        #expect(Self.readState(a) == -1 && Self.readState(b) == -1)
        try Loopback.send(a, [9])
        #expect(try Loopback.receive(b, count: 1) == [9])
        withExtendedLifetime((listener, a, b)) {}
    }

    /// For several filters over a set of own connections: what -K closes is exactly what the same
    /// filter lists, never a socket it does not.
    @Test(.requires(.root)) func killNeverClosesWhatTheFilterDoesNotList() throws {
        for round in 0..<4 {
            let listener = try Loopback.tcpListener()
            var pairs: [(TestSocket, TestSocket)] = []
            for _ in 0..<8 { pairs.append(try Loopback.tcpPair(listener)) }
            let ports = pairs.map { $0.0.local.port }.sorted()
            let lp = listener.local.port
            let filters = [
                "sport = :\(ports[round])",
                "dport = :\(lp) and sport <= :\(ports[3])",
                "sport > :\(ports[5]) and dport = :\(lp)",
                "( sport = :\(ports[1]) or sport = :\(ports[6]) ) and dport = :\(lp)",
            ]
            let f = filters[round]
            let listed = try Binary.sockscope(["-tnH", f])
            let expected = Set(listed.stdoutText.split(separator: "\n").map(String.init))
            let r = try Binary.sockscope(["-K", "-tnH", f])
            #expect(r.status == 0, "\(r.stderrText)")
            #expect(Set(r.stdoutText.split(separator: "\n").map(String.init)) == expected, "\(f)")
            for (c, s) in pairs {
                let selected = expected.contains { $0.contains("127.0.0.1:\(c.local.port) ") }
                let state = Self.waitDeadIf(selected, c)
                #expect(selected ? state != -1 : state == -1, "\(f): client port \(c.local.port) selected=\(selected) read=\(state)")
                withExtendedLifetime(s) {}
            }
            withExtendedLifetime(listener) {}
        }
    }

    static func waitDeadIf(_ selected: Bool, _ s: TestSocket) -> Int32 { selected ? waitDead(s) : readState(s) }
}
