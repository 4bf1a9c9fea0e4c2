import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// Case 8: the command line's edges — output that cannot be written, values out of range, a
/// reader that goes away while nothing is being written.
@Suite struct CommandLineEdgeTests {
    static func firstLine(_ r: RunResult) -> String { r.stderrText.split(separator: "\n").first.map(String.init) ?? "" }

    /// `--help`/`--version` > /dev/full exited 0 with the text lost.
    @Test(arguments: ["--help", "--version"]) func helpAndVersionReportAFullDisk(flag: String) throws {
        let r = try Binary.run("/bin/sh", ["-c", "'\(Binary.sockscope)' \(flag) > /dev/full"])
        #expect(r.status == 1)
        #expect(r.stderrText == "sockscope: write error: No space left on device\n")
    }

    /// `--interval 1e-300` was accepted (a busy loop); the floor is 0.05 s.
    @Test func intervalHasAFloor() throws {
        for bad in ["1e-300", "0.01", "0.0499"] {
            let r = try Binary.sockscope(["-w", "--json", "--count", "1", "--interval", bad])
            #expect(r.status == 2, "\(bad)")
            #expect(Self.firstLine(r) == "sockscope: The value '\(bad)' is invalid for '--interval <seconds>': "
                + "--interval must be a number of seconds, at least 0.05 and at most 3600 (got '\(bad)')")
        }
        let ok = try Binary.sockscope(["-w", "--json", "--count", "2", "--interval", "0.05", "-t", "--port", "1"])
        #expect(ok.status == 0, "\(ok.stderrText)")
    }

    /// `--port -1` said "Missing value for '--port <list>'".
    @Test func aNegativePortIsAboutThePort() throws {
        for (option, value) in [("--port", "-1"), ("--sport", "-1"), ("--dport", "80,-5"), ("--watch-port", "-22")] {
            let r = try Binary.sockscope([option, value])
            #expect(r.status == 2)
            let item = value.split(separator: ",").first { $0.hasPrefix("-") }!
            #expect(Self.firstLine(r) == "sockscope: The value '\(value)' is invalid for '\(option) <list>': "
                + "port \(item) is out of range (0-65535)", "\(r.stderrText)")
        }
        let pid = try Binary.sockscope(["--pid", "-3"])
        #expect(Self.firstLine(pid).contains("invalid process id '-3'"), "\(pid.stderrText)")
    }

    /// `--timeout nan` blamed `--interval`.
    @Test func timeoutIsCheckedAsItself() throws {
        for bad in ["nan", "0", "-1", "inf"] {
            let r = try Binary.sockscope(["--until-up", "1", "--timeout", bad])
            #expect(r.status == 2, "\(bad)")
            #expect(Self.firstLine(r) == "sockscope: The value '\(bad)' is invalid for '--timeout <seconds>': "
                + "--timeout must be a number of seconds, more than 0 and at most 3600 (got '\(bad)')", "\(r.stderrText)")
        }
    }

    /// An idle stream (no socket matches, so nothing is written) and `--watch-port` on a port that
    /// never listens ran on after their reader closed the pipe, until a next write that never came.
    /// Now they notice within an interval and exit 0.
    @Test(arguments: [["-w", "--json", "-t", "--port", "1", "--interval", "0.2"], ["--watch-port", "1", "--interval", "0.2"]])
    func aVanishedReaderEndsAnIdleStream(args: [String]) throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Binary.sockscope)
        p.arguments = args
        p.standardOutput = FileHandle(fileDescriptor: fds[1], closeOnDealloc: false)
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        close(fds[1])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        // Running (and idle) first; then the reader goes.
        let early = TmuxServer.waitUntil(1) { !p.isRunning }
        #expect(!early, "\(args): ended before its reader went away (status \(p.terminationStatus))")
        close(fds[0])
        let ended = TmuxServer.waitUntil(15) { !p.isRunning }
        #expect(ended, "\(args): still running 15 s after its reader went away")
        if ended { #expect(p.terminationStatus == 0) }
    }
}
