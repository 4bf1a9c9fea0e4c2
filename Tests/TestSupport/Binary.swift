import Foundation

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
        DispatchQueue.global().asyncAfter(deadline: deadline) { [p] in if p.isRunning { p.terminate() } }
        // Read both pipes concurrently so a full pipe never blocks the child.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = stdoutTo == nil ? out.fileHandleForReading.readDataToEndOfFile() : Data()
        group.wait()
        p.waitUntilExit()
        return RunResult(status: p.terminationStatus, stdout: outData, stderr: errData)
    }

    /// Runs the built `sockscope`.
    public static func sockscope(_ args: [String], timeout: Double = 30) throws -> RunResult {
        try run(sockscope, args, timeout: timeout)
    }
}
