import Glibc
import SockscopeModel
@testable import SockscopeRender
import Testing

/// The hand-written %g/%f must print what glibc's printf prints for the same double: ss's `-i`
/// text is made with printf, and a reader compares strings.
@Suite struct PrintfTests {
    static func libc(_ format: String, _ d: Double) -> String {
        var buf = [CChar](repeating: 0, count: 128)
        _ = withVaList([d]) { vsnprintf(&buf, buf.count, format, $0) }
        return String(cString: buf)
    }

    static func ours(_ body: (inout [UInt8]) -> Void) -> String {
        var out: [UInt8] = []
        body(&out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A fixed pseudo-random sequence (no seeds from the clock: failures must reproduce).
    struct Sequence {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        mutating func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
    }

    /// Microseconds shown as milliseconds (rto, rtt, ato, minrtt, rcv_rtt): every value below 10 s,
    /// then a spread up to the u32 maximum.
    @Test func microsecondsAsMillisecondsMatchGlibc() {
        var values: [UInt32] = Array(0...20_000) + [99_999, 100_000, 999_999, 1_000_000, 1_234_565, 9_999_995, 12_345_650,
                                                    123_456_500, 999_999_500, UInt32.max]
        var r = Sequence()
        for _ in 0..<20_000 { values.append(UInt32(truncatingIfNeeded: r.next() >> UInt64(r.next() % 32))) }
        for us in values {
            let d = Double(us) / 1000
            #expect(Self.ours { Printf.g(d, to: &$0) } == Self.libc("%g", d), "us=\(us)")
            #expect(Self.ours { Printf.milliseconds(us, to: &$0) } == Self.libc("%g", d), "us=\(us)")
        }
    }

    /// BBR gains (x/256) and rates with three significant digits and a unit.
    @Test func gainsAndRatesMatchGlibc() {
        for gain in 0...4096 {
            let d = Double(gain) / 256
            #expect(Self.ours { Printf.g(d, to: &$0) } == Self.libc("%g", d), "gain=\(gain)")
        }
        var r = Sequence()
        var rates: [UInt64] = [0, 1, 999, 1000, 1125, 1250, 12_450, 124_500, 999_500, 1_000_000, 1_125_000_000, 1 << 40]
        for _ in 0..<20_000 { rates.append(r.next() >> UInt64(r.next() % 64)) }
        for bytes in rates {
            let bps = Double(bytes) * 8
            for (scale, _) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] where bps >= scale {
                #expect(Self.ours { Printf.g(bps / scale, precision: 3, to: &$0) } == Self.libc("%.3g", bps / scale), "bps=\(bps)")
                break
            }
            #expect(Self.ours { Printf.fixed(bps, decimals: 0, to: &$0) } == Self.libc("%.0f", bps), "bps=\(bps)")
        }
    }

    /// `send` is cwnd × mss × 8e6 / rtt and the limited-time shares are 100 × part / busy: doubles
    /// that are rarely integers, printed with %.0f, %.3g and %.1f.
    @Test func computedRatesAndSharesMatchGlibc() {
        var r = Sequence()
        for _ in 0..<20_000 {
            let cwnd = Double(r.next() % 5000 + 1), mss = Double(r.next() % 65_536 + 1), rtt = Double(r.next() % 2_000_000 + 1)
            let send = cwnd * mss * 8_000_000.0 / rtt
            #expect(Self.ours { Printf.fixed(send, decimals: 0, to: &$0) } == Self.libc("%.0f", send))
            let unit = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")].first { send >= $0.0 }
            let expected = unit.map { Self.libc("%.3g", send / $0.0) + $0.1 } ?? Self.libc("%g", send)
            #expect(Self.ours { SSText.rate(send, numeric: false, to: &$0) } == expected)
            let busy = Double(r.next() % 10_000_000_000 + 1), part = Double(r.next() % 10_000_000_000)
            let share = 100.0 * min(part, busy) / busy
            #expect(Self.ours { Printf.fixed(share, decimals: 1, to: &$0) } == Self.libc("%.1f", share))
        }
    }

    @Test func timerDurationsAreSsShortForm() {
        let cases: [(UInt32, String)] = [(0, ""), (200, "200ms"), (1_000, "1sec"), (1_500, "1.500sec"), (9_999, "9.999sec"),
                                         (10_500, "10sec"), (59_000, "59sec"), (60_000, "1min"), (61_500, "1min1sec"),
                                         (599_000, "9min59sec"), (600_000, "10min"), (7_140_000, "119min")]
        for (ms, text) in cases {
            #expect(Self.ours { SSText.duration(milliseconds: ms, to: &$0) } == text, "\(ms) ms")
        }
        #expect(Self.ours { SSText.timer(SocketTimer(kind: .keepalive, expiresMs: 7_140_000, retransmits: 0), to: &$0) }
                == " timer:(keepalive,119min,0)")
    }
}
