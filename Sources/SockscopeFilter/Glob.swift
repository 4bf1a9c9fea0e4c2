/// An fnmatch(3) pattern as ss applies it to UNIX socket names (`FNM_CASEFOLD`, no other flag):
/// `*` any run of bytes (a `/` or a leading `.` included), `?` any one byte, `[...]` a set
/// (ranges, `!` or `^` to negate, `[:class:]`), `\` quoting the next byte; ASCII letters compare
/// without case. Bytes, not characters: ss runs in the C locale, where a multi-byte character is
/// several bytes to `?`.
public struct Glob: Sendable, Hashable {
    public let pattern: [UInt8]

    public init(_ pattern: String) { self.pattern = Array(pattern.utf8) }

    /// True when the whole of `name` matches.
    public func matches(_ name: [UInt8]) -> Bool {
        // Iterative with one backtrack point (the latest `*`): linear in practice, O(n·m) at worst,
        // never recursive, so a hostile pattern cannot exhaust the stack.
        let p = pattern
        var pi = 0, ni = 0
        var star = -1, starName = 0
        while ni < name.count {
            if pi < p.count {
                switch p[pi] {
                case UInt8(ascii: "*"):
                    star = pi; starName = ni; pi += 1
                    continue
                case UInt8(ascii: "?"):
                    pi += 1; ni += 1
                    continue
                case UInt8(ascii: "["):
                    if let (hit, next) = Self.set(p, from: pi, byte: name[ni]) {
                        if hit { pi = next; ni += 1; continue }
                    } else if Self.fold(name[ni]) == UInt8(ascii: "[") {
                        pi += 1; ni += 1; continue  // an unclosed `[` is itself
                    }
                default:
                    var lit = p[pi], width = 1
                    if lit == UInt8(ascii: "\\") && pi + 1 < p.count { lit = p[pi + 1]; width = 2 }
                    if Self.fold(lit) == Self.fold(name[ni]) { pi += width; ni += 1; continue }
                }
            }
            guard star >= 0 else { return false }
            // Let the latest `*` take one more byte and try again from there.
            starName += 1; ni = starName; pi = star + 1
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    static func fold(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    /// Matches `byte` against the set opening at `p[start]`: whether it is in, and the index after
    /// the closing `]`; nil when the set is not closed.
    static func set(_ p: [UInt8], from start: Int, byte: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count && (p[i] == UInt8(ascii: "!") || p[i] == UInt8(ascii: "^")) { negate = true; i += 1 }
        let b = fold(byte)
        var hit = false
        var first = true
        while i < p.count {
            var c = p[i]
            if c == UInt8(ascii: "]") && !first { return (hit != negate, i + 1) }
            first = false
            if c == UInt8(ascii: "["), i + 1 < p.count, p[i + 1] == UInt8(ascii: ":"),
               let end = classEnd(p, from: i + 2) {
                if let test = classTest(Array(p[(i + 2)..<end])), test(byte) { hit = true }
                i = end + 2
                continue
            }
            if c == UInt8(ascii: "\\") && i + 1 < p.count { i += 1; c = p[i] }
            var hi = c
            if i + 2 < p.count && p[i + 1] == UInt8(ascii: "-") && p[i + 2] != UInt8(ascii: "]") {
                hi = p[i + 2]
                if hi == UInt8(ascii: "\\") && i + 3 < p.count { hi = p[i + 3]; i += 1 }
                i += 3
            } else {
                i += 1
            }
            let lo = fold(c), up = fold(hi)
            if (lo <= b && b <= up) || (c <= byte && byte <= hi) { hit = true }
        }
        return nil
    }

    /// The index of the `:` of the `:]` closing a class name that starts at `from`.
    static func classEnd(_ p: [UInt8], from: Int) -> Int? {
        var i = from
        while i + 1 < p.count {
            if p[i] == UInt8(ascii: ":") && p[i + 1] == UInt8(ascii: "]") { return i }
            guard (0x61...0x7A).contains(p[i]) else { return nil }
            i += 1
        }
        return nil
    }

    static func classTest(_ name: [UInt8]) -> ((UInt8) -> Bool)? {
        let isUpper: (UInt8) -> Bool = { (0x41...0x5A).contains($0) }
        let isLower: (UInt8) -> Bool = { (0x61...0x7A).contains($0) }
        let isDigit: (UInt8) -> Bool = { (0x30...0x39).contains($0) }
        switch String(decoding: name, as: UTF8.self) {
        case "alpha": return { isUpper($0) || isLower($0) }
        case "digit": return isDigit
        case "alnum": return { isUpper($0) || isLower($0) || isDigit($0) }
        // Case folded: `[[:upper:]]` takes lower-case letters too, as fnmatch does with FNM_CASEFOLD.
        case "upper", "lower": return { isUpper($0) || isLower($0) }
        case "xdigit": return { isDigit($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }
        case "space": return { $0 == 0x20 || (0x09...0x0D).contains($0) }
        case "punct": return { (0x21...0x2F).contains($0) || (0x3A...0x40).contains($0) || (0x5B...0x60).contains($0) || (0x7B...0x7E).contains($0) }
        case "blank": return { $0 == 0x20 || $0 == 0x09 }
        case "cntrl": return { $0 < 0x20 || $0 == 0x7F }
        case "print": return { (0x20...0x7E).contains($0) }
        case "graph": return { (0x21...0x7E).contains($0) }
        default: return nil
        }
    }
}
