import SockscopeModel

// Integer-keyed hash tables for the per-socket passes (pairing both ends of local connections,
// distinct peers per listener, distinct source ports per destination). Measured at 100k loopback
// TCP sockets (release build, perf): `Dictionary` and `Set` keyed by structs of addresses, ports
// and protocol enums spent most of the ephemeral report and of the listener peer counts in
// SipHash and in generic hashing of the enums; these tables hash a few words with a
// multiply-xorshift mix seeded per table, and probe linearly. Inlinable: the exporter's core uses
// them too, and an unspecialized generic call per lookup (metadata and witness calls) cost more
// than the lookup (perf: 9 % of a scrape).

/// A key made of a few machine words.
package protocol FlatKey: Equatable {
    /// The words mixed with `seed` into a well-spread 64-bit hash.
    func hash(_ seed: UInt64) -> UInt64
}

@inlinable @inline(__always)
package func flatMix(_ h: UInt64, _ w: UInt64) -> UInt64 {
    let x = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
    return x ^ (x >> 29)
}

@inlinable @inline(__always)
package func flatFinish(_ h: UInt64) -> UInt64 {
    var x = h ^ (h >> 33)
    x &*= 0xFF51_AFD7_ED55_8CCD
    return x ^ (x >> 33)
}

/// Distinct keys in insertion order, each with an `Int32` value; open addressing, linear probing.
///
/// The seed is random per table: addresses and ports come from peers, and a fixed mix would let
/// one choose keys that all probe the same run.
package struct FlatTable<Key: FlatKey> {
    /// Every key once, in the order first inserted (read only: `position(of:)` adds keys).
    package var keys: [Key] = []
    /// The value of `keys[i]`.
    package var values: [Int32] = []
    /// 0 for an empty slot, else the hash's high 32 bits above (position in `keys` + 1).
    @usableFromInline var slots: [UInt64]
    @usableFromInline let seed: UInt64

    @inlinable package init(capacity: Int = 16) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        slots = [UInt64](repeating: 0, count: n)
        keys.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
        seed = UInt64.random(in: .min ... .max)
    }

    @inlinable package var count: Int { keys.count }

    /// The position of `key` in `keys`, added (with value 0) when new; `inserted` tells which.
    @inlinable @inline(__always)
    package mutating func position(of key: Key) -> (position: Int, inserted: Bool) {
        if (keys.count + 1) * 2 > slots.count { grow() }
        let (slot, tag, found) = probe(key)
        if let found { return (found, false) }
        slots[slot] = tag | UInt64(keys.count + 1)
        keys.append(key)
        values.append(0)
        return (keys.count - 1, true)
    }

    /// The position of `key` in `keys`, nil when absent.
    @inlinable @inline(__always)
    package func find(_ key: Key) -> Int? {
        if keys.isEmpty { return nil }
        return probe(key).found
    }

    /// Where `key` is (`found`, its position in `keys`), or else the empty slot it would take,
    /// and the tag its slot holds (the hash's high half).
    @inlinable @inline(__always)
    package func probe(_ key: Key) -> (slot: Int, tag: UInt64, found: Int?) {
        let h = flatFinish(key.hash(seed))
        let tag = h & 0xFFFF_FFFF_0000_0000
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s == 0 { return (i, tag, nil) }
            if s & 0xFFFF_FFFF_0000_0000 == tag {
                let p = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                if keys[p] == key { return (i, tag, p) }
            }
            i = (i + 1) & mask
        }
    }

    @usableFromInline mutating func grow() {
        var bigger = [UInt64](repeating: 0, count: slots.count * 2)
        let mask = bigger.count - 1
        for (p, key) in keys.enumerated() {
            let h = flatFinish(key.hash(seed))
            var i = Int(truncatingIfNeeded: h) & mask
            while bigger[i] != 0 { i = (i + 1) & mask }
            bigger[i] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(p + 1)
        }
        slots = bigger
    }
}

extension FlatTable: Sendable where Key: Sendable {}

/// An IP address as words: IPv4 in `low`, and the family bit kept apart so that 0.0.0.0 and ::
/// differ as `IPAddress` values do.
package struct PackedAddress: Equatable, Sendable {
    package var high: UInt64, low: UInt64, isIPv6: Bool
    @inlinable @inline(__always) package init(_ a: IPAddress) { high = a.high; low = a.low; isIPv6 = a.isIPv6 }
    @inlinable package var address: IPAddress { isIPv6 ? IPAddress(ipv6High: high, low: low) : IPAddress(ipv4: UInt32(truncatingIfNeeded: low)) }
}

/// A small number per protocol, for packing into a key word.
@inlinable @inline(__always)
package func protocolOrdinal(_ p: TransportProtocol) -> UInt64 {
    switch p {
    case .tcp: return 1
    case .udp: return 2
    case .raw: return 3
    case .mptcp: return 4
    case .sctp: return 5
    case .unixStream: return 6
    case .unixDgram: return 7
    case .unixSeqpacket: return 8
    case .packetRaw: return 9
    case .packetDgram: return 10
    case .netlink: return 11
    }
}

/// A connection's protocol and both ends, IPv4-mapped addresses as IPv4 (`ConnectionMapper.ConnKey`
/// as words).
struct PackedTuple: FlatKey {
    var localHigh: UInt64, localLow: UInt64, remoteHigh: UInt64, remoteLow: UInt64
    /// protocol << 40 | local is IPv6 << 33 | remote is IPv6 << 32 | local port << 16 | remote port
    var meta: UInt64

    @inline(__always)
    init(_ proto: TransportProtocol, _ local: SocketEndpoint, _ remote: SocketEndpoint) {
        let l = local.address.unmapped, r = remote.address.unmapped
        localHigh = l.high; localLow = l.low; remoteHigh = r.high; remoteLow = r.low
        meta = protocolOrdinal(proto) << 40 | (l.isIPv6 ? 1 << 33 : 0) | (r.isIPv6 ? 1 << 32 : 0)
            | UInt64(local.port) << 16 | UInt64(remote.port)
    }

    @inline(__always)
    func hash(_ seed: UInt64) -> UInt64 {
        flatMix(flatMix(flatMix(flatMix(flatMix(seed, localHigh), localLow), remoteHigh), remoteLow), meta)
    }
}
