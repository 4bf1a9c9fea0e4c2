import Foundation
import Glibc
import TestSupport
import Testing

/// `-E`: ss's events mode, the kernel's destroy notifications as table rows.
@Suite(.serialized) struct EventsTests {
    @Test(.requires(.root)) func destroyedSocketsArePrintedAsRows() throws {
        var listener: TestSocket? = try Loopback.tcpListener()
        let port = listener!.local.port
        var (client, server): (TestSocket, TestSocket?) = try Loopback.tcpPair(listener!)
        let child = try StreamingProcess(Binary.sockscope, ["-E", "-tn", "--sport", String(port), "--count", "2"])
        defer { _ = child.stop() }
        // The header is written once the destroy groups are joined: from then on nothing is missed.
        #expect(child.wait(timeout: 10) { $0.first?.hasPrefix("State") == true }, "\(child.output)")
        // An abortive close (linger 0) destroys the accepted socket at once; closing the listener destroys it.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(server!.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        // Closed by releasing them (each TestSocket closes its descriptor exactly once).
        server = nil
        listener = nil
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

/// `--cgroup`: the socket's cgroup v2 path, from the id the kernel reports.
@Suite struct CgroupTests {
    /// In a private mount namespace with cgroup2 mounted on /sys/fs/cgroup, a listener in a new
    /// cgroup shows that cgroup's path.
    @Test(.requires(.root, .tool("unshare", package: "util-linux"))) func listenerShowsItsCgroupPath() throws {
        let name = "sockscope-test-\(getpid())"
        let script = """
        set -e
        mount -t cgroup2 none /sys/fs/cgroup
        mkdir /sys/fs/cgroup/\(name)
        trap 'kill $P 2>/dev/null; wait $P 2>/dev/null || true; rmdir /sys/fs/cgroup/\(name); exit 0' EXIT
        python3 -c 'import os,socket,time,signal
        signal.alarm(30)
        open("/sys/fs/cgroup/\(name)/cgroup.procs","w").write(str(os.getpid()))
        s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()
        open("/tmp/\(name).port","w").write(str(s.getsockname()[1]))
        time.sleep(30)' &
        P=$!
        for i in $(seq 100); do [ -s /tmp/\(name).port ] && break; sleep 0.05; done
        PORT=$(cat /tmp/\(name).port); rm -f /tmp/\(name).port
        "\(Binary.sockscope)" -tlnH --cgroup --sport "$PORT"
        "\(Binary.sockscope)" -tln --json --cgroup --sport "$PORT"
        """
        let r = try Binary.run(try Requirement.tool("unshare", package: "util-linux").path(), ["-m", "sh", "-c", script])
        #expect(r.status == 0, "\(r.stderrText)")
        let lines = r.stdoutText.split(separator: "\n")
        #expect(lines.first?.hasPrefix("LISTEN") == true && lines.first?.hasSuffix("cgroup:/\(name)") == true, "\(r.stdoutText)")
        #expect(r.stdoutText.contains(#""cgroup":"/\#(name)""#), "\(r.stdoutText)")
    }
}
