/// An IPv4 or IPv6 address as 16 bytes in network order (IPv4 uses the low 4 bytes of `low`).
///
/// Kept as two integers rather than a `String` or `[UInt8]` so a socket record stays a flat
/// value: formatting happens only when a renderer asks for it.
public struct IPAddress: Sendable, Hashable, Comparable {
    /// Bytes 0–7 of an IPv6 address, big-endian. Zero for IPv4.
    public var high: UInt64
    /// Bytes 8–15 of an IPv6 address, big-endian; for IPv4, the address in the low 32 bits.
    public var low: UInt64
    public var isIPv6: Bool

    /// An IPv4 address from its value in host order (`0x7F000001` is 127.0.0.1).
    public init(ipv4 value: UInt32) {
        high = 0; low = UInt64(value); isIPv6 = false
    }

    /// An IPv6 address from its two big-endian halves.
    public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high; self.low = low; isIPv6 = true
    }

    /// The address with these bytes (4 for IPv4, 16 for IPv6); nil for any other count.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        var h: UInt64 = 0, l: UInt64 = 0
        switch bytes.count {
        case 4:
            for b in bytes { l = l << 8 | UInt64(b) }
            self.init(ipv4: UInt32(l))
        case 16:
            for (i, b) in bytes.enumerated() {
                if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
            }
            self.init(ipv6High: h, low: l)
        default:
            return nil
        }
    }

    public static let anyIPv4 = IPAddress(ipv4: 0)
    public static let anyIPv6 = IPAddress(ipv6High: 0, low: 0)

    /// The IPv4 value (host order) when this is an IPv4 address.
    public var ipv4Value: UInt32? { isIPv6 ? nil : UInt32(truncatingIfNeeded: low) }

    /// True for 0.0.0.0 and ::.
    public var isUnspecified: Bool { high == 0 && low == 0 }

    /// True for ::ffff:a.b.c.d.
    public var isIPv4Mapped: Bool { isIPv6 && high == 0 && (low >> 32) == 0xFFFF }

    /// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
    public var isLoopback: Bool {
        if !isIPv6 { return (low >> 24) & 0xFF == 127 }
        if high == 0 && low == 1 { return true }
        return isIPv4Mapped && (low >> 24) & 0xFF == 127
    }

    /// The 16 bytes (IPv6) or 4 bytes (IPv4) in network order.
    public var bytes: [UInt8] {
        if !isIPv6 { return (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * $0)) } }
        return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        (a.isIPv6 ? 1 : 0, a.high, a.low) < (b.isIPv6 ? 1 : 0, b.high, b.low)
    }

    /// Appends the textual form: dotted quad, or RFC 5952 IPv6 (lower-case hex, the first longest
    /// run of two or more zero groups as `::`, and `::ffff:a.b.c.d` for IPv4-mapped addresses).
    public func write(to out: inout [UInt8]) {
        if !isIPv6 { Self.writeDotted(UInt32(truncatingIfNeeded: low), to: &out); return }
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: high >> (48 - 16 * i))
            groups[i + 4] = UInt16(truncatingIfNeeded: low >> (48 - 16 * i))
        }
        if isIPv4Mapped {
            out.append(contentsOf: [0x3A, 0x3A, 0x66, 0x66, 0x66, 0x66, 0x3A])  // "::ffff:"
            Self.writeDotted(UInt32(truncatingIfNeeded: low), to: &out)
            return
        }
        // Longest run of zero groups, first one on a tie; a single zero group is not compressed.
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else {
                i += 1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        i = 0
        var afterColons = true  // no ':' before the first group, nor right after "::"
        while i < 8 {
            if i == bestStart {
                out.append(0x3A); out.append(0x3A)
                i += bestLen
                afterColons = true
                continue
            }
            if !afterColons { out.append(0x3A) }
            Self.writeHex(groups[i], to: &out)
            afterColons = false
            i += 1
        }
    }

    static func writeDotted(_ v: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) {
            appendDecimal(UInt64((v >> UInt32(shift)) & 0xFF), to: &out)
            if shift > 0 { out.append(0x2E) }
        }
    }

    static func writeHex(_ v: UInt16, to out: inout [UInt8]) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var started = false
        for shift in stride(from: 12, through: 0, by: -4) {
            let d = Int((v >> UInt16(shift)) & 0xF)
            if d != 0 || started || shift == 0 { out.append(digits[d]); started = true }
        }
    }
}

extension IPAddress: CustomStringConvertible {
    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(40)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

extension IPAddress {
    /// Parses a dotted quad or an IPv6 address (with `::` and an optional trailing dotted quad).
    public init?(_ text: String) {
        if !text.contains(":") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var v: UInt32 = 0
            for p in parts {
                guard !p.isEmpty, p.count <= 3, let n = UInt32(p), n <= 255 else { return nil }
                v = v << 8 | n
            }
            self.init(ipv4: v)
            return
        }
        var head: [UInt16] = [], tail: [UInt16] = []
        var halves: [String] = []
        let chars = Array(text.utf8)
        var start = 0, k = 0
        while k < chars.count {
            if k + 1 < chars.count && chars[k] == 0x3A && chars[k + 1] == 0x3A {
                halves.append(String(decoding: chars[start..<k], as: UTF8.self))
                k += 2; start = k
            } else {
                k += 1
            }
        }
        halves.append(String(decoding: chars[start...], as: UTF8.self))
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String, allowV4: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, p) in parts.enumerated() {
                if i == parts.count - 1 && allowV4 && p.contains(".") {
                    guard let v4 = IPAddress(String(p)), let v = v4.ipv4Value else { return nil }
                    out.append(UInt16(v >> 16)); out.append(UInt16(v & 0xFFFF))
                } else {
                    guard !p.isEmpty, p.count <= 4, let g = UInt16(p, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        if halves.count == 2 {
            guard let h = groups(halves[0], allowV4: false), let t = groups(halves[1], allowV4: true),
                  h.count + t.count <= 7 else { return nil }
            head = h; tail = t
        } else {
            guard let h = groups(halves[0], allowV4: true), h.count == 8 else { return nil }
            head = h
        }
        let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(all[i]); lo = lo << 16 | UInt64(all[i + 4]) }
        self.init(ipv6High: hi, low: lo)
    }
}

extension IPAddress: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let a = IPAddress(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an IP address: \(s)")
        }
        self = a
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Appends the decimal digits of `v`. Hand-written because it runs once per number per row.
@inlinable
public func appendDecimal(_ v: UInt64, to out: inout [UInt8]) {
    if v < 10 { out.append(0x30 &+ UInt8(truncatingIfNeeded: v)); return }
    var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
              UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var n = v, len = 0
    withUnsafeMutableBytes(of: &tmp) { buf in
        while n > 0 {
            buf[19 - len] = 0x30 &+ UInt8(truncatingIfNeeded: n % 10)
            n /= 10
            len += 1
        }
        // A typed buffer takes Array's memcpy path; a raw slice took the element-by-element one (perf).
        out.append(contentsOf: UnsafeBufferPointer(start: buf.baseAddress!.assumingMemoryBound(to: UInt8.self) + (20 - len),
                                                   count: len))
    }
}
