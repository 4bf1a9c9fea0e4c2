import Foundation
import Synchronization

/// A child process whose stdout is read line by line while it runs.
public final class StreamingProcess: Sendable {
    let process: Process
    let lines = Mutex<[String]>([])
    let pipe = Pipe()

    public init(_ path: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        process = p
        try p.run()
        let box = UncheckedSendable(self)
        pipe.fileHandleForReading.readLinesInBackground { line in box.value.lines.withLock { $0.append(line) } }
    }

    /// The lines read so far.
    public var output: [String] { lines.withLock { $0 } }

    /// Polls until `predicate` holds for the lines read so far, or `timeout` seconds pass.
    @discardableResult
    public func wait(timeout: Double, until predicate: ([String]) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if predicate(output) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return predicate(output)
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends a signal and waits (bounded) for the exit status.
    public func stop(signal: Int32 = SIGINT, timeout: Double = 5) -> Int32? {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            // It ignored the signal: that is the failure being reported; still never leave it behind.
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

struct UncheckedSendable<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

extension FileHandle {
    /// Reads this handle to its end on a thread of its own, calling `body` with each line (without
    /// its newline, decoded as UTF-8) as it arrives; an unterminated last line is dropped.
    public func readLinesInBackground(_ body: @escaping @Sendable (String) -> Void) {
        let handle = UncheckedSendable(self)
        Thread.detachNewThread {
            var buffer = Data()
            while true {
                let chunk = handle.value.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let nl = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...nl)
                    body(line)
                }
            }
        }
    }
}

extension Pipe {
    /// Reads until the first newline, or EOF if the writer failed first (the caller's child bounds the wait).
    public func readFirstLine() -> Data {
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        return line
    }
}
