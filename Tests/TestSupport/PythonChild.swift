import Foundation

/// A python3 child running a test's script: it prints one line when ready (read here) and runs
/// until its stdin closes (`stop()`, or the deinit). The script should also bound its own life
/// (`signal.alarm`), so a crashed test run leaves nothing behind.
public final class PythonChild: @unchecked Sendable {
    let process = Process()
    let input = Pipe()
    /// The line the script printed when ready (empty if it failed first).
    public private(set) var firstLine = Data()
    public var pid: Int32 { process.processIdentifier }

    public init(script: String, arguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script] + arguments
        let out = Pipe()
        process.standardInput = input
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        firstLine = out.readFirstLine()
    }

    /// The ready line as a JSON object, when it is one.
    public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: firstLine) as? [String: Any] }

    /// Closes the child's stdin and waits for it to exit.
    public func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit { stop() }
}
