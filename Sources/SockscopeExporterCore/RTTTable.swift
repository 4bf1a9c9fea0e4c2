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
    /// By cookie (see `CookieMap` for why not a `Dictionary`); the kernel never hands out cookie 0.
    private var map: CookieMap

    public init(capacity: Int = 64) { map = CookieMap(minimumCapacity: capacity) }

    /// How many sockets have an RTT here.
    public var count: Int { map.count }

    /// Sets the RTT (microseconds) of the socket with this cookie; cookie 0 is ignored.
    public mutating func set(cookie: UInt64, rttUs: UInt32) { map.set(cookie, UInt64(rttUs)) }

    /// The RTT in microseconds of the socket with this cookie, nil when the dump did not see it.
    public func rttUs(cookie: UInt64) -> UInt32? { map[cookie].map { UInt32(truncatingIfNeeded: $0) } }
}

/// Fills an `RTTTable` from the main dump's messages as they arrive (`CollectOptions.messageObserver`),
/// on the namespace's thread.
///
/// `@unchecked Sendable`: the collector calls it on the thread that runs the collection, the
/// only one that reads `table`.
final class RTTObserver: @unchecked Sendable {
    /// Unchecked: one thread uses it, and the dynamic exclusivity check per message was 0.2 % of a
    /// scrape at 100k sockets (perf: swift::runtime::AccessSet::insert).
    @exclusivity(unchecked) var table: RTTTable
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
                set(cookie: cookie, rttUs: KernelTCPInfo.rtt(in: UnsafeRawBufferPointer(rebasing: p[(off + 4)..<(off + len)])))
                return
            }
            off += (len + 3) & ~3
        }
    }
}
