import Foundation
import Glibc
import TestSupport
import Testing

/// `-E`: ss's events mode, the kernel's destroy notifications as table rows.
@Suite(.serialized) struct EventsTests {
    @Test(.requires(.root)) func destroyedSocketsArePrintedAsRows() throws {
        let listener = try Loopback.tcpListener()
        let port = listener.local.port
        let (client, server) = try Loopback.tcpPair(listener)
        let child = try StreamingProcess(Binary.sockscope, ["-E", "-tn", "--sport", String(port), "--count", "2"])
        defer { _ = child.stop() }
        // The header is written once the destroy groups are joined: from then on nothing is missed.
        #expect(child.wait(timeout: 10) { $0.first?.hasPrefix("State") == true }, "\(child.output)")
        // An abortive close (linger 0) destroys the accepted socket at once; closing the listener destroys it.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(server.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(server.fd)
        close(listener.fd)
        #expect(child.wait(timeout: 10) { $0.count >= 3 }, "\(child.output)")
        let rows = child.output.dropFirst()
        // The aborted connection (the kernel has cleared its peer port by then, as ss -E shows too) and the listener.
        #expect(rows.contains { $0.contains("127.0.0.1:\(port) ") && $0.contains(" 127.0.0.1:") }, "\(rows)")
        #expect(rows.contains { $0.contains("127.0.0.1:\(port) ") && $0.hasSuffix("0.0.0.0:*") }, "the listener: \(rows)")
        #expect(rows.allSatisfy { $0.contains(":\(port) ") }, "only the selected port: \(rows)")
        withExtendedLifetime(client) {}
    }

    @Test func eventsModeRefusesWhatItCannotShow() throws {
        for args in [["-E", "-p"], ["-E", "-i"], ["-E", "--json"], ["-E", "-s"], ["-E", "--pid", "1"]] {
            let r = try Binary.sockscope(args)
            #expect(r.status == 2, "\(args): \(r.stderrText)")
        }
    }
}

/// `sockscope :PORT`: who uses a port, either end, every state, with owners.
@Suite struct PortShorthandTests {
    @Test func barePortWordListsBothEndsInEveryStateWithOwners() throws {
        let listener = try Loopback.tcpListener()
        let port = listener.local.port
        let (client, server) = try Loopback.tcpPair(listener)
        let other = try Loopback.tcpListener()
        let r = try Binary.sockscope(["-n", ":\(port)"])
        #expect(r.status == 0, "\(r.stderrText)")
        let rows = r.stdoutText.split(separator: "\n").dropFirst()
        #expect(rows.contains { $0.contains("LISTEN") && $0.contains("127.0.0.1:\(port) ") }, "the listener: \(r.stdoutText)")
        #expect(rows.filter { $0.contains("ESTAB") }.count == 2, "both ends of the connection: \(r.stdoutText)")
        #expect(rows.allSatisfy { $0.contains(":\(port) ") || $0.hasSuffix(":\(port)") || $0.contains(":\(port) users") })
        #expect(rows.allSatisfy { $0.contains("users:((") }, "owners shown: \(r.stdoutText)")
        #expect(!rows.contains { $0.contains(":\(other.local.port)") })
        withExtendedLifetime((listener, client, server, other)) {}
    }
}
