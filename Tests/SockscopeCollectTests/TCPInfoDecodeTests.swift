@testable import SockscopeCollect
import SockscopeModel
import Testing

/// The meaning the collector gives `tcp_info` bytes (the copy itself is SystemTests').
@Suite struct TCPInfoDecodeTests {
    @Test func shortStructLeavesLaterFieldsAbsent() {
        let short = [UInt8](repeating: 0xFF, count: 8)
        let t = short.withUnsafeBytes { InetDiagParser.tcpInfo($0) }
        #expect(t.bytesAcked == nil && t.bytesSent == nil && t.minRttUs == nil, "fields past the kernel's length are absent")
        let long = [UInt8](repeating: 0, count: 4096)
        let u = long.withUnsafeBytes { InetDiagParser.tcpInfo($0) }
        #expect(u.bytesSent == 0 && u.rttUs == 0 && u.ssthresh == 0)
        _ = InetDiagParser.tcpInfo(UnsafeRawBufferPointer(start: nil, count: 0))
    }

    @Test func allOnesMeansUnset() {
        let ones = [UInt8](repeating: 0xFF, count: 4096)
        let t = ones.withUnsafeBytes { InetDiagParser.tcpInfo($0) }
        #expect(t.ssthresh == nil, "an infinite ssthresh is left out, as ss does")
        #expect(t.pacingRate == nil && t.minRttUs == nil)
        #expect(t.bytesSent == UInt64.max && t.rttUs == UInt32.max, "other fields are reported as sent")
    }
}
