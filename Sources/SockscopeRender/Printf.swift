import SockscopeModel

/// printf's `%g`, `%.Ng` and `%.Nf`, as glibc prints them, written straight into bytes: `ss -i` prints
/// its times and rates with these, and a reader of `ss -i` must get the same text. The CLI links no
/// Foundation and Swift cannot call variadic C, so the conversions are done here, exactly: a value
/// is rounded by comparing the double itself (not a decimal approximation of it) with the halfway
/// point, through fused multiply-adds whose sign is exact; a tie, which only a double lying exactly
/// halfway can produce, goes to the even digit, as glibc does.
public enum Printf {
    /// Powers of ten that are exact doubles.
    static let pow10: [Double] = (0...22).map { k in (0..<k).reduce(1.0) { a, _ in a * 10 } }

    /// `d` rounded to an integer number of 10^-`k` (k may be negative): the digits printf shows.
    /// `d` is finite, non-negative, and the result below 2^52.
    static func scaled(_ d: Double, _ k: Int) -> UInt64 {
        // sign(d * 10^k - x), exactly.
        func compare(_ x: Double) -> Double {
            k >= 0 ? (-x).addingProduct(d, pow10[k]) : d.addingProduct(-x, pow10[-k])
        }
        let approx = k >= 0 ? d * pow10[k] : d / pow10[-k]
        var q = UInt64(max(0, approx.rounded(.down)))
        while q > 0 && compare(Double(q)) < 0 { q -= 1 }
        while compare(Double(q + 1)) >= 0 { q += 1 }
        let half = compare(Double(q) + 0.5)
        if half > 0 || (half == 0 && q & 1 == 1) { q += 1 }
        return q
    }

    /// `%.{decimals}f`.
    public static func fixed(_ d: Double, decimals: Int, to out: inout [UInt8]) {
        guard d.isFinite, d >= 0 else { nonFinite(d, to: &out); return }
        if decimals == 0 && d >= 0x1p52 { exactInteger(d, to: &out); return }
        let q = scaled(d, decimals)
        let p = UInt64(pow10[decimals])
        appendDecimal(q / p, to: &out)
        if decimals > 0 {
            out.append(UInt8(ascii: "."))
            digits(q % p, count: decimals, to: &out)
        }
    }

    /// `%g` (precision 6), or `%.{precision}g`.
    public static func g(_ d: Double, precision: Int = 6, to out: inout [UInt8]) {
        guard d.isFinite, d >= 0 else { nonFinite(d, to: &out); return }
        if d == 0 { out.append(UInt8(ascii: "0")); return }
        // Outside what ss prints (and the exact powers of ten): Swift's shortest form.
        guard d >= 1e-12, d < 1e21 else { out.append(contentsOf: "\(d)".utf8); return }
        let p = min(max(precision, 1), 15)
        // The exponent printf's %e would show: estimated, then corrected so that the rounded
        // mantissa has exactly p digits.
        // 10^x <= d exactly (10^x for negative x is not a double: compare d * 10^-x with 1, fused).
        func atLeastPow10(_ x: Int) -> Bool { x >= 0 ? d >= pow10[x] : (-1.0).addingProduct(d, pow10[-x]) >= 0 }
        var x = Int((log10Estimate(d)).rounded(.down))
        while !atLeastPow10(x) { x -= 1 }
        while atLeastPow10(x + 1) { x += 1 }
        var q = scaled(d, p - 1 - x)
        // Rounding carried into a new digit (9.99995 -> 10): the exponent is one more.
        if q >= UInt64(pow10[p]) { x += 1; q = scaled(d, p - 1 - x) }
        if x < -4 || x >= p {
            // %e style: d.ddddde±XX without trailing zeros.
            var m = q, n = p
            while n > 1 && m % 10 == 0 { m /= 10; n -= 1 }
            let lead = m / UInt64(pow10[n - 1])
            appendDecimal(lead, to: &out)
            if n > 1 {
                out.append(UInt8(ascii: "."))
                digits(m % UInt64(pow10[n - 1]), count: n - 1, to: &out)
            }
            out.append(UInt8(ascii: "e"))
            out.append(UInt8(ascii: x < 0 ? "-" : "+"))
            digits(UInt64(abs(x)), count: abs(x) < 10 ? 2 : String(abs(x)).count, to: &out)
            return
        }
        // %f style with p-1-x decimals, trailing zeros (and a bare point) removed.
        var decimals = p - 1 - x
        var v = q
        while decimals > 0 && v % 10 == 0 { v /= 10; decimals -= 1 }
        let scale = UInt64(pow10[decimals])
        appendDecimal(v / scale, to: &out)
        if decimals > 0 {
            out.append(UInt8(ascii: "."))
            digits(v % scale, count: decimals, to: &out)
        }
    }

    /// `%g` of `Double(us) / 1000`, as ss prints times. Below 1000 ms the three decimals all fit in
    /// six significant digits, so no rounding happens and integer arithmetic gives the same text
    /// (this is the common case, and the -i line has several per socket).
    public static func milliseconds(_ us: UInt32, to out: inout [UInt8]) {
        guard us < 1_000_000 else { g(Double(us) / 1000, to: &out); return }
        appendDecimal(UInt64(us / 1000), to: &out)
        var frac = us % 1000
        guard frac != 0 else { return }
        out.append(UInt8(ascii: "."))
        var n = 3
        while frac % 10 == 0 { frac /= 10; n -= 1 }
        digits(UInt64(frac), count: n, to: &out)
    }

    /// log10 of a positive double, good to well under one unit (the caller corrects it).
    static func log10Estimate(_ d: Double) -> Double {
        // exponent * log10(2) + log10(significand); the significand is in [1, 2).
        let e = Double(d.exponent)
        let s = d.significand
        return e * 0.301_029_995_663_981_2 + (s - 1) * 0.434_294_481_9 * (1 - (s - 1) / 2 + (s - 1) * (s - 1) / 3)
    }

    /// `n` as exactly `count` digits, zero-padded.
    static func digits(_ n: UInt64, count: Int, to out: inout [UInt8]) {
        guard count > 0 else { return }
        let start = out.count
        out.append(contentsOf: repeatElement(0x30, count: count))
        var v = n, i = start + count - 1
        while i >= start { out[i] = 0x30 &+ UInt8(v % 10); v /= 10; i -= 1 }
    }

    /// The exact decimal value of an integral double at or above 2^52 (it may exceed UInt64).
    static func exactInteger(_ d: Double, to out: inout [UInt8]) {
        // d = significand bits * 2^shift; double a decimal digit string shift times.
        let shift = Int(d.exponent) - 52
        var decimal: [UInt8] = Array(String(UInt64(1) << 52 | d.significandBitPattern).utf8).reversed().map { $0 - 0x30 }
        for _ in 0..<max(shift, 0) {
            var carry: UInt8 = 0
            for i in decimal.indices {
                let v = decimal[i] * 2 + carry
                decimal[i] = v % 10; carry = v / 10
            }
            if carry > 0 { decimal.append(carry) }
        }
        out.append(contentsOf: decimal.reversed().map { $0 + 0x30 })
    }

    static func nonFinite(_ d: Double, to out: inout [UInt8]) {
        if d.isNaN { out.append(contentsOf: "nan".utf8); return }
        if d < 0 { out.append(UInt8(ascii: "-")) }
        if d.isInfinite { out.append(contentsOf: "inf".utf8); return }
        // Negative finite values do not occur in what ss prints; print the magnitude.
        g(-d, to: &out)
    }
}
