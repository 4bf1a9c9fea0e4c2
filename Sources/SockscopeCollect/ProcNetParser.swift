import SockscopeModel

/// A line of a /proc/net file that could not be parsed: reported, skipped, never fatal.
public struct MalformedLine: Sendable, Hashable, CustomStringConvertible {
    /// 1-based line number (the header is line 1).
    public var line: Int
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}

/// Parses the text of `/proc/net/{tcp,tcp6,udp,udp6}` byte by byte.
///
/// Line format (after a header line):
/// `sl: LOCAL:PORT REMOTE:PORT ST TX:RX TR:WHEN RETRNSMT UID TIMEOUT INODE …`
/// Addresses are 32-bit words printed in host byte order (`0100007F` is 127.0.0.1 on x86),
/// ports are big-endian values in hex. For UDP, `sl` is a hash bucket and may repeat.
/// Splitting lines into Foundation strings costs ~50× more, which matters at 100k sockets.
public struct ProcNetParser {
    public var proto: TransportProtocol
    public var family: AddressFamily

    public init(proto: TransportProtocol, family: AddressFamily) {
        self.proto = proto
        self.family = family
    }

    /// Parses a whole file, calling `emit` for each socket and `malformed` for each bad line.
    public func parse(_ bytes: UnsafeRawBufferPointer, emit: (SocketRecord) -> Void,
                      malformed: (MalformedLine) -> Void) {
        _ = parse(bytes, linesBefore: 0, isEnd: true, emit: emit, malformed: malformed)
    }

    /// Parses part of a file read in chunks: the complete lines of `bytes`, whose first line is line
    /// `linesBefore + 1` of the file (line 1 is the header). Unless `isEnd`, a last line without its
    /// newline is left unparsed. Returns how many bytes were consumed and how many lines were seen.
    public func parse(_ bytes: UnsafeRawBufferPointer, linesBefore: Int, isEnd: Bool, emit: (SocketRecord) -> Void,
                      malformed: (MalformedLine) -> Void) -> (consumed: Int, lines: Int) {
        let b = bytes.bindMemory(to: UInt8.self)
        let n = b.count
        var pos = 0
        var lineNo = linesBefore
        while pos < n {
            var end = pos
            while end < n && b[end] != 0x0A { end += 1 }
            if end == n && !isEnd { break }
            lineNo += 1
            if lineNo == 1 {
                // The header. A file whose first line is already data would be misread, so check it.
                if !Self.isHeader(b, pos, end) { parseLine(b, pos, end, lineNo, emit, malformed) }
            } else if !Self.isBlank(b, pos, end) {
                parseLine(b, pos, end, lineNo, emit, malformed)
            }
            pos = end + 1
        }
        return (min(pos, n), lineNo - linesBefore)
    }

    /// Convenience for tests and fixtures.
    public func parse(_ bytes: [UInt8]) -> (records: [SocketRecord], malformed: [MalformedLine]) {
        var recs: [SocketRecord] = [], bad: [MalformedLine] = []
        bytes.withUnsafeBytes { parse($0, emit: { recs.append($0) }, malformed: { bad.append($0) }) }
        return (recs, bad)
    }

    static func isHeader(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
        var i = s
        while i < e && b[i] == 0x20 { i += 1 }
        return i + 1 < e && b[i] == UInt8(ascii: "s") && b[i + 1] == UInt8(ascii: "l")
    }

    static func isBlank(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
        var i = s
        while i < e && (b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0D) { i += 1 }
        return i == e
    }

    private struct Bad: Error { var reason: String }

    /// A cursor over one line; each read checks bounds, so no input can trap.
    private struct Cursor {
        let b: UnsafeBufferPointer<UInt8>
        var i: Int
        let end: Int

        mutating func skipSpaces() { while i < end && b[i] == 0x20 { i += 1 } }

        // The descriptions are autoclosures: built per field of every line, they were 2 % of
        // `--source proc -tan` at 100k sockets (perf: String appends) for errors that rarely come.
        mutating func expect(_ c: UInt8, _ what: @autoclosure () -> String) throws(Bad) {
            guard i < end && b[i] == c else { throw Bad(reason: "expected '\(Character(Unicode.Scalar(c)))' \(what())") }
            i += 1
        }

        /// Exactly `digits` hex digits (or up to `digits` when `exact` is false) as an integer.
        mutating func hex(_ what: @autoclosure () -> String, digits: Int, exact: Bool = true) throws(Bad) -> UInt64 {
            var v: UInt64 = 0, count = 0
            while i < end && count < digits {
                guard let d = hexDigit(b[i]) else {
                    if exact || count == 0 { throw Bad(reason: "bad hex digit in \(what())") }
                    return v
                }
                v = v << 4 | UInt64(d)
                i += 1; count += 1
            }
            if exact && count != digits { throw Bad(reason: "\(what()) is truncated") }
            if count == 0 { throw Bad(reason: "\(what()) is missing") }
            return v
        }

        mutating func decimal(_ what: String) throws(Bad) -> UInt64 {
            skipSpaces()
            var v: UInt64 = 0, count = 0
            while i < end, b[i] >= 0x30, b[i] <= 0x39 {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(b[i] - 0x30))
                if o1 || o2 { throw Bad(reason: "\(what) is too large") }
                v = a; i += 1; count += 1
            }
            if count == 0 { throw Bad(reason: "\(what) is missing or not a number") }
            if i < end && b[i] != 0x20 { throw Bad(reason: "\(what) is not a number") }
            return v
        }

        mutating func decimalUntilColon() throws(Bad) -> UInt64 {
            skipSpaces()
            var v: UInt64 = 0, count = 0
            while i < end, b[i] >= 0x30, b[i] <= 0x39, count < 19 {
                v = v * 10 + UInt64(b[i] - 0x30); i += 1; count += 1
            }
            if count == 0 { throw Bad(reason: "slot number is missing") }
            return v
        }

        mutating func skipToken(_ what: String) throws(Bad) {
            skipSpaces()
            let s = i
            while i < end && b[i] != 0x20 { i += 1 }
            if i == s { throw Bad(reason: "\(what) is missing") }
        }
    }

    private func parseLine(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, _ lineNo: Int,
                           _ emit: (SocketRecord) -> Void, _ malformed: (MalformedLine) -> Void) {
        var c = Cursor(b: b, i: s, end: e)
        do throws(Bad) {
            // "  sl:" — a decimal slot number.
            _ = try c.decimalUntilColon()
            try c.expect(0x3A, "after the slot number")
            c.skipSpaces()
            let local = try endpoint(&c, "local address")
            c.skipSpaces()
            let remote = try endpoint(&c, "remote address")
            c.skipSpaces()
            let st = try c.hex("state", digits: 2)
            guard let state = SocketState(rawValue: UInt8(st)), state != .boundInactive else {
                throw Bad(reason: "unknown state \(st)")
            }
            c.skipSpaces()
            let tx = try c.hex("tx_queue", digits: 8)
            try c.expect(0x3A, "between tx_queue and rx_queue")
            let rx = try c.hex("rx_queue", digits: 8)
            try c.skipToken("tr:tm->when")
            try c.skipToken("retrnsmt")
            let uid = try c.decimal("uid")
            _ = try c.decimal("timeout")
            let inode = try c.decimal("inode")
            guard uid <= UInt64(UInt32.max) else { throw Bad(reason: "uid is too large") }
            emit(SocketRecord(proto: proto, family: family, state: state, local: local, remote: remote,
                              recvQueue: UInt32(rx), sendQueue: UInt32(tx), uid: UInt32(uid), inode: inode))
        } catch {
            malformed(MalformedLine(line: lineNo, reason: error.reason))
        }
    }

    private func endpoint(_ c: inout Cursor, _ what: String) throws(Bad) -> Endpoint {
        let address: IPAddress
        if family == .inet {
            let w = UInt32(try c.hex(what, digits: 8))
            // The word's bytes in memory are the address bytes, whatever the host's byte order.
            address = IPAddress(ipv4: UInt32(bigEndian: w))
        } else {
            // Four words, each in memory order as for IPv4.
            var high: UInt64 = 0, low: UInt64 = 0
            for k in 0..<4 {
                let w = UInt64(UInt32(bigEndian: UInt32(try c.hex(what, digits: 8))))
                if k < 2 { high = high << 32 | w } else { low = low << 32 | w }
            }
            address = IPAddress(ipv6High: high, low: low)
        }
        try c.expect(0x3A, "in \(what)")
        let port = try c.hex("\(what) port", digits: 4)
        return Endpoint(address: address, port: UInt16(port))
    }
}

/// The value of one hex digit (either case), nil for any other byte: /proc/net's files are hex.
@inline(__always)
func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c - 0x30
    case 0x41...0x46: return c - 0x41 + 10
    case 0x61...0x66: return c - 0x61 + 10
    default: return nil
    }
}
