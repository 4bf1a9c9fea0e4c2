import SockscopeModel
import TestSupport
import Testing

/// The hand-written cookie map against `Dictionary` over random inserts, updates and removals.
@Suite struct CookieMapTests {
    @Test(arguments: [UInt64(1), 7, 1_000_003])
    func agreesWithDictionary(_ seed: UInt64) {
        var rng = SplitMix(seed: seed)
        var ours = CookieMap(minimumCapacity: 4)
        var theirs: [UInt64: UInt64] = [:]
        // Runs of neighbouring cookies as the kernel hands them out, with random ones mixed in:
        // long probe runs that wrap around the end, and growth past the start size.
        for step in 0..<30_000 {
            let k = rng.next() % 4 == 0 ? rng.next() | 1 : UInt64(1 + rng.next() % 4_000)
            switch rng.next() % 3 {
            case 0:
                ours.remove(k)
                theirs[k] = nil
            case 1:
                let v = rng.next()
                let (slot, inserted) = ours.slot(inserting: k)
                #expect(inserted == (theirs[k] == nil), "step \(step)")
                #expect(!inserted || ours.values[slot] == 0)
                ours.values[slot] = v
                theirs[k] = v
            default:
                let v = rng.next()
                ours.set(k, v)
                theirs[k] = v
            }
            if step % 1_009 == 0 {
                #expect(ours.count == theirs.count)
                #expect(theirs.allSatisfy { ours[$0.key] == $0.value })
            }
        }
        #expect(ours.count == theirs.count)
        #expect((1...4_000 as ClosedRange<UInt64>).allSatisfy { ours[$0] == theirs[$0] })
        var seen = 0
        for s in ours.keys.indices where ours.keys[s] != 0 {
            #expect(theirs[ours.keys[s]] == ours.values[s])
            seen += 1
        }
        #expect(seen == theirs.count)
    }

    /// 0 is the empty mark, never a key.
    @Test func zeroIsNoKey() {
        var m = CookieMap()
        m.set(0, 5)
        #expect(m.count == 0 && m[0] == nil && m.slot(of: 0) == nil)
        m.remove(0)
        #expect(m.count == 0)
    }
}

/// Counter-made keys spread over a few table sizes (as 100k /proc inodes are) must not pile into
/// long probe runs: slotted by their low bits alone, values a table size apart took the same
/// slots and the runs grew to tens of thousands.
@Suite struct CookieSlottingTests {
    @Test(arguments: [UInt64(1), 2, 3, 7])
    func spreadCountersKeepProbesShort(_ stride: UInt64) {
        var m = CookieMap(minimumCapacity: 100_000)
        let base: UInt64 = 0x1_2345_6000
        for i in UInt64(0)..<100_000 { m.set(base + i * stride, i) }
        #expect(m.count == 100_000)
        #expect(m.longestProbe < 200, "longest probe \(m.longestProbe) at stride \(stride)")
        #expect((UInt64(0)..<100_000).allSatisfy { m[base + $0 * stride] == $0 })
    }

    /// Runs of consecutive keys a power of two apart (per-CPU counter batches): by the low bits
    /// every run would take the same slots.
    @Test func runsAPowerOfTwoApartKeepProbesShort() {
        var m = CookieMap(minimumCapacity: 100_000)
        for run in UInt64(0)..<4 {
            for i in UInt64(0)..<25_000 { m.set(run << 20 + i + 1, run) }
        }
        #expect(m.count == 100_000)
        #expect(m.longestProbe < 200, "longest probe \(m.longestProbe)")
    }
}
