import SockscopeModel
import SockscopeSystem

/// The smoothed RTT of every established TCP socket of a namespace, by socket cookie.
///
/// The RTT histogram needs one number per connection, but asking the collector for `tcp_info`
/// makes it decode the whole struct (and the congestion attributes) into a boxed `TCPInfo` per
/// TCP socket. Measured at 100k loopback TCP sockets (release build, perf): that path was ~0.27 s
/// of a 0.66 s scrape and ~50 MiB of its peak; a second dump of established sockets for the RTT
/// alone cost ~0.15 s, most of it the kernel's second walk of the table. So the main dump asks
/// for `INET_DIAG_INFO` only, the collector leaves it undecoded, and `RTTObserver` reads the
/// RTT in place from each message into two flat arrays; the records (already filtered by
/// `--filter`) look theirs up by cookie. A dump that was redone leaves values of sockets that
/// then closed: they are never looked up.
public struct RTTTable: Sendable {
    /// Open addressing, linear probing; key 0 marks an empty slot (the kernel never hands out cookie 0).
    private var keys: [UInt64]
    private var values: [UInt32]
    public private(set) var count = 0

    public init(capacity: Int = 64) {
        var n = 64
        while n < capacity * 2 { n <<= 1 }
        keys = [UInt64](repeating: 0, count: n)
        values = [UInt32](repeating: 0, count: n)
    }

    /// Cookies come from a kernel counter, not from a peer: a multiply-xorshift mix (MurmurHash3's
    /// finalizer, half of it) spreads consecutive ones at a fraction of SipHash's (`Dictionary`'s) cost.
    @inline(__always)
    static func slot(_ key: UInt64, _ mask: Int) -> Int {
        var x = key ^ (key >> 33)
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        return Int(truncatingIfNeeded: x) & mask
    }

    /// Sets the RTT (microseconds) of the socket with this cookie; cookie 0 is ignored.
    public mutating func set(cookie: UInt64, rttUs: UInt32) {
        guard cookie != 0 else { return }
        if (count + 1) * 2 > keys.count { grow() }
        let mask = keys.count - 1
        var i = Self.slot(cookie, mask)
        while keys[i] != 0 && keys[i] != cookie { i = (i + 1) & mask }
        if keys[i] == 0 { count += 1 }
        keys[i] = cookie
        values[i] = rttUs
    }

    /// The RTT in microseconds of the socket with this cookie, nil when the dump did not see it.
    public func rttUs(cookie: UInt64) -> UInt32? {
        guard cookie != 0 else { return nil }
        let mask = keys.count - 1
        var i = Self.slot(cookie, mask)
        while keys[i] != 0 {
            if keys[i] == cookie { return values[i] }
            i = (i + 1) & mask
        }
        return nil
    }

    private mutating func grow() {
        var bigger = RTTTable(capacity: keys.count)
        for i in keys.indices where keys[i] != 0 { bigger.set(cookie: keys[i], rttUs: values[i]) }
        self = bigger
    }
}

/// Fills an `RTTTable` from the main dump's messages as they arrive (`CollectOptions.messageObserver`),
/// on the namespace's thread.
///
/// `@unchecked Sendable`: the collector calls it on the thread that runs the collection, the
/// only one that reads `table`.
final class RTTObserver: @unchecked Sendable {
    var table: RTTTable
    init(capacity: Int) { table = RTTTable(capacity: capacity) }
    func add(_ p: UnsafeRawBufferPointer) { table.add(message: p) }
}

extension RTTTable {
    static let at = InetDiag.layout

    /// Takes one `inet_diag_msg` payload: an established TCP socket's cookie and the RTT from its
    /// `INET_DIAG_INFO` attribute. Anything else, short or malformed is skipped (the collector's
    /// parser reports malformed messages).
    public mutating func add(message p: UnsafeRawBufferPointer) {
        guard p.count >= InetDiag.messageSize, p[Self.at.state] == SocketState.established.rawValue else { return }
        var off = InetDiag.messageSize
        while p.count - off >= 4 {
            let len = Int(p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
            let type = p.loadUnaligned(fromByteOffset: off + 2, as: UInt16.self) & 0x3FFF
            guard len >= 4, len <= p.count - off else { return }
            if type == InetDiag.attrInfo {
                let cookie = UInt64(p.loadUnaligned(fromByteOffset: Self.at.cookie, as: UInt32.self))
                    | UInt64(p.loadUnaligned(fromByteOffset: Self.at.cookie + 4, as: UInt32.self)) << 32
                let info = KernelTCPInfo(UnsafeRawBufferPointer(rebasing: p[(off + 4)..<(off + len)]))
                set(cookie: cookie, rttUs: info.rtt)
                return
            }
            off += (len + 3) & ~3
        }
    }
}
