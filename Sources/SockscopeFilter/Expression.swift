import SockscopeModel

/// An address condition of `src`/`dst`: `[FAMILY:]ADDR[/PREFIX][:PORT]` after parsing.
///
/// A nil `address` is the wildcard `*`; `family` alone (from `inet:`/`inet6:`) restricts the
/// wildcard to that family. Semantics are the kernel's `INET_DIAG_BC_S_COND`: the port (when given)
/// must be equal, the family must match, except that an IPv4 rule also matches an IPv6 socket whose
/// address is IPv4-mapped (`::ffff:a.b.c.d`), and the first `prefixLength` bits must match.
public struct HostCondition: Sendable, Hashable {
    public var family: AddressFamily?
    public var address: IPAddress?
    /// Bits of `address` that must match (0 with no address).
    public var prefixLength: UInt8
    public var port: UInt16?

    public init(family: AddressFamily? = nil, address: IPAddress? = nil, prefixLength: UInt8? = nil, port: UInt16? = nil) {
        self.address = address
        self.family = address.map { $0.isIPv6 ? .inet6 : .inet } ?? family
        self.prefixLength = address == nil ? 0 : prefixLength ?? (address!.isIPv6 ? 128 : 32)
        self.port = port
    }

    /// True for `src *`: every socket matches.
    public var isWildcard: Bool { family == nil && address == nil && port == nil }

    /// Does an endpoint of a socket of `socketFamily` match?
    @inlinable
    public func matches(_ a: IPAddress, port p: UInt16, socketFamily: AddressFamily) -> Bool {
        if let port, port != p { return false }
        guard let family else { return true }
        if family != socketFamily {
            // The kernel's one exception: an IPv4 rule matches an IPv4-mapped IPv6 address.
            guard family == .inet, socketFamily == .inet6, a.isIPv4Mapped else { return false }
            return Self.prefixMatch(UInt64(UInt32(truncatingIfNeeded: a.low)), address?.low ?? 0, bits: prefixLength, width: 32)
        }
        guard prefixLength > 0, let address else { return true }
        if family == .inet { return Self.prefixMatch(a.low, address.low, bits: prefixLength, width: 32) }
        if prefixLength <= 64 { return Self.prefixMatch(a.high, address.high, bits: prefixLength, width: 64) }
        return a.high == address.high && Self.prefixMatch(a.low, address.low, bits: prefixLength - 64, width: 64)
    }

    @inlinable
    static func prefixMatch(_ a: UInt64, _ b: UInt64, bits: UInt8, width: UInt8) -> Bool {
        if bits == 0 { return true }
        let shift = UInt64(width - min(bits, width))
        let mask: UInt64 = width == 64 ? (shift == 0 ? ~0 : ~0 << shift) : (0xFFFF_FFFF << shift) & 0xFFFF_FFFF
        return (a ^ b) & mask == 0
    }
}

/// A port comparison: `sport`/`dport` with `=` `!=` `<` `>` `<=` `>=` (and their word spellings).
public enum PortComparison: String, Sendable, Hashable, CaseIterable {
    case equal = "=", notEqual = "!=", less = "<", greater = ">", lessOrEqual = "<=", greaterOrEqual = ">="

    @inlinable
    public func holds(_ port: UInt16, _ value: UInt16) -> Bool {
        switch self {
        case .equal: return port == value
        case .notEqual: return port != value
        case .less: return port < value
        case .greater: return port > value
        case .lessOrEqual: return port <= value
        case .greaterOrEqual: return port >= value
        }
    }
}

/// The ss filter language after parsing: one tree for the command line, `-F` files, `--port`-style
/// options and the live view's `/` prompt.
///
/// `unixPath`, `link` and `netlink` rules select sockets of those families only; on sockets of
/// other families they are false (so `not src unix:…` is true on a TCP socket), as in ss, where
/// such a rule also restricts the listing to its family (`familyRules` says which).
public indirect enum FilterExpression: Sendable, Hashable {
    /// Matches every socket (the empty expression).
    case all
    case host(PortSide, HostCondition)
    case port(PortSide, PortComparison, UInt16)
    /// `dev NAME|INDEX`: the socket is bound to this interface (`SO_BINDTODEVICE`); `name` is for printing.
    case device(index: UInt32, name: String?)
    /// `fwmark MARK[/MASK]`: `(socket mark & mask) == mark`.
    case mark(UInt32, mask: UInt32)
    /// `cgroup PATH`: the socket belongs to the cgroup v2 with this id (the path is for printing).
    case cgroup(id: UInt64, path: String)
    /// `autobound`: the local port was picked by the kernel, not bound explicitly (see `evaluate`).
    case autobound
    /// `src|dst unix:GLOB`: a UNIX socket path matching an fnmatch(3) pattern.
    case unixPath(PortSide, pattern: String)
    /// `src|dst link:PROTO[:IFACE]`: a packet socket.
    case link(PortSide, protocolNumber: UInt16?, interface: UInt32?)
    /// `src|dst netlink:PROTO[:PORTID]`: a netlink socket.
    case netlink(PortSide, protocolNumber: UInt32?, portID: Int64?)
    case and(FilterExpression, FilterExpression)
    case or(FilterExpression, FilterExpression)
    case not(FilterExpression)

    /// `a and b`, dropping `all`.
    public static func conjunction(_ parts: [FilterExpression]) -> FilterExpression {
        let kept = parts.filter { $0 != .all }
        guard var e = kept.first else { return .all }
        for p in kept.dropFirst() { e = .and(e, p) }
        return e
    }

    /// `a or b or …` (false for an empty list).
    public static func disjunction(_ parts: [FilterExpression]) -> FilterExpression {
        guard var e = parts.first else { return .not(.all) }
        for p in parts.dropFirst() { e = .or(e, p) }
        return e
    }

    /// Port in a set (`--port 22,8000-8100`): an OR over its ranges.
    public static func port(_ side: PortSide, in spec: PortSpec) -> FilterExpression {
        let terms: [FilterExpression] = spec.ranges.map { r in
            if r.lowerBound == r.upperBound { return .port(side, .equal, r.lowerBound) }
            if r.lowerBound == 0 { return .port(side, .lessOrEqual, r.upperBound) }
            if r.upperBound == .max { return .port(side, .greaterOrEqual, r.lowerBound) }
            return .and(.port(side, .greaterOrEqual, r.lowerBound), .port(side, .lessOrEqual, r.upperBound))
        }
        return terms.isEmpty ? .all : balanced(terms[...])
    }

    /// An OR of many terms as a balanced tree: a long port list stays shallow for the recursive
    /// evaluator and compiler.
    static func balanced(_ terms: ArraySlice<FilterExpression>) -> FilterExpression {
        if terms.count == 1 { return terms.first! }
        let mid = terms.startIndex + terms.count / 2
        return .or(balanced(terms[..<mid]), balanced(terms[mid...]))
    }

    /// True when some rule reads the socket mark (collected from `INET_DIAG_MARK` only then).
    public var usesMark: Bool { contains(where: { if case .mark = $0 { return true } else { return false } }) }
    /// True when some rule reads the cgroup (collected from `INET_DIAG_CGROUP_ID` only then).
    public var usesCgroup: Bool { contains(where: { if case .cgroup = $0 { return true } else { return false } }) }
    public var usesAutobound: Bool { contains(where: { $0 == .autobound }) }

    /// True when `predicate` holds for some node.
    public func contains(where predicate: (FilterExpression) -> Bool) -> Bool {
        if predicate(self) { return true }
        switch self {
        case .and(let a, let b), .or(let a, let b): return a.contains(where: predicate) || b.contains(where: predicate)
        case .not(let a): return a.contains(where: predicate)
        default: return false
        }
    }
}

/// What the evaluator reads from a socket. Built from a record in one place (`init(_:)`), so that a
/// change to how records hold endpoints is adapted here alone.
public struct FilterSubject: Sendable {
    public var family: AddressFamily
    public var localAddress: IPAddress, localPort: UInt16
    public var remoteAddress: IPAddress, remotePort: UInt16
    public var interfaceIndex: UInt32
    public var mark: UInt32
    public var cgroupID: UInt64

    @inlinable
    public init(_ r: SocketRecord) {
        family = r.family
        localAddress = r.local.address; localPort = r.local.port
        remoteAddress = r.remote.address; remotePort = r.remote.port
        interfaceIndex = r.interfaceIndex
        // The kernel compares 0 for sockets it reports no mark or cgroup for (TIME_WAIT, request sockets).
        mark = r.mark ?? 0
        cgroupID = r.cgroupID ?? 0
    }
}

extension FilterExpression {
    /// The userspace evaluator: the reference for every rule.
    ///
    /// `autobound` is judged here by the local port lying in the ephemeral range, the part of its
    /// meaning userspace can see; the kernel program adds "not bound explicitly"
    /// (`INET_DIAG_BC_AUTO`), which only the kernel knows. The collector therefore trusts the
    /// kernel for `autobound` and `fwmark` whenever the whole expression ran there.
    public func evaluate(_ r: SocketRecord, ephemeral: EphemeralRange = .linuxDefault) -> Bool {
        if r.family.isIP { return evaluate(FilterSubject(r), ephemeral: ephemeral) }
        return evaluateOther(r, FilterSubject(r), ephemeral: ephemeral)
    }

    /// A socket of another family (UNIX, packet, netlink): its family's rules read the record, as
    /// ss reads them. `unix:` matches the name as ss shows it (a path as is, an abstract name as
    /// `@` and its bytes with each NUL as `@`, an unnamed socket as the empty string); `dst` reads
    /// the peer's name, when known. `link:` compares the ethertype and interface, `netlink:` the
    /// protocol and port id. `autobound` is ss's "kernel-chosen name": an unnamed UNIX socket or one
    /// autobound to `@` and 5 hex digits, a packet socket bound to nothing, a netlink port id the
    /// kernel handed out (negative as a 32-bit integer). Address and port rules read the
    /// unspecified address and port 0.
    func evaluateOther(_ r: SocketRecord, _ s: FilterSubject, ephemeral: EphemeralRange) -> Bool {
        switch self {
        case .unixPath(let side, let pattern):
            guard r.family == .unix else { return false }
            return Glob(pattern).matches(Self.ssUnixName(r.unixEndName(local: side == .source)))
        case .link(let side, let proto, let iface):
            guard case .packet(let p) = side == .source ? r.local : r.remote else { return false }
            if let iface, p.interfaceIndex != iface { return false }
            if let proto, p.protocolNumber != proto { return false }
            return true
        case .netlink(let side, let proto, let portID):
            guard case .netlink(let n) = side == .source ? r.local : r.remote else { return false }
            if let portID, Int64(n.portID) != portID && Int64(Int32(bitPattern: n.portID)) != portID { return false }
            if let proto, UInt32(n.protocolNumber) != proto { return false }
            return true
        case .autobound:
            switch r.local {
            case .unix:
                switch r.localUnixName {
                case .unnamed: return true
                case .abstract(let a): return a.count == 5 && a.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
                case .path: return false
                }
            case .packet(let p): return p.interfaceIndex == 0 && p.protocolNumber == 0
            case .netlink(let n): return Int32(bitPattern: n.portID) < 0
            case .inet: return evaluate(s, ephemeral: ephemeral)
            }
        case .and(let a, let b): return a.evaluateOther(r, s, ephemeral: ephemeral) && b.evaluateOther(r, s, ephemeral: ephemeral)
        case .or(let a, let b): return a.evaluateOther(r, s, ephemeral: ephemeral) || b.evaluateOther(r, s, ephemeral: ephemeral)
        case .not(let a): return !a.evaluateOther(r, s, ephemeral: ephemeral)
        case .all, .host, .port, .device, .mark, .cgroup: return evaluate(s, ephemeral: ephemeral)
        }
    }

    /// A UNIX name as ss matches it: see `evaluateOther`.
    static func ssUnixName(_ n: UnixName) -> [UInt8] {
        switch n {
        case .path(let p): return p
        case .abstract(let a): return [UInt8(ascii: "@")] + a.map { $0 == 0 ? UInt8(ascii: "@") : $0 }
        case .unnamed: return []
        }
    }

    /// The non-IP protocols the expression's family rules name (`unix:` the UNIX ones, `link:` the
    /// packet ones, `netlink:` netlink); empty when it has none. ss lists only those families when
    /// a filter has such rules.
    public var familyRules: Set<TransportProtocol> {
        var out: Set<TransportProtocol> = []
        _ = contains(where: {
            switch $0 {
            case .unixPath: out.formUnion([.unixStream, .unixDgram, .unixSeqpacket])
            case .link: out.formUnion([.packetRaw, .packetDgram])
            case .netlink: out.insert(.netlink)
            default: break
            }
            return false
        })
        return out
    }

    public func evaluate(_ s: FilterSubject, ephemeral: EphemeralRange = .linuxDefault) -> Bool {
        switch self {
        case .all: return true
        case .host(let side, let c):
            return side == .source ? c.matches(s.localAddress, port: s.localPort, socketFamily: s.family)
                : c.matches(s.remoteAddress, port: s.remotePort, socketFamily: s.family)
        case .port(let side, let op, let v): return op.holds(side == .source ? s.localPort : s.remotePort, v)
        case .device(let index, _): return s.interfaceIndex == index
        case .mark(let m, let mask): return s.mark & mask == m
        case .cgroup(let id, _): return s.cgroupID == id
        case .autobound: return s.localPort >= ephemeral.low && s.localPort <= ephemeral.high
        case .unixPath, .link, .netlink: return false  // IP sockets are none of these (`evaluateOther`)
        case .and(let a, let b): return a.evaluate(s, ephemeral: ephemeral) && b.evaluate(s, ephemeral: ephemeral)
        case .or(let a, let b): return a.evaluate(s, ephemeral: ephemeral) || b.evaluate(s, ephemeral: ephemeral)
        case .not(let a): return !a.evaluate(s, ephemeral: ephemeral)
        }
    }

    /// Constant folding for TCP and UDP sockets: `all` and `not all` absorbed, double negation
    /// removed, rules of other families (`unix:`, `link:`, `netlink:`) false.
    public var simplifiedForInet: FilterExpression {
        switch self {
        case .and(let a, let b):
            let x = a.simplifiedForInet, y = b.simplifiedForInet
            if x == .all { return y }
            if y == .all { return x }
            if x == .not(.all) || y == .not(.all) { return .not(.all) }
            return .and(x, y)
        case .or(let a, let b):
            let x = a.simplifiedForInet, y = b.simplifiedForInet
            if x == .all || y == .all { return .all }
            if x == .not(.all) { return y }
            if y == .not(.all) { return x }
            return .or(x, y)
        case .not(let a):
            let x = a.simplifiedForInet
            if case .not(let y) = x { return y }
            return .not(x)
        case .unixPath, .link, .netlink:
            return .not(.all)
        case .host(_, let c) where c.isWildcard:
            return .all
        default:
            return self
        }
    }
}
