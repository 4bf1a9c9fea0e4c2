@testable import SockscopeCollect
import TestSupport
import Testing

/// The hand-written cookie set against `Set<UInt64>` over random inserts and removals.
@Suite struct CookieSetTests {
    @Test(arguments: [UInt64(1), 7, 1_000_003])
    func agreesWithSet(_ seed: UInt64) {
        var rng = SplitMix(seed: seed)
        var ours = CookieSet(minimumCapacity: 8)
        var theirs = Set<UInt64>()
        // Sequential cookies as the kernel hands them out, with random ones mixed in; grows past its start.
        for step in 0..<20_000 {
            let c = rng.next() % 4 == 0 ? rng.next() | 1 : UInt64(1 + rng.next() % 3_000)
            if rng.next() % 3 == 0 {
                ours.remove(c)
                theirs.remove(c)
            } else {
                let a = ours.insert(c), b = theirs.insert(c).inserted
                #expect(a == b, "step \(step)")
            }
            if step % 997 == 0 {
                #expect(ours.count == theirs.count)
                #expect(theirs.allSatisfy { ours.contains($0) })
            }
        }
        #expect(ours.count == theirs.count)
        #expect((1...3_000 as ClosedRange<UInt64>).allSatisfy { ours.contains($0) == theirs.contains($0) })
        var union = CookieSet(minimumCapacity: 4)
        let first = union.insert(5_000_000)
        #expect(first)
        union.formUnion(ours)
        #expect(union.count == theirs.count + (theirs.contains(5_000_000) ? 0 : 1))
    }
}

extension CookieSetTests {
    /// Counters spread over a few table sizes keep probe runs short (see `cookieHome`).
    @Test(arguments: [UInt64(1), 2, 3, 7])
    func spreadCountersKeepProbesShort(_ stride: UInt64) {
        var s = CookieSet(minimumCapacity: 100_000)
        for i in UInt64(0)..<100_000 { _ = s.insert(0x9_0000 + i * stride) }
        #expect(s.count == 100_000)
        #expect(s.longestProbe < 200, "longest probe \(s.longestProbe) at stride \(stride)")
    }

    /// Runs of consecutive cookies a power of two apart (per-CPU counter batches): by the low
    /// bits every run would take the same slots.
    @Test func runsAPowerOfTwoApartKeepProbesShort() {
        var s = CookieSet(minimumCapacity: 100_000)
        for run in UInt64(0)..<4 {
            for i in UInt64(0)..<25_000 { _ = s.insert(run << 20 + i + 1) }
        }
        #expect(s.count == 100_000)
        #expect(s.longestProbe < 200, "longest probe \(s.longestProbe)")
    }
}
