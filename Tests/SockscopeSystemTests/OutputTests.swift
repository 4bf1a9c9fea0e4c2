import Glibc
import SockscopeSystem
import Testing

@Suite struct FileOutputTests {
    /// A pipe whose write end is non-blocking (as a shell or a parent may leave a shared stdout):
    /// 1 MiB written through it while a reader drains it arrive whole, in order, without an error
    /// (EAGAIN when the pipe is full waits for room).
    @Test func nonBlockingDescriptorIsWrittenWholeWhenFull() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        try #require(fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK) == 0)
        let bytes = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let job = BackgroundJob<Result<Void, OutputError>> {
            defer { close(writeEnd) }
            do throws(OutputError) { try FileOutput(fd: writeEnd).write(bytes); return .success(()) } catch { return .failure(error) }
        }
        var got: [UInt8] = []
        got.reserveCapacity(bytes.count)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            got += chunk[0..<n]
        }
        if case .failure(let e) = job.wait() { Issue.record("\(e)") }
        #expect(got.count == bytes.count && got == bytes)
    }

    @Test func closedReaderIsClosedNotAFailure() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        close(fds[0])
        defer { close(fds[1]) }
        signal(SIGPIPE, SIG_IGN)
        #expect(throws: OutputError.closed) { try FileOutput(fd: fds[1]).write([1, 2, 3]) }
    }
}
