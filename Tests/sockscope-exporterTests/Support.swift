import Foundation
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The `sockscope-exporter` built beside the tests (`$SOCKSCOPE_EXPORTER_BIN` overrides).
var exporterBinary: String {
    if let p = ProcessInfo.processInfo.environment["SOCKSCOPE_EXPORTER_BIN"] { return p }
    return URL(fileURLWithPath: Binary.sockscope).deletingLastPathComponent().appendingPathComponent("sockscope-exporter").path
}

/// The repository root (for the shipped files under contrib/).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A running exporter on 127.0.0.1 (port chosen by the kernel), stopped by pid.
final class ExporterProcess: @unchecked Sendable {
    let process = Process()
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func withLock<R>(_ body: (inout [String]) -> R) -> R { lines.withLock { body(&$0) } }
    }
    let stderrLines = Lines()
    private(set) var port: UInt16 = 0

    init(_ args: [String], timeout: Double = 30) throws {
        process.executableURL = URL(fileURLWithPath: exporterBinary)
        process.arguments = ["--web.listen-address", "127.0.0.1:0"] + args
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let lines = stderrLines
        err.fileHandleForReading.readLinesInBackground { line in lines.withLock { $0.append(line) } }
        let end = Date().addingTimeInterval(timeout)
        while Date() < end && process.isRunning {
            if let line = stderrLines.withLock({ $0.first { $0.contains("listening on http") } }),
               let colon = line.lastIndex(of: ":"), let slash = line[colon...].firstIndex(of: "/"),
               let p = UInt16(line[line.index(after: colon)..<slash]) {
                port = p
                return
            }
            usleep(20_000)
        }
        stop()
        throw TestFailure("exporter did not start: \(stderrLines.withLock { $0 })")
    }

    var pid: Int32 { process.processIdentifier }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let end = Date().addingTimeInterval(10)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }

    /// Resident memory in KiB (`VmRSS`).
    var rssKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    /// Open descriptors.
    var openFiles: Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1 }
}

/// An HTTP answer, read by the test's own minimal client (the exporter under test uses a library).
struct HTTPAnswer {
    var status: Int
    var headers: [String: String]
    var body: String
}

enum HTTP {
    /// A connected TCP socket to 127.0.0.1:port with receive/send timeouts.
    static func connect(_ port: UInt16, timeout: Double = 20) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw TestFailure("connect 127.0.0.1:\(port): errno \(errno)")
        }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw TestFailure("send: errno \(errno)") }
            off += n
        }
    }

    /// Reads until the peer closes (or the receive timeout): the whole answer.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    static func parse(_ raw: [UInt8]) -> HTTPAnswer? {
        let text = String(decoding: raw, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<split.lowerBound].split(separator: "\r\n")
        guard let statusLine = head.first, statusLine.hasPrefix("HTTP/1."),
              let code = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else { return nil }
        var headers: [String: String] = [:]
        for h in head.dropFirst() {
            if let c = h.firstIndex(of: ":") {
                headers[h[..<c].lowercased()] = h[h.index(after: c)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return HTTPAnswer(status: code, headers: headers, body: String(text[split.upperBound...]))
    }

    /// One GET with `Connection: close`.
    static func get(_ port: UInt16, _ path: String = "/metrics", headers: [String: String] = [:]) throws -> HTTPAnswer {
        let fd = try connect(port)
        defer { close(fd) }
        var req = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (k, v) in headers { req += "\(k): \(v)\r\n" }
        req += "\r\n"
        try send(fd, Array(req.utf8))
        let raw = readAll(fd)
        guard let a = parse(raw) else { throw TestFailure("no HTTP answer: \(String(decoding: raw.prefix(200), as: UTF8.self))") }
        return a
    }
}

/// Raises the open-files soft limit (the idle-connections test holds a thousand sockets).
func raiseOpenFiles(to n: UInt) {
    var l = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &l)
    if l.rlim_cur < n { l.rlim_cur = min(l.rlim_max, n); setrlimit(Int32(RLIMIT_NOFILE.rawValue), &l) }
}

/// The value of the first sample line `name{...labels...} value` that has every label given.
func metricValue(_ payload: String, _ name: String, _ labels: [String: String]) -> Double? {
    for line in payload.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
        let l = String(line)
        guard labels.allSatisfy({ l.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
        return Double(l.split(separator: " ").last ?? "")
    }
    return nil
}
