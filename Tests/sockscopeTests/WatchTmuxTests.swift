import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SockscopeModel
import TestSupport
import Testing

/// A private tmux server for one test: its own socket name, no user config, always killed.
///
/// tmux runs through `posix_spawn` + `waitpid` with its output in a file, not through `Process`
/// and pipes: the server daemonizes from the first client and would hold any inherited pipe open.
struct TmuxServer {
    let name = "sockscope-test-\(UInt32.random(in: 0...UInt32.max))"
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-tmux-\(UUID().uuidString)").path
    static var path: String? { Requirement.tool("tmux").location }

    /// Runs tmux on this server with stdin from /dev/null and stdout+stderr into a file; returns
    /// (status, output). Killed after `timeout` seconds.
    @discardableResult
    func run(_ args: [String], timeout: Double = 10) throws -> (status: Int32, text: String) {
        guard let tmux = Self.path else { throw TmuxMissing() }
        let argv = [tmux, "-L", name, "-f", "/dev/null"] + args
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        // Without the reset the server and its shells never see SIGHUP/SIGTERM, and kill-server
        // leaves them running.
        var pid: pid_t = 0
        let rc = withSignalsReset { posix_spawn(&pid, tmux, &actions, &$0, &cArgs, &cEnv) }
        guard rc == 0 else { throw TmuxFailed(description: "posix_spawn tmux: \(rc)") }
        var status: Int32 = 0
        let done = Self.waitUntil(timeout) { waitpid(pid, &status, WNOHANG) == pid }
        if !done {
            Glibc.kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            throw TmuxFailed(description: "tmux \(args.first ?? "") did not finish in \(timeout) s")
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return ((status >> 8) & 0xFF, text)
    }

    func newSession(width: Int, height: Int) throws {
        let r = try run(["new-session", "-d", "-x", "\(width)", "-y", "\(height)", "-s", "t", "/bin/sh"])
        guard r.status == 0 else { throw TmuxFailed(description: "tmux new-session failed: \(r.text)") }
    }

    func capture() throws -> [String] {
        try run(["capture-pane", "-p", "-t", "t"]).text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func kill() {
        _ = try? run(["kill-server"])
        try? FileManager.default.removeItem(atPath: output)
    }

    /// Polls `check` every 100 ms for at most `seconds`; true as soon as it holds.
    static func waitUntil(_ seconds: Double, _ check: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try check() { return true }
            usleep(100_000)
        } while Date() < deadline
        return try check()
    }
}

struct TmuxMissing: Error, CustomStringConvertible {
    var description: String { "tmux is not installed: the live-view tests need it (apt-get install tmux)" }
}

struct TmuxFailed: Error, CustomStringConvertible {
    var description: String
}

/// True when a whitespace-separated field of the line is an endpoint with this port.
func mentions(_ line: String, port: UInt16) -> Bool {
    line.split(separator: " ").contains { $0.hasSuffix(":\(port)") }
}

/// The real binary in a real terminal: tmux gives it a pty of a fixed size, we read the screen back.
@Suite(.serialized, .requires(.tool("tmux"))) struct WatchTmuxTests {
    /// A scratch directory for the shell's files (stty state before and after, exit status).
    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-watch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Starts `sockscope ARGS` in the pane of a new detached session, between two `stty -g`.
    /// `environment` goes before the command, e.g. `TERM=dumb`.
    static func start(_ tmux: TmuxServer, _ args: String, in dir: URL, width: Int = 120, height: Int = 30,
                      environment: String = "") throws {
        try tmux.newSession(width: width, height: height)
        let d = dir.path
        let command = "stty -g > \(d)/before; \(environment) '\(Binary.sockscope)' \(args); echo $? > \(d)/status.tmp; "
            + "stty -g > \(d)/after; mv \(d)/status.tmp \(d)/status"
        try tmux.run(["send-keys", "-t", "t", "-l", command])
        try tmux.run(["send-keys", "-t", "t", "Enter"])
    }

    static func read(_ dir: URL, _ name: String) -> String? {
        (try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func showsRowsFiltersAsTypedAndRestoresTheTerminalOnQuit() throws {
        let listenerA = try Loopback.tcpListener(), listenerB = try Loopback.tcpListener()
        let pairA = try Loopback.tcpPair(listenerA), pairB = try Loopback.tcpPair(listenerB)
        let a = listenerA.local.port, b = listenerB.local.port
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }

        try Self.start(tmux, "-w -n -t -4 --interval 0.2 --port \(a),\(b)", in: dir)
        // Each pair is two ESTAB rows (client and server side) that mention its listening port.
        func rows(_ port: UInt16, _ screen: [String]) -> [String] {
            screen.filter { $0.contains("ESTAB") && !$0.contains("filter:") && mentions($0, port: port) }
        }
        var screen: [String] = []
        let shown = try TmuxServer.waitUntil(15) {
            screen = try tmux.capture()
            return rows(a, screen).count == 2 && rows(b, screen).count == 2
        }
        #expect(shown, "rows for ports \(a) and \(b) never appeared:\n\(screen.joined(separator: "\n"))")
        #expect(screen.first?.contains("sockscope") == true)
        #expect(rows(a, screen).contains { $0.contains("127.0.0.1:\(pairA.0.local.port)") })

        // `/` opens with the filter in force ("a,b"): erase it, type one port, Enter: only that port's rows remain.
        try tmux.run(["send-keys", "-t", "t", "-l", "/"])
        try tmux.run(["send-keys", "-t", "t"] + [String](repeating: "BSpace", count: 12))
        try tmux.run(["send-keys", "-t", "t", "-l", "\(a)"])
        try tmux.run(["send-keys", "-t", "t", "Enter"])
        let filtered = try TmuxServer.waitUntil(10) {
            screen = try tmux.capture()
            return rows(b, screen).isEmpty && rows(a, screen).count == 2
        }
        #expect(filtered, "filtering on \(a) left:\n\(screen.joined(separator: "\n"))")
        #expect(screen.contains { $0.contains("sport = :\(a) or dport = :\(a)") }, "the header shows the filter in ss syntax")

        try tmux.run(["send-keys", "-t", "t", "q"])
        let exited = TmuxServer.waitUntil(10) { Self.read(dir, "status") != nil }
        #expect(exited, "sockscope did not exit on q")
        #expect(Self.read(dir, "status") == "0")
        let before = Self.read(dir, "before"), after = Self.read(dir, "after")
        #expect(before != nil && before == after, "terminal modes changed: \(before ?? "-") -> \(after ?? "-")")
        withExtendedLifetime((pairA, pairB, listenerA, listenerB)) {}
    }

    /// `/` with a bare address, then with a process name: the rows follow what was typed.
    @Test func addressAndProcessNameFiltersTypedAtTheSlashPrompt() throws {
        let onTwo = try Loopback.tcpListener("127.0.0.2"), onThree = try Loopback.tcpListener("127.0.0.3")
        let child = try MapChild(name: "filtchild", arguments: ["server"])
        defer { child.stop() }
        let toChild = try Loopback.tcpConnect("127.0.0.1", child.port)
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }
        let ports = [onTwo.local.port, onThree.local.port, child.port]
        try Self.start(tmux, "-w -n -t -4 -a --interval 0.2 --port \(ports.map(String.init).joined(separator: ","))", in: dir)
        var screen: [String] = []
        // Table rows only: the header's filter text mentions the ports too.
        func listening(_ port: UInt16) -> Bool {
            screen.contains { $0.contains("LISTEN") && !$0.contains("filter:") && mentions($0, port: port) }
        }
        let shown = try TmuxServer.waitUntil(15) {
            screen = try tmux.capture()
            return ports.allSatisfy(listening)
        }
        #expect(shown, "listeners never appeared:\n\(screen.joined(separator: "\n"))")

        try tmux.run(["send-keys", "-t", "t", "-l", "/"])
        try tmux.run(["send-keys", "-t", "t"] + [String](repeating: "BSpace", count: 20))
        try tmux.run(["send-keys", "-t", "t", "-l", "127.0.0.2"])
        try tmux.run(["send-keys", "-t", "t", "Enter"])
        let byAddress = try TmuxServer.waitUntil(10) {
            screen = try tmux.capture()
            return listening(onTwo.local.port) && !listening(onThree.local.port) && !listening(child.port)
        }
        #expect(byAddress, "the address filter left:\n\(screen.joined(separator: "\n"))")
        #expect(screen.contains { $0.contains("src 127.0.0.2 or dst 127.0.0.2") })

        try tmux.run(["send-keys", "-t", "t", "-l", "/"])
        try tmux.run(["send-keys", "-t", "t"] + [String](repeating: "BSpace", count: 20))
        try tmux.run(["send-keys", "-t", "t", "-l", "filtchild"])
        try tmux.run(["send-keys", "-t", "t", "Enter"])
        let byName = try TmuxServer.waitUntil(10) {
            screen = try tmux.capture()
            // The child's listener and its accepted socket; not our client end, nor the other listeners.
            let rows = screen.filter { $0.contains("\(child.pid)/filtchi") && !$0.contains("filter:") }
            return listening(child.port) && !listening(onTwo.local.port) && rows.count == 2
                && screen.contains { $0.contains("process=filtchild") }
        }
        #expect(byName, "the process-name filter left:\n\(screen.joined(separator: "\n"))")

        try tmux.run(["send-keys", "-t", "t", "q"])
        #expect(TmuxServer.waitUntil(10) { Self.read(dir, "status") == "0" })
        withExtendedLifetime((onTwo, onThree, toChild)) {}
    }

    /// `K` on the selected connection, then `y`: exactly that one is aborted (its peer reads a
    /// reset), a second connection survives, and the status line says what was closed.
    @Test(.requires(.root)) func killKeyClosesTheSelectedSocketAfterY() throws {
        let listener = try Loopback.tcpListener()
        let (victim, victimPeer) = try Loopback.tcpPair(listener)
        let (bystander, bystanderPeer) = try Loopback.tcpPair(listener)
        let port = victim.local.port
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }
        // One row: the victim's client end.
        try Self.start(tmux, "-w -n -t -4 --interval 0.2 'sport = :\(port)'", in: dir)
        var screen: [String] = []
        let shown = try TmuxServer.waitUntil(15) {
            screen = try tmux.capture()
            return screen.contains { $0.contains("ESTAB") && mentions($0, port: port) }
        }
        #expect(shown, "the connection never appeared:\n\(screen.joined(separator: "\n"))")
        // K asks; a key other than y keeps the socket.
        try tmux.run(["send-keys", "-t", "t", "-l", "K"])
        let asked = try TmuxServer.waitUntil(10) {
            screen = try tmux.capture()
            return screen.contains { $0.contains("close tcp 127.0.0.1:\(port) -> ") && $0.contains("y closes it") }
        }
        #expect(asked, "no confirmation:\n\(screen.joined(separator: "\n"))")
        try tmux.run(["send-keys", "-t", "t", "-l", "x"])
        #expect(try TmuxServer.waitUntil(10) { try tmux.capture().contains { $0.contains("not closed") } })
        #expect(Self.stillOpen(victimPeer), "a key other than y closed the socket")
        try tmux.run(["send-keys", "-t", "t", "-l", "K"])
        #expect(try TmuxServer.waitUntil(10) { try tmux.capture().contains { $0.contains("y closes it") } })
        try tmux.run(["send-keys", "-t", "t", "-l", "y"])
        let closed = try TmuxServer.waitUntil(10) {
            screen = try tmux.capture()
            return screen.contains { $0.contains("closed tcp 127.0.0.1:\(port) -> ") && !$0.contains("not closed") }
        }
        #expect(closed, "no result in the status line:\n\(screen.joined(separator: "\n"))")
        // The kernel aborted it: its peer reads a reset; the other connection is untouched.
        var byte: UInt8 = 0
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(victimPeer.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let n = recv(victimPeer.fd, &byte, 1, 0)
        let err = errno
        #expect(n == -1 && err == ECONNRESET, "peer of the closed socket read \(n), errno \(err)")
        #expect(Self.stillOpen(bystanderPeer) && Self.stillOpen(bystander))
        try tmux.run(["send-keys", "-t", "t", "q"])
        #expect(TmuxServer.waitUntil(10) { Self.read(dir, "status") == "0" })
        withExtendedLifetime((listener, victim)) {}
    }

    /// Nothing to read and no error: the connection is up.
    static func stillOpen(_ s: TestSocket) -> Bool {
        var byte: UInt8 = 0
        let n = recv(s.fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)
    }

    @Test func survivesATinyWindowAndRestoresTheTerminalOnCtrlC() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }

        try Self.start(tmux, "-w -n --interval 0.2", in: dir, width: 80, height: 24)
        var screen: [String] = []
        let up = try TmuxServer.waitUntil(15) {
            screen = try tmux.capture()
            return screen.first?.contains("sockscope") == true
        }
        #expect(up, "the live view never appeared:\n\(screen.joined(separator: "\n"))")

        try tmux.run(["resize-window", "-t", "t", "-x", "10", "-y", "3"])
        let relaid = try TmuxServer.waitUntil(10) {
            screen = try tmux.capture()
            // Title and bottom line only (the bottom line may hold a notice instead of the key help).
            return screen.count >= 3 && screen[0] == " sockscope" && !screen[2].isEmpty && screen[3...].allSatisfy(\.isEmpty)
        }
        #expect(relaid, "no 10x3 layout:\n\(screen.joined(separator: "\n"))")
        try tmux.run(["resize-window", "-t", "t", "-x", "100", "-y", "20"])
        let grown = try TmuxServer.waitUntil(10) {
            screen = try tmux.capture()
            return screen.count >= 20 && screen[0].contains("every") && screen[2].contains("Proto State")
        }
        #expect(grown, "no relayout after growing:\n\(screen.joined(separator: "\n"))")
        #expect(Self.read(dir, "status") == nil)   // still running

        try tmux.run(["send-keys", "-t", "t", "C-c"])
        let exited = TmuxServer.waitUntil(10) { Self.read(dir, "status") != nil }
        #expect(exited, "sockscope did not exit on Ctrl-C")
        #expect(Self.read(dir, "status") == "130")
        let before = Self.read(dir, "before"), after = Self.read(dir, "after")
        #expect(before != nil && before == after, "terminal modes changed: \(before ?? "-") -> \(after ?? "-")")
    }

    @Test func needsATerminalAndAValidInterval() throws {
        let r = try Binary.sockscope(["-w"])   // stdout is a pipe here
        #expect(r.status == 2)
        #expect(r.stderrText.contains("sockscope: -w needs a terminal (stdout is not a tty); use --json for a stream"))
        for bad in ["0", "-1", "3601", "abc", "nan"] {
            let r = try Binary.sockscope(["-w", "--interval", bad])
            #expect(r.status == 2, "--interval \(bad)")
            #expect(r.stderrText.contains("--interval"), "--interval \(bad): \(r.stderrText)")
        }
    }
}
