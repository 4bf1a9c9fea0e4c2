import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A run of a program with its peak resident memory, as the kernel accounts it (`ru_maxrss` from
/// `wait4` of exactly that child: no other test's processes are mixed in).
public struct MeasuredRun: Sendable {
    public var result: RunResult
    /// Peak resident set size in KiB.
    public var peakKiB: Int
}

extension Binary {
    /// Runs `path ARGS` through `posix_spawn` with stdout and stderr in files, and reaps it with
    /// `wait4`; killed (and then failing) after `timeout` seconds.
    public static func runMeasured(_ path: String, _ args: [String], timeout: Double = 60) throws -> MeasuredRun {
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
        // The test process blocks signals on its threads and the mask is inherited: unblock them.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        var cArgs = ([path] + args).map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, &cArgs, &cEnv)
        guard rc == 0 else { throw MeasuredRunFailed(description: "posix_spawn \(path): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        var usage = rusage()
        let deadline = Date().addingTimeInterval(timeout)
        while wait4(pid, &status, WNOHANG, &usage) != pid {
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = wait4(pid, &status, 0, &usage)
                throw MeasuredRunFailed(description: "\(path) \(args) did not end within \(timeout) s")
            }
            usleep(20_000)
        }
        // Exit status, or 128 + the signal, as a shell reports it.
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let result = RunResult(status: code, stdout: (try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data(),
                               stderr: (try? Data(contentsOf: URL(fileURLWithPath: err))) ?? Data())
        return MeasuredRun(result: result, peakKiB: usage.ru_maxrss)
    }
}

public struct MeasuredRunFailed: Error, CustomStringConvertible {
    public var description: String
}
