import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The result of running a program.
public struct RunResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Finds and runs the `sockscope` executable built beside the tests.
public enum Binary {
    /// `$SOCKSCOPE_BIN`, or `sockscope` in the directory of the running test bundle.
    public static var sockscope: String {
        if let p = ProcessInfo.processInfo.environment["SOCKSCOPE_BIN"] { return p }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The bundle may be a directory (…/X.xctest/…) on some layouts: walk up to the build folder.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("sockscope").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/sockscope"
    }

    /// Runs a program with arguments, bounded by `timeout` seconds (killed after it).
    ///
    /// Output is read on background threads until EOF, but once the program has exited only for a
    /// moment longer: a daemon it started (a tmux server) may hold the pipes open forever.
    public static func run(_ path: String, _ args: [String], stdin: FileHandle? = nil, stdoutTo: FileHandle? = nil,
                           environment: [String: String]? = nil, timeout: Double = 30) throws -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe()
        if let stdoutTo { p.standardOutput = stdoutTo } else { p.standardOutput = out }
        p.standardError = err
        p.standardInput = stdin ?? FileHandle.nullDevice
        try p.run()
        let deadline = DispatchTime.now() + timeout
        DispatchQueue.global().asyncAfter(deadline: deadline) { [p] in if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let collected = Collected()
        let group = DispatchGroup()
        for (handle, isOut) in [(err.fileHandleForReading, false)] + (stdoutTo == nil ? [(out.fileHandleForReading, true)] : []) {
            group.enter()
            DispatchQueue.global().async {
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    collected.append(chunk, toStdout: isOut)
                }
                group.leave()
            }
        }
        p.waitUntilExit()
        _ = group.wait(timeout: .now() + 2)
        let (o, e) = collected.snapshot()
        return RunResult(status: p.terminationStatus, stdout: o, stderr: e)
    }

    /// Runs the built `sockscope`.
    public static func sockscope(_ args: [String], timeout: Double = 30) throws -> RunResult {
        try run(sockscope, args, timeout: timeout)
    }
}

/// Output gathered by reader threads.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var out = Data(), err = Data()
    func append(_ d: Data, toStdout: Bool) { lock.lock(); if toStdout { out.append(d) } else { err.append(d) }; lock.unlock() }
    func snapshot() -> (Data, Data) { lock.lock(); defer { lock.unlock() }; return (out, err) }
}
