import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A run of a program with its peak resident memory, as the kernel accounts it: `ru_maxrss` from
/// `wait4` of exactly that process, started by `fork` + `exec` from a small python3.
///
/// Not `wait4` of a child spawned from the test process itself: `posix_spawn` shares the test's
/// memory until `exec`, and `exec` records the high-water mark of the memory it leaves, so every
/// such child reported the test process's own peak (hundreds of MiB in the full suite).
public struct MeasuredRun: Sendable {
    public var result: RunResult
    /// Peak resident set size in KiB.
    public var peakKiB: Int
}

extension Binary {
    /// What forks and measures: a python3 of about 10 MiB, so the floor of any measurement.
    static let measurer = """
    import os, signal, sys
    result, timeout, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.alarm(timeout)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as f:
        f.write("%d %d" % (code if code >= 0 else 128 - code, usage.ru_maxrss))
    """

    /// Runs `path ARGS` with stdout and stderr in files and measures its peak RSS (see
    /// `MeasuredRun`); killed after `timeout` seconds. Needs `/usr/bin/python3`.
    public static func runMeasured(_ path: String, _ args: [String], timeout: Double = 60) throws -> MeasuredRun {
        let python = try Requirement.tool("python3").path()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-measured-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out").path, err = dir.appendingPathComponent("err").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let result = dir.appendingPathComponent("result").path
        let argv = [python, "-c", Self.measurer, result, String(Int(timeout.rounded(.up))), path] + args
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = withSignalsReset { posix_spawn(&pid, python, &actions, &$0, &cArgs, &cEnv) }
        guard rc == 0 else { throw MeasuredRunFailed(description: "posix_spawn \(python): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        // The measurer kills the program at `timeout`; this bounds the measurer itself.
        let deadline = Date().addingTimeInterval(timeout + 15)
        while waitpid(pid, &status, WNOHANG) != pid {
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw MeasuredRunFailed(description: "\(path) \(args) did not end within \(timeout) s")
            }
            usleep(20_000)
        }
        // "status peak": exit status (128 + signal for a signal, as a shell reports it) and KiB.
        let words = ((try? String(contentsOfFile: result, encoding: .utf8)) ?? "").split(separator: " ").compactMap { Int($0) }
        guard words.count == 2 else { throw MeasuredRunFailed(description: "the measurer of \(path) reported nothing (status \(status))") }
        let run = RunResult(status: Int32(words[0]), stdout: (try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data(),
                            stderr: (try? Data(contentsOf: URL(fileURLWithPath: err))) ?? Data())
        return MeasuredRun(result: run, peakKiB: words[1])
    }
}

public struct MeasuredRunFailed: Error, CustomStringConvertible {
    public var description: String
}
