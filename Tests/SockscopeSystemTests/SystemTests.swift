import SockscopeModel
import SockscopeSystem
import Testing

@Suite struct SystemTests {
    @Test func readAllReadsProcFilesToTheEnd() throws {
        // /proc/self/maps of a test process is several KiB and arrives in page-sized reads.
        let bytes = try Files.readAll("/proc/self/maps", sizeHint: 512)
        #expect(bytes.count > 4096)
        #expect(bytes.last == 0x0A)
    }

    @Test func readErrorsCarryTheErrnoAndPath() {
        #expect(throws: SystemError.self) { try Files.readAll("/nonexistent/sockscope") }
        do {
            _ = try Files.readAll("/proc")
            Issue.record("reading a directory succeeded")
        } catch {
            #expect(error.description == "open /proc: not a regular file (a directory)")
        }
    }

    /// Only regular files, and no more than the limit: a FIFO with no writer, a device, a file one
    /// byte too long are each an error naming the path, never a hang or a silently cut read.
    @Test func boundedReadsRefuseWhatIsNotARegularFileOrTooLong() throws {
        let dir = "/tmp/sockscope-files-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect(mkdir(dir, 0o700) == 0)
        defer { for n in ["fifo", "exact", "long"] { unlink(dir + "/" + n) }; rmdir(dir) }
        #expect(mkfifo(dir + "/fifo", 0o600) == 0)
        func message(_ path: String, _ limit: ReadLimit) -> String? {
            do { _ = try Files.read(path, limit: limit); return nil } catch { return error.description }
        }
        #expect(message(dir + "/fifo", .small) == "open \(dir)/fifo: not a regular file (a FIFO)")
        #expect(message("/dev/zero", .small) == "open /dev/zero: not a regular file (a character device)")
        let limit = ReadLimit(bytes: 1000, sizeHint: 256)
        for (name, size) in [("exact", 1000), ("long", 1001)] {
            let fd = open(dir + "/" + name, O_WRONLY | O_CREAT, 0o600)
            _ = [UInt8](repeating: 0x41, count: size).withUnsafeBytes { write(fd, $0.baseAddress, size) }
            close(fd)
        }
        #expect(try Files.read(dir + "/exact", limit: limit).count == 1000)
        #expect(message(dir + "/long", limit) == "read \(dir)/long: longer than 1000 bytes")
    }

    @Test func parserOffsetsMatchTheKernelHeaders() {
        // The Swift netlink parser reads inet_diag_msg at fixed offsets; the C headers are the truth.
        #expect(InetDiagLayout.messageSize == 72)
        #expect(InetDiagLayout.cookieOffset == 44)
        #expect(InetDiagLayout.rqueueOffset == 56)
        #expect(InetDiagLayout.inodeOffset == 68)
        #expect(InetDiagLayout.requestSize == 56)
    }

    @Test func tcpInfoIsCopiedDefensively() {
        let short = [UInt8](repeating: 0xFF, count: 8)
        let t = short.withUnsafeBytes { KernelTCPInfo($0) }
        #expect(!t.has(.bytesAcked) && !t.has(.bytesSent), "fields past the kernel's length are absent")
        let long = [UInt8](repeating: 0, count: 4096)
        let u = long.withUnsafeBytes { KernelTCPInfo($0) }
        #expect(u.has(.bytesSent) && u.bytesSent == 0 && u.rtt == 0)
        _ = KernelTCPInfo(UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// The one-field read agrees with the full decode at every length that holds the field whole
    /// or not at all (the kernel's struct only grows by whole fields), the field's edges included.
    @Test func rttAloneMatchesTheFullDecode() {
        var bytes = [UInt8](repeating: 0, count: 300)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 37 &+ 11) }
        // tcpi_rtt is bytes 68..<72 of struct tcp_info (include/uapi/linux/tcp.h).
        for n in Array(0...68) + Array(72...bytes.count) {
            bytes.withUnsafeBytes { all in
                let b = UnsafeRawBufferPointer(rebasing: all[0..<n])
                #expect(KernelTCPInfo.rtt(in: b) == KernelTCPInfo(b).rtt, "length \(n)")
            }
        }
        #expect(bytes.withUnsafeBytes { KernelTCPInfo.rtt(in: $0) } != 0)
        #expect(KernelTCPInfo.rtt(in: UnsafeRawBufferPointer(start: nil, count: 0)) == 0)
    }

    @Test func sockDiagSocketOpensAndAnswersADump() throws {
        let s = try SockDiagSocket()
        #expect(s.portID != 0)
        _ = try s.requestDump(family: 2, protocol: 6, states: 1 << 10, extensions: 0, bytecode: nil)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: SockDiagSocket.receiveBufferSize, alignment: 8)
        defer { buf.deallocate() }
        #expect(try s.receive(into: buf) >= 16)
    }

    @Test func outputReportsBrokenPipeAndFullDisk() throws {
        ProcessSetup.ignoreBrokenPipe()
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[0])
        #expect(throws: OutputError.closed) { try FileOutput(fd: fds[1]).write([1, 2, 3]) }
        close(fds[1])
        let full = open("/dev/full", O_WRONLY)
        defer { close(full) }
        #expect(throws: OutputError.failed(.noSpace)) { try FileOutput(fd: full).write([1]) }
        #expect(OutputError.failed(.noSpace).message == "write error: No space left on device")
    }

    @Test func interfaceNames() {
        #expect(Interfaces.name(index: 1) == "lo")
        #expect(Interfaces.name(index: 999_999) == nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
