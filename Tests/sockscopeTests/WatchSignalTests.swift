import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// The live view under signals and a vanishing terminal, in a real pty (tmux): each way out leaves
/// the shell's terminal modes as they were and the alternate screen closed.
@Suite(.serialized, .requires(.tool("tmux"))) struct WatchSignalTests {
    typealias T = WatchTmuxTests

    /// Waits for the live view's title line.
    static func waitForView(_ tmux: TmuxServer) throws {
        var screen: [String] = []
        let up = try TmuxServer.waitUntil(15) {
            screen = try tmux.capture()
            return screen.first?.contains("sockscope") == true && screen.first?.contains("every") == true
        }
        try #require(up, "the live view never appeared:\n\(screen.joined(separator: "\n"))")
    }

    /// The pid of the sockscope process running in the pane (a child of the pane's shell).
    static func sockscopePID(_ tmux: TmuxServer) throws -> pid_t {
        let shell = try #require(pid_t(tmux.run(["display", "-p", "-t", "t", "#{pane_pid}"]).text
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        var found: pid_t?
        _ = TmuxServer.waitUntil(5) {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            found = entries.compactMap { pid_t($0) }.first { pid in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { return false }
                let name = stat[stat.index(after: stat.firstIndex(of: "(")!)..<close]
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                return name == "sockscope" && fields.count > 1 && pid_t(fields[1]) == shell
            }
            return found != nil
        }
        return try #require(found, "no sockscope under the pane's shell \(shell)")
    }

    /// The pane's alternate-screen flag: 1 while a full-screen program holds it.
    static func alternateScreen(_ tmux: TmuxServer) throws -> String {
        try tmux.run(["display", "-p", "-t", "t", "#{alternate_on}"]).text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Exit status, terminal modes and screen after the run in `dir`.
    static func expectRestored(_ tmux: TmuxServer, _ dir: URL, status: Int32, _ what: String) throws {
        let exited = TmuxServer.waitUntil(30) { T.read(dir, "status") != nil }
        #expect(exited, "\(what): sockscope did not exit")
        #expect(T.read(dir, "status") == String(status), "\(what): status \(T.read(dir, "status") ?? "-")")
        let before = T.read(dir, "before"), after = T.read(dir, "after")
        #expect(before != nil && before == after, "\(what): terminal modes changed: \(before ?? "-") -> \(after ?? "-")")
        #expect(try alternateScreen(tmux) == "0", "\(what): left in the alternate screen")
        let screen = try tmux.capture().joined(separator: "\n")
        // The Swift runtime's interactive backtracer would wait here at its prompt.
        #expect(!screen.contains("Press space to interact"), "\(what): an interactive prompt:\n\(screen)")
    }

    /// Case 5: Ctrl-\ (SIGQUIT) used to hand the raw terminal to the runtime's interactive
    /// backtracer (a prompt, the process alive 45 s later). Now: terminal restored, then the
    /// backtrace, non-interactive, then death by SIGQUIT (131).
    @Test func ctrlBackslashRestoresTheTerminalThenQuits() throws {
        let dir = try T.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }
        // As a user's shell has it: no SWIFT_BACKTRACE (sockscope decides it).
        try T.start(tmux, "-w -n --interval 0.2", in: dir, environment: "env -u SWIFT_BACKTRACE")
        try Self.waitForView(tmux)
        // The runtime read SWIFT_BACKTRACE before main: sockscope re-executed itself with it set.
        let pid = try Self.sockscopePID(tmux)
        let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
        #expect(environ.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "SWIFT_BACKTRACE=interactive=no" })
        try tmux.run(["send-keys", "-t", "t", "C-\\"])
        try Self.expectRestored(tmux, dir, status: 128 + SIGQUIT, "Ctrl-\\")
    }

    /// Case 5: what the runtime's backtracer catches, sent from outside: each restores the terminal
    /// first and the process dies of the signal.
    @Test(arguments: [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT])
    func fatalSignalsRestoreTheTerminalFirst(signal: Int32) throws {
        let dir = try T.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }
        try T.start(tmux, "-w -n --interval 0.2", in: dir, environment: "env -u SWIFT_BACKTRACE")
        try Self.waitForView(tmux)
        kill(try Self.sockscopePID(tmux), signal)
        try Self.expectRestored(tmux, dir, status: 128 + signal, "signal \(signal)")
    }

    /// SIGTERM and SIGHUP end the view with 128+signal, terminal restored.
    @Test(arguments: [SIGTERM, SIGHUP]) func terminatingSignalsExitCleanly(signal: Int32) throws {
        let dir = try T.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }
        try T.start(tmux, "-w -n --interval 0.2", in: dir)
        try Self.waitForView(tmux)
        kill(try Self.sockscopePID(tmux), signal)
        try Self.expectRestored(tmux, dir, status: 128 + signal, "signal \(signal)")
    }

    /// Ctrl-Z hands the terminal back to the shell (modes restored, no alternate screen); `fg`
    /// redraws the view in full; `q` then quits normally.
    @Test func ctrlZSuspendsWithTheTerminalRestoredAndFgRedraws() throws {
        let dir = try T.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }
        try tmux.newSession(width: 120, height: 30)
        let d = dir.path
        func type(_ line: String) throws {
            try tmux.run(["send-keys", "-t", "t", "-l", line])
            try tmux.run(["send-keys", "-t", "t", "Enter"])
        }
        // sockscope alone as the shell's job: the shell then takes the terminal back only once
        // sockscope itself has stopped (after restoring it), and a stopped job is not the end of
        // a command list (the shell would run the list's next command).
        try type("stty -g > \(d)/before")
        _ = TmuxServer.waitUntil(10) { T.read(dir, "before") != nil }
        try type("'\(Binary.sockscope)' -w -n --interval 0.2")
        try Self.waitForView(tmux)
        try tmux.run(["send-keys", "-t", "t", "C-z"])
        let stopped = try TmuxServer.waitUntil(10) { try Self.alternateScreen(tmux) == "0" }
        #expect(stopped, "the terminal was not handed back on Ctrl-Z")
        // While stopped the shell's modes are in force: what `stty -g` gives now is what it gave before.
        try type("stty -g > \(d)/stopped")
        _ = TmuxServer.waitUntil(10) { T.read(dir, "stopped") != nil }
        #expect(T.read(dir, "stopped") == T.read(dir, "before"),
                "modes while stopped:\n\((try? tmux.capture().joined(separator: "\n")) ?? "")")
        // Clear the screen so that what shows after fg can only be a full redraw.
        try type("clear; fg")
        var screen: [String] = []
        let redrawn = try TmuxServer.waitUntil(15) {
            screen = try tmux.capture()
            return try Self.alternateScreen(tmux) == "1" && screen.first?.contains("sockscope") == true
                && screen.contains { $0.contains("Proto State") }
        }
        #expect(redrawn, "no full redraw after fg:\n\(screen.joined(separator: "\n"))")
        try tmux.run(["send-keys", "-t", "t", "q"])
        _ = TmuxServer.waitUntil(10) { (try? Self.alternateScreen(tmux)) == "0" }
        try type("echo $? > \(d)/status.tmp; stty -g > \(d)/after; mv \(d)/status.tmp \(d)/status")
        try Self.expectRestored(tmux, dir, status: 0, "q after fg")
    }

    /// The terminal goes away (the pane is closed): sockscope ends instead of spinning on a dead pty.
    @Test func closedTerminalEndsTheView() throws {
        let dir = try T.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }
        try T.start(tmux, "-w -n --interval 0.2", in: dir)
        try Self.waitForView(tmux)
        let pid = try Self.sockscopePID(tmux)
        // A second window keeps the server up while the first pane's pty is closed.
        try tmux.run(["new-window", "-d", "-t", "t", "/bin/sh"])
        try tmux.run(["kill-pane", "-t", "t:0"])
        let ended = TmuxServer.waitUntil(15) {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
        }
        #expect(ended, "sockscope \(pid) still runs after its terminal closed")
    }

    /// TERM=dumb cannot position the cursor: one clear line and status 1, terminal untouched,
    /// rather than a full-screen view drawn as noise.
    @Test func dumbTerminalIsRefusedWithOneLine() throws {
        let dir = try T.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmux = TmuxServer()
        defer { tmux.kill() }
        try T.start(tmux, "-w -n --interval 0.2", in: dir, environment: "TERM=dumb")
        try Self.expectRestored(tmux, dir, status: 1, "TERM=dumb")
        let screen = try tmux.capture()
        #expect(screen.contains("sockscope: terminal type 'dumb' cannot position the cursor; use --json for a stream"),
                "\(screen.joined(separator: "\n"))")
    }
}
