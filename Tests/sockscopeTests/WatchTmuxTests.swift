import Foundation
import SockscopeModel
import TestSupport
import Testing

/// A private tmux server for one test: its own socket name, no user config, always killed.
struct TmuxServer {
    let name = "sockscope-test-\(UInt32.random(in: 0...UInt32.max))"
    static let path = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @discardableResult
    func run(_ args: [String]) throws -> RunResult {
        guard let tmux = Self.path else { throw TmuxMissing() }
        return try Binary.run(tmux, ["-L", name, "-f", "/dev/null"] + args, timeout: 10)
    }

    func capture() throws -> [String] {
        try run(["capture-pane", "-p", "-t", "t"]).stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func kill() { _ = try? run(["kill-server"]) }

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

/// True when a whitespace-separated field of the line is an endpoint with this port.
func mentions(_ line: String, port: UInt16) -> Bool {
    line.split(separator: " ").contains { $0.hasSuffix(":\(port)") }
}

/// The real binary in a real terminal: tmux gives it a pty of a fixed size, we read the screen back.
@Suite(.serialized) struct WatchTmuxTests {
    /// A scratch directory for the shell's files (stty state before and after, exit status).
    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-watch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Starts `sockscope ARGS` in the pane of a new detached session, between two `stty -g`.
    static func start(_ tmux: TmuxServer, _ args: String, in dir: URL, width: Int = 120, height: Int = 30) throws {
        try tmux.run(["new-session", "-d", "-x", "\(width)", "-y", "\(height)", "-s", "t", "/bin/sh"])
        let d = dir.path
        let command = "stty -g > \(d)/before; '\(Binary.sockscope)' \(args); echo $? > \(d)/status.tmp; "
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
            screen.filter { $0.contains("ESTAB") && mentions($0, port: port) }
        }
        var screen: [String] = []
        let shown = try TmuxServer.waitUntil(15) {
            screen = try tmux.capture()
            return rows(a, screen).count == 2 && rows(b, screen).count == 2
        }
        #expect(shown, "rows for ports \(a) and \(b) never appeared:\n\(screen.joined(separator: "\n"))")
        #expect(screen.first?.contains("sockscope") == true)
        #expect(rows(a, screen).contains { $0.contains("127.0.0.1:\(pairA.0.local.port)") })

        // `/` + port + Enter: only that port's rows remain.
        try tmux.run(["send-keys", "-t", "t", "-l", "/\(a)"])
        try tmux.run(["send-keys", "-t", "t", "Enter"])
        let filtered = try TmuxServer.waitUntil(10) {
            screen = try tmux.capture()
            return rows(b, screen).isEmpty && rows(a, screen).count == 2
        }
        #expect(filtered, "filtering on \(a) left:\n\(screen.joined(separator: "\n"))")
        #expect(screen.contains { $0.contains("port=\(a)") })

        try tmux.run(["send-keys", "-t", "t", "q"])
        let exited = TmuxServer.waitUntil(10) { Self.read(dir, "status") != nil }
        #expect(exited, "sockscope did not exit on q")
        #expect(Self.read(dir, "status") == "0")
        let before = Self.read(dir, "before"), after = Self.read(dir, "after")
        #expect(before != nil && before == after, "terminal modes changed: \(before ?? "-") -> \(after ?? "-")")
        withExtendedLifetime((pairA, pairB, listenerA, listenerB)) {}
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
            return screen.count >= 3 && screen[0].hasPrefix(" sockscope".prefix(10)) && screen[2].hasPrefix("q quit")
        }
        #expect(relaid, "no 10x3 layout:\n\(screen.joined(separator: "\n"))")
        try tmux.run(["resize-window", "-t", "t", "-x", "100", "-y", "20"])
        let grown = try TmuxServer.waitUntil(10) {
            screen = try tmux.capture()
            return screen.count >= 20 && screen[19].hasPrefix("q quit") && screen[0].contains("every")
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
