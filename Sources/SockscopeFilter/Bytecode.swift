import SockscopeModel

/// Which port of a socket a condition reads.
public enum PortSide: Sendable, Hashable { case source, destination }

/// A boolean expression over ports, compiled to `INET_DIAG_REQ_BYTECODE`.
public indirect enum PortExpression: Sendable, Hashable {
    case equal(PortSide, UInt16)
    case atLeast(PortSide, UInt16)
    case atMost(PortSide, UInt16)
    case and(PortExpression, PortExpression)
    case or(PortExpression, PortExpression)
    case not(PortExpression)

    /// Port in a set: an OR over its ranges (a single port is one equality test).
    public static func inSet(_ side: PortSide, _ spec: PortSpec) -> PortExpression {
        let terms: [PortExpression] = spec.ranges.map { r in
            if r.lowerBound == r.upperBound { return .equal(side, r.lowerBound) }
            if r.lowerBound == 0 { return .atMost(side, r.upperBound) }
            if r.upperBound == .max { return .atLeast(side, r.lowerBound) }
            return .and(.atLeast(side, r.lowerBound), .atMost(side, r.upperBound))
        }
        // A full range (0-65535) is the only way to get no terms narrowed; it is always true.
        guard var e = terms.first else { return .atLeast(side, 0) }
        for t in terms.dropFirst() { e = .or(e, t) }
        return e
    }

    /// Evaluates the expression directly (the reference semantics).
    public func evaluate(sourcePort: UInt16, destinationPort: UInt16) -> Bool {
        func port(_ s: PortSide) -> UInt16 { s == .source ? sourcePort : destinationPort }
        switch self {
        case .equal(let s, let p): return port(s) == p
        case .atLeast(let s, let p): return port(s) >= p
        case .atMost(let s, let p): return port(s) <= p
        case .and(let a, let b):
            return a.evaluate(sourcePort: sourcePort, destinationPort: destinationPort)
                && b.evaluate(sourcePort: sourcePort, destinationPort: destinationPort)
        case .or(let a, let b):
            return a.evaluate(sourcePort: sourcePort, destinationPort: destinationPort)
                || b.evaluate(sourcePort: sourcePort, destinationPort: destinationPort)
        case .not(let a): return !a.evaluate(sourcePort: sourcePort, destinationPort: destinationPort)
        }
    }
}

/// Compiles port expressions to the kernel's inet_diag filter language, and models that language.
///
/// The program is a list of 4-byte ops `{u8 code, u8 yes, u16 no}`; a port comparison takes a
/// second op whose `no` holds the port. Evaluation starts at 0; after each op the program counter
/// moves by `yes` when the condition holds, else by `no`. The socket is accepted when the counter
/// lands exactly on the end, rejected when it jumps past it. The kernel's auditor follows only
/// `yes` links, so every compiled program keeps `yes` sequential and uses `no` for branches.
/// Each compiled fragment falls through to its end when true and jumps to `end + 4` when false.
public enum InetDiagBytecode {
    // Op codes from <linux/inet_diag.h>.
    public static let nop: UInt8 = 0, jmp: UInt8 = 1, sGE: UInt8 = 2, sLE: UInt8 = 3, dGE: UInt8 = 4, dLE: UInt8 = 5
    public static let sEQ: UInt8 = 11, dEQ: UInt8 = 12

    /// Largest program sent: the netlink attribute length is 16 bits. Larger filters run in userspace.
    public static let maxLength = 60_000

    /// The compiled program, or nil when it would be too long for one attribute.
    public static func compile(_ e: PortExpression) -> [UInt8]? {
        let code = fragment(e)
        return code.count <= maxLength ? code : nil
    }

    static func op(_ code: UInt8, yes: Int, no: Int) -> [UInt8] {
        let n = UInt16(truncatingIfNeeded: no)
        return withUnsafeBytes(of: n) { [code, UInt8(yes)] + Array($0) }
    }

    static func fragment(_ e: PortExpression) -> [UInt8] {
        func compare(_ code: UInt8, _ port: UInt16) -> [UInt8] {
            op(code, yes: 8, no: 12) + op(0, yes: 0, no: Int(port))
        }
        switch e {
        case .equal(.source, let p): return compare(sEQ, p)
        case .equal(.destination, let p): return compare(dEQ, p)
        case .atLeast(.source, let p): return compare(sGE, p)
        case .atLeast(.destination, let p): return compare(dGE, p)
        case .atMost(.source, let p): return compare(sLE, p)
        case .atMost(.destination, let p): return compare(dLE, p)
        case .and(let a, let b):
            var ca = fragment(a)
            let cb = fragment(b)
            relocateRejects(&ca, by: cb.count)
            return ca + cb
        case .or(let a, let b):
            let ca = fragment(a), cb = fragment(b)
            return ca + op(jmp, yes: 4, no: cb.count + 4) + cb
        case .not(let a):
            let ca = fragment(a)
            return ca + op(jmp, yes: 4, no: 8)
        }
    }

    /// In `code`, every jump to "reject" (end + 4) is moved `by` bytes further, so that a fragment
    /// followed by `by` bytes of another still rejects past the new end.
    static func relocateRejects(_ code: inout [UInt8], by extra: Int) {
        var pc = 0
        while pc + 4 <= code.count {
            let yes = Int(code[pc + 1])
            let no = Int(readNo(code, pc))
            if code[pc] != nop && pc + no == code.count + 4 { writeNo(&code, pc, UInt16(no + extra)) }
            guard yes > 0 else { break }
            pc += yes
        }
    }

    static func readNo(_ code: [UInt8], _ pc: Int) -> UInt16 {
        var v: UInt16 = 0
        withUnsafeMutableBytes(of: &v) { $0[0] = code[pc + 2]; $0[1] = code[pc + 3] }
        return v
    }

    static func writeNo(_ code: inout [UInt8], _ pc: Int, _ v: UInt16) {
        withUnsafeBytes(of: v) { code[pc + 2] = $0[0]; code[pc + 3] = $0[1] }
    }

    /// Runs a program as the kernel's `inet_diag_bc_run` does (port conditions only).
    public static func run(_ code: [UInt8], sourcePort: UInt16, destinationPort: UInt16) -> Bool {
        var pc = 0
        var len = code.count
        while len > 0 {
            guard pc + 4 <= code.count else { return false }
            let c = code[pc]
            var yes = true
            func arg() -> UInt16 { pc + 8 <= code.count ? readNo(code, pc + 4) : 0 }
            switch c {
            case nop: yes = true
            case jmp: yes = false
            case sGE: yes = sourcePort >= arg()
            case sLE: yes = sourcePort <= arg()
            case dGE: yes = destinationPort >= arg()
            case dLE: yes = destinationPort <= arg()
            case sEQ: yes = sourcePort == arg()
            case dEQ: yes = destinationPort == arg()
            default: return false
            }
            let step = yes ? Int(code[pc + 1]) : Int(readNo(code, pc))
            pc += step
            len -= step
            if step == 0 { return false }
        }
        return len == 0
    }

    /// Checks a program as the kernel's `inet_diag_bc_audit` does: false means the kernel would say EINVAL.
    public static func audit(_ code: [UInt8]) -> Bool { audit(code, netAdmin: true) == .accepted }
}
