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
            #expect(error.description.hasPrefix("read /proc: Is a directory"))
        }
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
