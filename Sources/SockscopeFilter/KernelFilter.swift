import SockscopeModel

/// The program sent to the kernel for an expression, and how far the kernel's answer can be trusted.
public struct KernelFilter: Sendable, Hashable {
    /// `INET_DIAG_REQ_BYTECODE`, or nil when the kernel is asked for everything.
    public var bytecode: [UInt8]?
    /// True when the kernel's answer is the expression's: no userspace check is needed.
    /// False when the program is a relaxation (a superset) and every record must be evaluated.
    public var exact: Bool
    /// True when the program holds `INET_DIAG_BC_MARK_COND`, which needs CAP_NET_ADMIN.
    public var usesMark: Bool
}

/// One socket as the kernel's filter machine sees it (`struct inet_diag_entry`).
public struct KernelEntry: Sendable, Hashable {
    public var family: AddressFamily
    public var source: IPAddress, destination: IPAddress
    public var sourcePort: UInt16, destinationPort: UInt16
    public var interfaceIndex: UInt32 = 0
    public var mark: UInt32 = 0
    public var cgroupID: UInt64 = 0
    /// `SOCK_BINDPORT_LOCK` in `sk_userlocks`: the port was bound explicitly.
    public var portBoundExplicitly = false

    public init(family: AddressFamily, source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
                interfaceIndex: UInt32 = 0, mark: UInt32 = 0, cgroupID: UInt64 = 0, portBoundExplicitly: Bool = false) {
        self.family = family; self.source = source; self.destination = destination
        self.sourcePort = sourcePort; self.destinationPort = destinationPort
        self.interfaceIndex = interfaceIndex; self.mark = mark; self.cgroupID = cgroupID
        self.portBoundExplicitly = portBoundExplicitly
    }
}

extension InetDiagBytecode {
    public static let auto: UInt8 = 6, sCond: UInt8 = 7, dCond: UInt8 = 8, devCond: UInt8 = 9, markCond: UInt8 = 10
    public static let cgroupCond: UInt8 = 13

    /// The program for an expression over TCP/UDP sockets.
    ///
    /// Every rule the kernel knows compiles exactly. With `allowMark` false (the kernel said EPERM:
    /// no CAP_NET_ADMIN) `fwmark` rules cannot be sent: the expression is put in negation normal
    /// form, those rules become "true", and the program selects a superset that userspace narrows.
    ///
    /// `autobound` compiles to "the kernel chose the port" (`INET_DIAG_BC_AUTO`, no
    /// `SOCK_BINDPORT_LOCK`) and "the port is in the ephemeral range", as ss's kernel and userspace
    /// filters together mean it: an accepted socket has no bind lock, but its port is the listener's.
    public static func plan(_ e: FilterExpression, allowMark: Bool = true,
                            ephemeral: EphemeralRange = .linuxDefault) -> KernelFilter {
        let s = e.simplifiedForInet
        if s == .all { return KernelFilter(bytecode: nil, exact: true, usesMark: false) }
        var exact = true
        var program = s
        if !allowMark && s.usesMark {
            program = relax(negationNormalForm(s)).simplifiedForInet
            exact = false
            if program == .all { return KernelFilter(bytecode: nil, exact: false, usesMark: false) }
        }
        if program == .not(.all) {
            // Nothing matches: a program that rejects every socket (a JMP past the end).
            return KernelFilter(bytecode: op(jmp, yes: 4, no: 8), exact: exact, usesMark: false)
        }
        let code = fragment(program, ephemeral: ephemeral)
        guard code.count <= maxLength else { return KernelFilter(bytecode: nil, exact: false, usesMark: false) }
        return KernelFilter(bytecode: code, exact: exact, usesMark: program.usesMark)
    }

    /// Pushes `not` down to the rules (De Morgan), so that every rule appears un-negated or negated once.
    static func negationNormalForm(_ e: FilterExpression, negated: Bool = false) -> FilterExpression {
        switch e {
        case .and(let a, let b):
            let x = negationNormalForm(a, negated: negated), y = negationNormalForm(b, negated: negated)
            return negated ? .or(x, y) : .and(x, y)
        case .or(let a, let b):
            let x = negationNormalForm(a, negated: negated), y = negationNormalForm(b, negated: negated)
            return negated ? .and(x, y) : .or(x, y)
        case .not(let a): return negationNormalForm(a, negated: !negated)
        default: return negated ? .not(e) : e
        }
    }

    /// In negation normal form, replacing a rule (or its negation) by "true" can only add sockets.
    static func relax(_ e: FilterExpression) -> FilterExpression {
        switch e {
        case .and(let a, let b): return .and(relax(a), relax(b))
        case .or(let a, let b): return .or(relax(a), relax(b))
        case .mark, .not(.mark): return .all
        default: return e
        }
    }

    /// A rule: one op whose `yes` skips its payload and whose `no` rejects (end + 4).
    static func leaf(_ code: UInt8, payload: [UInt8]) -> [UInt8] {
        let len = 4 + payload.count
        return op(code, yes: len, no: len + 4) + payload
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

    static func fragment(_ e: FilterExpression, ephemeral: EphemeralRange) -> [UInt8] {
        func fragment(_ e: FilterExpression) -> [UInt8] { Self.fragment(e, ephemeral: ephemeral) }
        func compare(_ code: UInt8, _ port: UInt16) -> [UInt8] { op(code, yes: 8, no: 12) + op(0, yes: 0, no: Int(port)) }
        func negate(_ c: [UInt8]) -> [UInt8] { c + op(jmp, yes: 4, no: 8) }
        switch e {
        case .port(let side, let cmp, let p):
            let src = side == .source
            switch cmp {
            case .equal: return compare(src ? sEQ : dEQ, p)
            case .notEqual: return negate(compare(src ? sEQ : dEQ, p))
            case .greaterOrEqual: return compare(src ? sGE : dGE, p)
            case .lessOrEqual: return compare(src ? sLE : dLE, p)
            case .greater: return negate(compare(src ? sLE : dLE, p))
            case .less: return negate(compare(src ? sGE : dGE, p))
            }
        case .host(let side, let c):
            // struct inet_diag_hostcond { u8 family; u8 prefix_len; int port; be32 addr[]; }
            var payload: [UInt8] = [c.family?.rawFamily ?? 0, c.prefixLength, 0, 0]
            payload += le(Int32(c.port.map(Int32.init) ?? -1))
            if let a = c.address { payload += a.bytes } else if c.family == .inet { payload += [0, 0, 0, 0] } else if c.family == .inet6 {
                payload += [UInt8](repeating: 0, count: 16)
            }
            return leaf(side == .source ? sCond : dCond, payload: payload)
        case .device(let index, _): return leaf(devCond, payload: le(index))
        case .mark(let m, let mask): return leaf(markCond, payload: le(m) + le(mask))
        case .cgroup(let id, _): return leaf(cgroupCond, payload: le(id))
        case .autobound:
            return fragment(.and(.port(.source, .greaterOrEqual, ephemeral.low), .port(.source, .lessOrEqual, ephemeral.high)))
                .withRejectsMoved(by: 4) + leaf(auto, payload: [])
        case .all:
            return op(nop, yes: 4, no: 0)  // only reached inside a tree simplification left whole
        case .unixPath, .link, .netlink:
            return negate(op(nop, yes: 4, no: 0))  // false for TCP and UDP sockets
        case .and(let a, let b):
            var ca = fragment(a)
            let cb = fragment(b)
            relocateRejects(&ca, by: cb.count)
            return ca + cb
        case .or(let a, let b):
            let ca = fragment(a), cb = fragment(b)
            return ca + op(jmp, yes: 4, no: cb.count + 4) + cb
        case .not(let a):
            return negate(fragment(a))
        }
    }

    /// Runs a program as the kernel's `inet_diag_bc_run` does, over every op.
    public static func run(_ code: [UInt8], entry: KernelEntry) -> Bool {
        var pc = 0
        var len = code.count
        func u16(_ at: Int) -> UInt16 { UInt16(code[at]) | UInt16(code[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(code[at + $1]) << (8 * UInt32($1)) } }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
        while len > 0 {
            guard pc + 4 <= code.count else { return false }
            var yes = true
            switch code[pc] {
            case nop: yes = true
            case jmp: yes = false
            case sGE: yes = entry.sourcePort >= u16(pc + 6)
            case sLE: yes = entry.sourcePort <= u16(pc + 6)
            case dGE: yes = entry.destinationPort >= u16(pc + 6)
            case dLE: yes = entry.destinationPort <= u16(pc + 6)
            case sEQ: yes = entry.sourcePort == u16(pc + 6)
            case dEQ: yes = entry.destinationPort == u16(pc + 6)
            case auto: yes = !entry.portBoundExplicitly
            case sCond, dCond:
                let isSource = code[pc] == sCond
                let family = code[pc + 4], prefix = Int(code[pc + 5])
                let port = Int32(bitPattern: u32(pc + 8))
                let condAddr = Array(code[(pc + 12)..<min(code.count, pc + 12 + (family == 10 ? 16 : family == 2 ? 4 : 0))])
                let addr = (isSource ? entry.source : entry.destination).bytes
                if port != -1 && port != Int32(isSource ? entry.sourcePort : entry.destinationPort) { yes = false; break }
                if family != 0 && family != entry.family.rawFamily {
                    // An IPv4 rule on an IPv4-mapped IPv6 address compares the last 4 bytes.
                    if entry.family == .inet6 && family == 2 && addr[0..<10].allSatisfy({ $0 == 0 })
                        && addr[10] == 0xFF && addr[11] == 0xFF && bitsMatch(Array(addr[12...]), condAddr, prefix) { break }
                    yes = false; break
                }
                if prefix == 0 { break }
                yes = bitsMatch(addr, condAddr, prefix)
            case devCond: yes = u32(pc + 4) == entry.interfaceIndex
            case markCond: yes = entry.mark & u32(pc + 8) == u32(pc + 4)
            case cgroupCond: yes = u64(pc + 4) == entry.cgroupID
            default: return false
            }
            let step = yes ? Int(code[pc + 1]) : Int(readNo(code, pc))
            if step == 0 { return false }
            pc += step
            len -= step
        }
        return len == 0
    }

    static func bitsMatch(_ a: [UInt8], _ b: [UInt8], _ bits: Int) -> Bool {
        guard a.count * 8 >= bits, b.count * 8 >= bits else { return false }
        let whole = bits / 8
        if a[0..<whole] != b[0..<whole] { return false }
        let rest = bits % 8
        if rest == 0 { return true }
        let mask = UInt8(0xFF) << UInt8(8 - rest)
        return (a[whole] ^ b[whole]) & mask == 0
    }

    /// What the kernel's `inet_diag_bc_audit` answers.
    public enum AuditResult: Sendable, Equatable { case accepted, invalid, notPermitted }

    /// Checks a program as the kernel's auditor does; `netAdmin` is whether the caller has CAP_NET_ADMIN.
    public static func audit(_ code: [UInt8], netAdmin: Bool) -> AuditResult {
        func validTarget(_ cc: Int) -> Bool {
            var pc = 0, len = code.count
            while len >= 0 {
                if cc > len { return false }
                if cc == len { return true }
                guard pc + 4 <= code.count else { return false }
                let y = Int(code[pc + 1])
                if y < 4 || y & 3 != 0 { return false }
                len -= y; pc += y
            }
            return false
        }
        guard code.count >= 4 else { return .invalid }
        var pc = 0, len = code.count
        while len > 0 {
            guard pc + 4 <= code.count else { return .invalid }
            let c = code[pc]
            var minLen = 4
            switch c {
            case sCond, dCond:
                minLen += 8
                guard len >= minLen else { return .invalid }
                let family = code[pc + 4]
                let addrLen: Int
                switch family {
                case 0: addrLen = 0
                case 2: addrLen = 4
                case 10: addrLen = 16
                default: return .invalid
                }
                minLen += addrLen
                guard len >= minLen, Int(code[pc + 5]) <= 8 * addrLen else { return .invalid }
            case devCond:
                minLen += 4
                guard len >= minLen else { return .invalid }
            case sGE, sLE, dGE, dLE, sEQ, dEQ:
                minLen += 4
                guard len >= minLen else { return .invalid }
            case markCond:
                guard netAdmin else { return .notPermitted }
                minLen += 8
                guard len >= minLen else { return .invalid }
            case cgroupCond:
                minLen += 8
                guard len >= minLen else { return .invalid }
            case auto, jmp, nop: break
            default: return .invalid
            }
            let yes = Int(code[pc + 1]), no = Int(readNo(code, pc))
            if c != nop {
                if no < minLen || no > len + 4 || no & 3 != 0 { return .invalid }
                if no < len && !validTarget(len - no) { return .invalid }
            }
            if yes < minLen || yes > len + 4 || yes & 3 != 0 { return .invalid }
            pc += yes; len -= yes
        }
        return len == 0 ? .accepted : .invalid
    }
}

extension Array where Element == UInt8 {
    /// This fragment followed by `by` more bytes: its rejects still land past the new end.
    func withRejectsMoved(by extra: Int) -> [UInt8] {
        var c = self
        InetDiagBytecode.relocateRejects(&c, by: extra)
        return c
    }
}
