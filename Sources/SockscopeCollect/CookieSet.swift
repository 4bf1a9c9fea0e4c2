import SockscopeModel

/// The socket cookies a snapshot has seen: a set of non-zero `UInt64`s with open addressing and
/// linear probing in one flat array. The kernel hands out cookies from a counter (in per-CPU
/// runs), so neighbouring cookies share a slot block (`cookieHome`): eight to a cache line
/// instead of one cache miss each. Hand-written for size and that locality: at 100k sockets
/// `Set<UInt64>` took 2 MiB and 6.8 % of `-tan` (perf, SipHash and a miss per insert); Fibonacci
/// hashing of the whole cookie here still took 8 %, the blocks take 1.5 %.
struct CookieSet {
    /// 0 marks an empty slot; a power-of-two count.
    private var slots: [UInt64]
    private(set) var count = 0

    init(minimumCapacity n: Int) {
        var size = 16
        while size * 4 < max(n, 1) * 5 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
    }

    @inline(__always)
    private func home(_ c: UInt64) -> Int { cookieHome(c, slots.count - 1) }

    /// The longest distance of a cookie from its home slot: what a lookup may have to walk.
    var longestProbe: Int {
        let mask = slots.count - 1
        var longest = 0
        for s in slots.indices where slots[s] != 0 { longest = max(longest, (s - home(slots[s])) & mask) }
        return longest
    }

    /// Adds `c` (non-zero); false when it was there already.
    mutating func insert(_ c: UInt64) -> Bool {
        if (count + 1) * 5 > slots.count * 4 { grow() }
        let mask = slots.count - 1
        var i = home(c)
        let fresh = slots.withUnsafeMutableBufferPointer { s -> Bool in
            while true {
                let v = s[i]
                if v == c { return false }
                if v == 0 { s[i] = c; return true }
                i = (i + 1) & mask
            }
        }
        if fresh { count += 1 }
        return fresh
    }

    func contains(_ c: UInt64) -> Bool {
        let mask = slots.count - 1
        var i = home(c)
        while true {
            let v = slots[i]
            if v == c { return true }
            if v == 0 { return false }
            i = (i + 1) & mask
        }
    }

    /// Removes `c` if present, shifting back the entries after it that probed past its slot.
    mutating func remove(_ c: UInt64) {
        let mask = slots.count - 1
        var i = home(c)
        while slots[i] != c {
            if slots[i] == 0 { return }
            i = (i + 1) & mask
        }
        var hole = i
        var j = i
        while true {
            j = (j + 1) & mask
            let v = slots[j]
            if v == 0 { break }
            // `v` may fill the hole only if its home is not between the hole and j (cyclically).
            let h = home(v)
            let between = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !between {
                slots[hole] = v
                hole = j
            }
        }
        slots[hole] = 0
        count -= 1
    }

    mutating func formUnion(_ other: CookieSet) {
        for v in other.slots where v != 0 { _ = insert(v) }
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        count = 0
        for v in old where v != 0 { _ = insert(v) }
    }
}
