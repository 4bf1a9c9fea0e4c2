import SockscopeModel

/// Escaping of untrusted strings (process names, cgroup paths, interface and service names) for output.
///
/// One rule for every text renderer (table, live view, insight views, port-watch lines, DOT labels
/// go through `terminal`): printable UTF-8 as is; `\\` for a backslash; `\xNN` for each C0
/// control, DEL and each byte that is not part of valid UTF-8; `\u{NNNN}` for C1 controls and
/// direction overrides. Where a name sits among syntax of its own (`users:(("name",pid=…))`,
/// `1234/name`), `quoted` and `name` add `\"` for a quote, so no name can close its field and
/// start another. JSON has its own escapes (`json`), and keeps names whole.
public enum Escape {
    /// The widest a name may make a table column (in escaped bytes): past it, the name is cut at
    /// a character or escape boundary and ends in `…`. Names are the kernel's or a file's: a
    /// 200 KB line in /etc/services must not pad every row to 200 KB. JSON keeps them whole.
    public static let cellLimit = 32

    /// `terminal(_:to:)`, but at most `limit` bytes of output: a longer result is cut before the
    /// unit (character or escape) that would leave no room for the `…` (3 bytes) it then ends with.
    public static func terminal(_ bytes: some Collection<UInt8>, limit: Int, to out: inout [UInt8]) {
        var full: [UInt8] = []
        terminal(bytes, to: &full)
        if full.count <= limit { out.append(contentsOf: full); return }
        // Cut on a unit boundary: re-escape unit by unit until the budget is spent.
        let b = Array(bytes)
        var used = 0, i = 0
        var unit: [UInt8] = []
        while i < b.count {
            unit.removeAll(keepingCapacity: true)
            let len = unitLength(b, i)
            terminal(b[i..<(i + len)], to: &unit)
            if used + unit.count > limit - 3 { break }
            out.append(contentsOf: unit)
            used += unit.count
            i += len
        }
        out.append(contentsOf: "…".utf8)
    }

    /// `terminal(_:limit:to:)` as a `String`.
    public static func terminal(_ s: String, limit: Int) -> String {
        var out: [UInt8] = []
        terminal(Array(s.utf8), limit: limit, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes one output unit covers at `i`: a whole valid UTF-8 scalar, else one byte.
    static func unitLength(_ b: [UInt8], _ i: Int) -> Int {
        b[i] < 0x80 ? 1 : decodeScalar(b, i)?.1 ?? 1
    }

    /// Appends `"` + the terminal-escaped bytes with each `"` as `\"` + `"`: a field no name can
    /// end early (a backslash is always doubled, so `\"` is always a quote inside the field).
    public static func quoted(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var escaped: [UInt8] = []
        terminal(bytes, to: &escaped)
        for c in escaped {
            if c == UInt8(ascii: "\"") { out.append(UInt8(ascii: "\\")) }
            out.append(c)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A name where it sits bare among syntax (`1234/sshd+2`, `name(1234,1240)`): as is (escaped
    /// like `terminal`) when it holds none of that syntax, else `quoted`, so `x+5` or `a b 9/c`
    /// cannot pass for a count or another owner.
    public static func name(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        let special: Set<UInt8> = Set(" \"\\,()+/=".utf8)
        if bytes.isEmpty || bytes.contains(where: { special.contains($0) }) {
            quoted(bytes, to: &out)
        } else {
            terminal(bytes, to: &out)
        }
    }

    /// Appends `bytes` for a terminal: printable UTF-8 is copied; C0 controls, DEL, C1 controls,
    /// bidirectional overrides, invalid UTF-8 and the backslash itself become visible escapes
    /// (`\x1b`, `\u{202e}`, `\\`), so nothing in a name can move the cursor, set a title,
    /// write the clipboard (OSC 52) or split a row.
    public static func terminal(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        let b = Array(bytes)
        var i = 0
        while i < b.count {
            let c = b[i]
            if c >= 0x20 && c < 0x7F {
                if c == UInt8(ascii: "\\") { out.append(c) }
                out.append(c)
                i += 1
                continue
            }
            if c < 0x80 {
                hexEscape(c, to: &out)
                i += 1
                continue
            }
            guard let (scalar, len) = decodeScalar(b, i) else {
                hexEscape(c, to: &out)
                i += 1
                continue
            }
            if isUnsafeScalar(scalar) {
                out.append(contentsOf: Array("\\u{".utf8))
                appendHex(UInt64(scalar), to: &out)
                out.append(UInt8(ascii: "}"))
            } else {
                out.append(contentsOf: b[i..<(i + len)])
            }
            i += len
        }
    }

    /// The terminal-safe form of a string, as a `String`.
    public static func terminal(_ s: String) -> String {
        var out: [UInt8] = []
        terminal(Array(s.utf8), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `bytes` as the contents of a JSON string (no quotes): `"` and `\` escaped, every
    /// control character (C0, DEL, C1) and bidi override as `\uXXXX`, invalid UTF-8 as U+FFFD,
    /// so the result is valid JSON and inert in a terminal.
    public static func json(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        let b = Array(bytes)
        var i = 0
        while i < b.count {
            let c = b[i]
            if c >= 0x20 && c < 0x7F {
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(c)
                i += 1
                continue
            }
            if c < 0x80 {
                unicodeEscape(UInt32(c), to: &out)
                i += 1
                continue
            }
            guard let (scalar, len) = decodeScalar(b, i) else {
                unicodeEscape(0xFFFD, to: &out)
                i += 1
                continue
            }
            if isUnsafeScalar(scalar) { unicodeEscape(scalar, to: &out) } else { out.append(contentsOf: b[i..<(i + len)]) }
            i += len
        }
    }

    /// C1 controls and the invisible direction overrides that can reorder what a reader sees.
    static func isUnsafeScalar(_ s: UInt32) -> Bool {
        (0x80...0x9F).contains(s) || s == 0x200E || s == 0x200F || (0x202A...0x202E).contains(s)
            || (0x2066...0x2069).contains(s) || s == 0xFEFF
    }

    /// Decodes one well-formed UTF-8 scalar at `i` (no overlongs, no surrogates), or nil.
    static func decodeScalar(_ b: [UInt8], _ i: Int) -> (UInt32, Int)? {
        let c = b[i]
        let len: Int, min: UInt32
        var v: UInt32
        switch c {
        case 0xC2...0xDF: len = 2; v = UInt32(c & 0x1F); min = 0x80
        case 0xE0...0xEF: len = 3; v = UInt32(c & 0x0F); min = 0x800
        case 0xF0...0xF4: len = 4; v = UInt32(c & 0x07); min = 0x10000
        default: return nil
        }
        guard i + len <= b.count else { return nil }
        for k in 1..<len {
            let cc = b[i + k]
            guard cc & 0xC0 == 0x80 else { return nil }
            v = v << 6 | UInt32(cc & 0x3F)
        }
        guard v >= min, v <= 0x10FFFF, !(0xD800...0xDFFF).contains(v) else { return nil }
        return (v, len)
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func hexEscape(_ c: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "x"))
        out.append(hexDigits[Int(c >> 4)]); out.append(hexDigits[Int(c & 0xF)])
    }

    static func unicodeEscape(_ s: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) { out.append(hexDigits[Int((s >> UInt32(shift)) & 0xF)]) }
    }

    static func appendHex(_ v: UInt64, to out: inout [UInt8]) {
        var started = false
        for shift in stride(from: 60, through: 0, by: -4) {
            let d = Int((v >> UInt64(shift)) & 0xF)
            if d != 0 || started || shift == 0 { out.append(hexDigits[d]); started = true }
        }
    }
}
