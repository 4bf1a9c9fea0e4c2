import SockscopeModel

/// The one JSON writer every renderer uses (and the executables, for their own lines): appends
/// objects, arrays, keys and values to a byte buffer, placing commas itself, with one escaping
/// rule for every string (`Escape.json`: `"` and `\` escaped, C0, DEL, C1 and bidi overrides as
/// `\u009b`-style escapes, invalid UTF-8 as U+FFFD).
///
/// Written by hand rather than with `JSONEncoder` because the CLI links no Foundation (loading it
/// tripled start-up), and because `JSONEncoder` would be most of `--json`'s cost at scale:
/// measured with `sockscope-bench json-writer` over 100,000 TCP records (release build, 2-core
/// machine), this writer 0.23 s, `JSONEncoder` 3.2–3.6 s (12–16× slower).
///
/// Layout bytes (newlines between array elements) go in with `raw`, which does not count as a
/// value. Keys are `StaticString`s: they are the schema, never input.
public struct JSONWriter {
    /// The output so far.
    public var bytes: [UInt8]
    /// Bit `d` set: the container at depth `d` has had no element yet (no comma before the next).
    private var fresh: UInt64 = 1
    private var depth = 0
    /// A key (or an element break) was just written: the next value takes no comma.
    private var afterKey = false

    public init(bytes: [UInt8] = []) { self.bytes = bytes }

    /// Writes into `out` in place (its storage moves into the writer and back, without a copy).
    public static func append(to out: inout [UInt8], _ body: (inout JSONWriter) -> Void) {
        var w = JSONWriter(bytes: [])
        swap(&w.bytes, &out)
        body(&w)
        swap(&w.bytes, &out)
    }

    @inline(__always)
    private mutating func separator() {
        if afterKey { afterKey = false; return }
        let bit: UInt64 = 1 << UInt64(depth & 63)
        if fresh & bit != 0 { fresh &= ~bit } else { bytes.append(UInt8(ascii: ",")) }
    }

    @inline(__always)
    private mutating func open(_ c: UInt8) {
        separator()
        bytes.append(c)
        depth += 1
        fresh |= 1 << UInt64(depth & 63)
    }

    @inline(__always)
    private mutating func close(_ c: UInt8) {
        depth -= 1
        bytes.append(c)
    }

    public mutating func objectStart() { open(UInt8(ascii: "{")) }
    public mutating func objectEnd() { close(UInt8(ascii: "}")) }
    public mutating func arrayStart() { open(UInt8(ascii: "[")) }
    public mutating func arrayEnd() { close(UInt8(ascii: "]")) }

    /// `"key":` (the next value belongs to it).
    @inline(__always)
    public mutating func key(_ k: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// A string value from untrusted bytes, escaped.
    public mutating func string(_ s: some Collection<UInt8>) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        Escape.json(s, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func string(_ s: String) { string(s.utf8) }

    /// A string value the caller writes itself, unescaped: only for text known to need no
    /// escaping (an IP address, a fixed name of this program's vocabulary).
    @inline(__always)
    public mutating func string(verbatim write: (inout [UInt8]) -> Void) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        write(&bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A fixed word of the schema (a state name, a protocol), unescaped.
    @inline(__always)
    public mutating func string(verbatim s: String) {
        string(verbatim: { $0.append(contentsOf: s.utf8) })
    }

    @inline(__always)
    public mutating func number(_ v: UInt64) {
        separator()
        appendDecimal(v, to: &bytes)
    }

    public mutating func number(_ v: Int) {
        separator()
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(v.magnitude.toUInt64, to: &bytes)
    }

    public mutating func bool(_ v: Bool) {
        separator()
        bytes.append(contentsOf: (v ? "true" : "false").utf8)
    }

    public mutating func null() {
        separator()
        bytes.append(contentsOf: "null".utf8)
    }

    /// `"key":N`, `"key":"…"`, `"key":true` in one call.
    @inline(__always)
    public mutating func field(_ k: StaticString, _ v: UInt64) { key(k); number(v) }
    public mutating func field(_ k: StaticString, _ v: Int) { key(k); number(v) }
    public mutating func field(_ k: StaticString, _ v: Bool) { key(k); bool(v) }
    public mutating func field(_ k: StaticString, _ v: String) { key(k); string(v) }
    public mutating func field(_ k: StaticString, bytes v: some Collection<UInt8>) { key(k); string(v) }

    /// Layout bytes: not a value, no comma.
    public mutating func raw(_ b: UInt8) { bytes.append(b) }

    /// Starts the next element of the current array on a new line: the comma (after the first
    /// element), then a newline, as `--json` lays out one object per line.
    public mutating func elementOnNewLine() {
        separator()
        bytes.append(0x0A)
        afterKey = true
    }
}

extension UInt {
    fileprivate var toUInt64: UInt64 { UInt64(self) }
}
