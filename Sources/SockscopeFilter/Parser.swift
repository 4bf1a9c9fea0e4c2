import SockscopeModel

/// What parsing needs from the system: name lookups the filter language allows. Injected so that
/// this module does no I/O and tests can answer for the system.
public struct FilterEnvironment: Sendable {
    /// Ports of a service name (both protocols); empty when unknown.
    public var services: @Sendable (String) -> Set<UInt16>
    /// Every address of a host name (A and AAAA, or only the family given); empty when unknown.
    public var resolveHost: @Sendable (String, AddressFamily?) -> [IPAddress]
    /// The index of an interface name; nil when there is none.
    public var interfaceIndex: @Sendable (String) -> UInt32?
    /// The cgroup v2 id of a path (absolute, or relative to the cgroup2 mount); an error message when none.
    public var cgroupID: @Sendable (String) -> Result<UInt64, FilterError>
    /// The family of `-4`/`-6`, which host names resolve in (nil: both).
    public var family: AddressFamily?
    /// The family a host word without a `FAMILY:` prefix names when the listing is of one other
    /// family alone (`-x`: `src /run/*.sock` is `src unix:/run/*.sock`, as in ss); nil for IP.
    public var bareHostFamily: AddressFamily?

    public init(services: @escaping @Sendable (String) -> Set<UInt16> = { _ in [] },
                resolveHost: @escaping @Sendable (String, AddressFamily?) -> [IPAddress] = { _, _ in [] },
                interfaceIndex: @escaping @Sendable (String) -> UInt32? = { _ in nil },
                cgroupID: @escaping @Sendable (String) -> Result<UInt64, FilterError> = { _ in .failure(FilterError("cgroups are not available")) },
                family: AddressFamily? = nil) {
        self.services = services; self.resolveHost = resolveHost; self.interfaceIndex = interfaceIndex
        self.cgroupID = cgroupID; self.family = family
    }

    /// This environment with `bareHostFamily` set.
    public func withBareHosts(_ family: AddressFamily?) -> FilterEnvironment {
        var e = self
        e.bareHostFamily = family
        return e
    }
}

/// A parsed filter: the states it names (`state`/`exclude`, nil when none) and the expression.
public struct ParsedFilter: Sendable, Hashable {
    public var states: StateSet?
    public var expression: FilterExpression
    /// Things to tell the user once on stderr (an and/or mix that ss reads differently).
    public var notices: [String]

    public init(states: StateSet? = nil, expression: FilterExpression = .all, notices: [String] = []) {
        self.states = states; self.expression = expression; self.notices = notices
    }

    /// The filter in ss syntax: states first, then the expression (empty for the empty filter).
    public var text: String {
        var parts: [String] = []
        if let states { parts.append(StatePrinter.text(states)) }
        if expression != .all { parts.append(expression.text) }
        return parts.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// One word of a filter and its 1-based position, for error messages.
public struct FilterToken: Sendable, Hashable {
    public var text: String
    public var word: Int
}

/// The ss filter language: tokenizer and parser.
///
/// Words are split on blanks as ss does (a backslash escapes the next character), and parentheses
/// attached to a word are split off (`(dport` is `(` `dport`). States come first (`state NAME`,
/// `exclude NAME`, repeatable). Then: `src`/`dst HOST`, `sport`/`dport OP PORT`, `dev`, `fwmark`,
/// `cgroup`, `autobound`, joined by `and` `&&` `&` (or nothing), `or` `||` `|`, `not` `!` and
/// parentheses. Precedence is the documented one, not > and > or; ss's own parser reads and/or
/// strictly left to right, so a mix that the two read differently gets a notice.
public enum FilterParser {
    /// Splits command-line words (or the lines of a filter file) into tokens.
    public static func tokenize(_ words: [String]) -> [FilterToken] {
        var out: [FilterToken] = []
        for w in words {
            // Each character, and whether a backslash escaped it (an escaped parenthesis stays in the word).
            var cur: [(Character, Bool)] = [], started = false
            var escaped = false
            func flush() {
                guard started else { return }
                var s = cur[...]
                var lead = 0, trail = 0
                while s.count > 1, let f = s.first, f == ("(", false) { s.removeFirst(); lead += 1 }
                while s.count > 1, let l = s.last, l == (")", false) { s.removeLast(); trail += 1 }
                for _ in 0..<lead { out.append(FilterToken(text: "(", word: out.count + 1)) }
                out.append(FilterToken(text: String(s.map(\.0)), word: out.count + 1))
                for _ in 0..<trail { out.append(FilterToken(text: ")", word: out.count + 1)) }
                cur = []; started = false
            }
            for ch in w {
                if escaped { cur.append((ch, true)); escaped = false; continue }
                if ch == "\\" { escaped = true; started = true; continue }
                if ch == " " || ch == "\t" || ch == "\n" || ch == "\r" { flush(); continue }
                cur.append((ch, false)); started = true
            }
            flush()
        }
        return out
    }

    /// The words of a filter file: `#` starts a comment that runs to the end of the line.
    public static func words(ofFile text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var kept = ""
            var prev: Character = " "
            for ch in line {
                if ch == "#" && (prev == " " || prev == "\t") { break }
                kept.append(ch); prev = ch
            }
            return kept
        }
    }

    /// Parses a whole filter.
    public static func parse(_ words: [String], environment: FilterEnvironment = FilterEnvironment()) throws(FilterError) -> ParsedFilter {
        let tokens = tokenize(words)
        // Parsing, printing and evaluating recurse over the tree: a bound keeps any input far from the stack's end.
        guard tokens.count <= maxWords else { throw FilterError("the filter has \(tokens.count) words; at most \(maxWords) are taken") }
        var p = Parser(tokens: tokens, env: environment)
        return try p.parseFilter()
    }

    /// Parses one `[FAMILY:]ADDR[/PREFIX][:PORT]` as a `src` or `dst` rule (`--src`/`--dst` values,
    /// the live view's address shortcut); errors name `option` when given.
    public static func parseHost(_ text: String, side: PortSide, option: String? = nil,
                                 environment: FilterEnvironment = FilterEnvironment()) throws(FilterError) -> FilterExpression {
        var p = Parser(tokens: [FilterToken(text: text, word: 0)], env: environment)
        return try p.host(side: side, token: p.tokens[0], after: option ?? (side == .source ? "src" : "dst"))
    }

    /// The most words a filter may have.
    public static let maxWords = 4096

    static let keywords: Set<String> = [
        "!", "not", "&", "&&", "and", "|", "||", "or", "(", ")", "dst", "src", "dport", "sport", "dev", "fwmark",
        "cgroup", "autobound", ">=", "ge", "geq", "<=", "le", "leq", "!=", "ne", "neq", "=", "==", "eq", ">", "gt",
        "<", "lt",
    ]
}

/// Both readings of a parsed piece: the documented precedence, and ss's left-to-right one.
private struct Reading { var documented: FilterExpression; var ss: FilterExpression }

private struct Parser {
    let tokens: [FilterToken]
    let env: FilterEnvironment
    var pos = 0
    var mixed = false

    init(tokens: [FilterToken], env: FilterEnvironment) { self.tokens = tokens; self.env = env }

    var peek: FilterToken? { pos < tokens.count ? tokens[pos] : nil }

    func located(_ t: FilterToken?) -> String {
        guard let t else { return "(at the end)" }
        if t.word == 0 { return "('\(Escape.visible(t.text))')" }  // an option's value, not a word of the expression
        return "(word \(t.word): '\(Escape.visible(t.text))')"
    }

    func fail(_ what: String, _ t: FilterToken?) -> FilterError { FilterError("\(what) \(located(t))") }

    mutating func parseFilter() throws(FilterError) -> ParsedFilter {
        var states: StateSet?
        while let t = peek, t.text == "state" || t.text == "exclude" || t.text == "excl" {
            pos += 1
            guard let name = peek else { throw fail("expected a state name after '\(t.text)'", nil) }
            let s: StateSet
            do { s = try StateSet(parsing: name.text) } catch {
                throw fail("unknown state after '\(t.text)'; try one of \(StateSet.vocabulary)", name)
            }
            pos += 1
            if t.text == "state" { states = (states ?? StateSet()).union(s) } else { states = (states ?? .all).subtracting(s) }
        }
        guard peek != nil else { return ParsedFilter(states: states) }
        let r = try sequence()
        if let t = peek { throw fail(t.text == ")" ? "unbalanced ')'" : "unexpected word", t) }
        var notices: [String] = []
        if r.documented != r.ss {
            notices.append("filter: 'and' binds tighter than 'or' (as ss(8) documents), so this reads as '\(r.documented.text)'; "
                + "ss itself reads and/or left to right, as '\(r.ss.text)'; add parentheses to say which you mean")
        }
        return ParsedFilter(states: states, expression: r.documented, notices: notices)
    }

    static let andWords: Set<String> = ["and", "&&", "&"]
    static let orWords: Set<String> = ["or", "||", "|"]

    /// `unary ((and|or)? unary)*`: or-groups of and-groups (documented), and a left fold (ss).
    mutating func sequence() throws(FilterError) -> Reading {
        let first = try unary()
        var groups: [[FilterExpression]] = [[first.documented]]
        var ss = first.ss
        while let t = peek, t.text != ")" {
            var isOr = false
            if Self.andWords.contains(t.text) { pos += 1 } else if Self.orWords.contains(t.text) { pos += 1; isOr = true }
            if Self.andWords.contains(t.text) || Self.orWords.contains(t.text) {
                guard peek != nil, peek?.text != ")" else { throw fail("expected a condition after '\(t.text)'", peek) }
            }
            if t.text == "state" || t.text == "exclude" || t.text == "excl" {
                throw fail("states must come first, before the other conditions", t)
            }
            let next = try unary()
            if isOr { groups.append([next.documented]); ss = .or(ss, next.ss) } else {
                groups[groups.count - 1].append(next.documented); ss = .and(ss, next.ss)
            }
        }
        let documented = FilterExpression.disjunction(groups.map { FilterExpression.conjunction($0) })
        return Reading(documented: documented, ss: ss)
    }

    mutating func unary() throws(FilterError) -> Reading {
        guard let t = peek else { throw fail("expected a condition", nil) }
        if t.text == "!" || t.text == "not" {
            pos += 1
            guard peek != nil else { throw fail("expected a condition after '\(t.text)'", nil) }
            let r = try unary()
            return Reading(documented: .not(r.documented), ss: .not(r.ss))
        }
        if t.text == "(" {
            pos += 1
            guard let n = peek, n.text != ")" else { throw fail("expected a condition after '('", peek) }
            let r = try sequence()
            guard peek?.text == ")" else { throw fail("expected ')' to close '(' of word \(t.word)", peek) }
            pos += 1
            return r
        }
        let e = try predicate()
        return Reading(documented: e, ss: e)
    }

    static let equalWords: Set<String> = ["=", "==", "eq"]
    static let notEqualWords: Set<String> = ["!=", "ne", "neq"]

    mutating func predicate() throws(FilterError) -> FilterExpression {
        let t = tokens[pos]
        pos += 1
        switch t.text {
        case "src", "dst":
            let side: PortSide = t.text == "src" ? .source : .destination
            var after = t.text
            if let o = peek, Self.equalWords.contains(o.text) { pos += 1; after += " \(o.text)" } else if let o = peek, Self.notEqualWords.contains(o.text) {
                throw fail("'\(t.text)' takes no '\(o.text)' (ss has none either); write 'not \(t.text) ADDRESS'", o)
            }
            let v = try value(after: after, what: "an address")
            return try host(side: side, token: v, after: after)
        case "sport", "dport":
            let side: PortSide = t.text == "sport" ? .source : .destination
            var op = PortComparison.equal
            var after = t.text
            if let o = peek, let c = Self.comparison(o.text) { op = c; pos += 1; after += " \(o.text)" }
            let v = try value(after: after, what: "a port")
            guard let port = try portValue(v, after: after) else {
                // `sport = *`: any port.
                guard op == .equal || op == .notEqual else { throw fail("expected a port number after '\(after)'", v) }
                return op == .equal ? .host(side, HostCondition()) : .not(.host(side, HostCondition()))
            }
            return .port(side, op, port)
        case "dev":
            let negate = try equalsOrNot()
            let v = try value(after: "dev", what: "a device name or index")
            let e: FilterExpression
            if let index = env.interfaceIndex(v.text) {
                e = .device(index: index, name: v.text)
            } else if let n = Self.number(v.text), n <= UInt64(UInt32.max) {
                e = .device(index: UInt32(n), name: nil)
            } else {
                throw fail("no such device after 'dev'", v)
            }
            return negate ? .not(e) : e
        case "fwmark":
            let negate = try equalsOrNot()
            let v = try value(after: "fwmark", what: "a mark")
            let parts = v.text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let m = Self.number(String(parts[0])), m <= UInt64(UInt32.max),
                  let mask = parts.count == 2 ? Self.number(String(parts[1])) : UInt64(UInt32.max), mask <= UInt64(UInt32.max)
            else { throw fail("expected MARK or MARK/MASK (numbers) after 'fwmark'", v) }
            let e = FilterExpression.mark(UInt32(m), mask: UInt32(mask))
            return negate ? .not(e) : e
        case "cgroup":
            let negate = try equalsOrNot()
            let v = try value(after: "cgroup", what: "a cgroup path")
            switch env.cgroupID(v.text) {
            case .success(let id):
                let e = FilterExpression.cgroup(id: id, path: v.text)
                return negate ? .not(e) : e
            case .failure(let err):
                throw fail("cannot use cgroup '\(Escape.visible(v.text))': \(err.message)", v)
            }
        case "autobound":
            return .autobound
        case ")":
            throw fail("unbalanced ')'", t)
        default:
            if FilterParser.keywords.contains(t.text) { throw fail("expected a condition", t) }
            throw fail("unknown word; a condition starts with src, dst, sport, dport, dev, fwmark, cgroup, autobound, not or '('", t)
        }
    }

    static func comparison(_ s: String) -> PortComparison? {
        switch s {
        case "=", "==", "eq": return .equal
        case "!=", "ne", "neq": return .notEqual
        case "<", "lt": return .less
        case ">", "gt": return .greater
        case "<=", "le", "leq": return .lessOrEqual
        case ">=", "ge", "geq": return .greaterOrEqual
        default: return nil
        }
    }

    /// An optional `=` (false) or `!=` (true).
    mutating func equalsOrNot() throws(FilterError) -> Bool {
        guard let o = peek else { return false }
        if Self.equalWords.contains(o.text) { pos += 1; return false }
        if Self.notEqualWords.contains(o.text) { pos += 1; return true }
        return false
    }

    mutating func value(after: String, what: String) throws(FilterError) -> FilterToken {
        guard let v = peek, !FilterParser.keywords.contains(v.text), v.text != "state", v.text != "exclude" else {
            throw fail("expected \(what) after '\(after)'", peek)
        }
        pos += 1
        return v
    }

    /// A port as ss reads one: an optional ':', then `*` (nil: any), a number (C notation: 0x…, 0…),
    /// or a service name that names one port.
    func portValue(_ t: FilterToken, after: String) throws(FilterError) -> UInt16? {
        var s = Substring(t.text)
        if s.first == ":" { s.removeFirst() }
        return try Self.port(String(s), token: t, after: after, env: env, fail: fail)
    }

    static func port(_ s: String, token t: FilterToken, after: String, env: FilterEnvironment,
                     fail: (String, FilterToken?) -> FilterError) throws(FilterError) -> UInt16? {
        if s.isEmpty || s == "*" { return nil }
        if s.first?.isNumber == true {
            guard let n = number(s) else { throw fail("expected a port after '\(after)'", t) }
            guard n <= 65535 else { throw fail("port \(n) is out of range (0-65535) after '\(after)'", t) }
            return UInt16(n)
        }
        let ports = env.services(s)
        if ports.count > 1 { throw fail("ambiguous port: service '\(Escape.visible(s))' has \(ports.count) ports after '\(after)'", t) }
        guard let p = ports.first else { throw fail("expected a port after '\(after)'", t) }
        return p
    }

    /// A number in C notation (`strtoul` with base 0): decimal, 0x hex or 0 octal.
    static func number(_ s: String) -> UInt64? {
        let lower = s.lowercased()
        if lower.hasPrefix("0x") { return lower.count > 2 ? UInt64(lower.dropFirst(2), radix: 16) : nil }
        if lower.count > 1 && lower.hasPrefix("0") { return UInt64(lower.dropFirst(), radix: 8) }
        guard !lower.isEmpty, lower.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(lower)
    }

    /// `[FAMILY:]ADDR[/PREFIX][:PORT]`, as ss's `parse_hostcond` reads it.
    mutating func host(side: PortSide, token t: FilterToken, after: String) throws(FilterError) -> FilterExpression {
        var s = Substring(t.text)
        var family = env.family
        var familyGiven = false
        for (prefix, f) in [("inet6:", AddressFamily.inet6), ("inet:", .inet)] where s.hasPrefix(prefix) {
            s = s.dropFirst(prefix.count); family = f; familyGiven = true
            break
        }
        if !familyGiven, let bare = env.bareHostFamily,
           !["unix:", "link:", "netlink:", "vsock:"].contains(where: { s.hasPrefix($0) }) {
            // `-x src /run/*.sock` and the like: ss reads the word in the listing's one family.
            switch bare {
            case .unix: s = "unix:" + s
            case .packet: s = "link:" + s
            case .netlink: s = "netlink:" + s
            case .inet, .inet6: break
            }
        }
        if s.hasPrefix("unix:") { return .unixPath(side, pattern: String(s.dropFirst(5))) }
        if s.hasPrefix("link:") { return try link(side: side, String(s.dropFirst(5)), t, after) }
        if s.hasPrefix("netlink:") { return try netlink(side: side, String(s.dropFirst(8)), t, after) }
        if s.hasPrefix("vsock:") {
            throw fail("vsock sockets are not supported: sockscope lists TCP, UDP and UNIX sockets", t)
        }
        var addr: Substring
        var portText: Substring?
        if s.first == "[" {
            guard let close = s.firstIndex(of: "]") else { throw fail("expected ']' in the address after '\(after)'", t) }
            addr = s[s.index(after: s.startIndex)..<close]
            portText = s[s.index(after: close)...]
        } else if s.first == "*" {
            addr = s.prefix(1)
            portText = s.dropFirst()
        } else if s.filter({ $0 == ":" }).count > 1 && !s.contains("/") {
            // An unbracketed IPv6 address: ss would take its last group as a port; write [ADDR]:PORT for one.
            addr = s
        } else {
            let from = s.firstIndex(of: "/") ?? s.startIndex
            if let colon = s[from...].lastIndex(of: ":") {
                addr = s[..<colon]; portText = s[colon...]
            } else {
                addr = s
            }
        }
        var port: UInt16?
        if var p = portText, !p.isEmpty {
            if p.first == ":" { p.removeFirst() } else { throw fail("expected ':PORT' to follow the address, after '\(after)'", t) }
            port = try Self.port(String(p), token: t, after: after, env: env, fail: fail)
        }
        if addr.isEmpty || addr == "*" || addr == "all" || addr == "any" || addr == "default" {
            return .host(side, HostCondition(family: familyGiven ? family : nil, port: port))
        }
        let parts = addr.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        if let a = Self.address(String(parts[0])) {
            let af: AddressFamily = a.isIPv6 ? .inet6 : .inet
            if familyGiven, family != af { throw fail("'\(parts[0])' is not an \(family!.rawValue) address after '\(after)'", t) }
            let width = a.isIPv6 ? 128 : 32
            var plen = width
            if parts.count == 2 {
                guard let n = Self.netmask(String(parts[1]), width: width) else {
                    throw fail("expected a prefix length of 0-\(width) in the address after '\(after)'", t)
                }
                plen = n
            }
            return .host(side, HostCondition(address: Self.masked(a, plen), prefixLength: UInt8(plen), port: port))
        }
        guard parts.count == 1 else { throw fail("expected an address after '\(after)'", t) }
        var found: [IPAddress] = []
        for a in env.resolveHost(String(addr), family) where !found.contains(a) { found.append(a) }
        guard !found.isEmpty else {
            throw fail("expected an address or a known host name after '\(after)'", t)
        }
        return FilterExpression.disjunction(found.map { .host(side, HostCondition(address: $0, port: port)) })
    }

    /// Keeps the prefix bits only, so that equal conditions print and compare alike.
    static func masked(_ a: IPAddress, _ bits: Int) -> IPAddress {
        if !a.isIPv6 {
            let v = UInt32(truncatingIfNeeded: a.low)
            return IPAddress(ipv4: bits == 0 ? 0 : v & (UInt32.max << UInt32(32 - bits)))
        }
        func keep(_ w: UInt64, _ n: Int) -> UInt64 { n <= 0 ? 0 : n >= 64 ? w : w & (UInt64.max << UInt64(64 - n)) }
        return IPAddress(ipv6High: keep(a.high, bits), low: keep(a.low, bits - 64))
    }

    /// A dotted quad (ss's short forms too: `127.0.0` is 127.0.0.0, parts in C notation) or an IPv6 address.
    static func address(_ s: String) -> IPAddress? {
        if s.contains(":") { return IPAddress(s) }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 {
            var b: UInt64 = 0
            if i < parts.count {
                guard let n = number(String(parts[i])), n <= 255 else { return nil }
                b = n
            }
            v = v << 8 | UInt32(b)
        }
        return IPAddress(ipv4: v)
    }

    /// A prefix length, or a contiguous dotted netmask (`255.255.0.0`).
    static func netmask(_ s: String, width: Int) -> Int? {
        if let n = number(s) { return n <= width ? Int(n) : nil }
        guard width == 32, s.contains("."), let m = address(s), let v = m.ipv4Value else { return nil }
        let bits = v.nonzeroBitCount
        return v == (bits == 0 ? 0 : UInt32.max << UInt32(32 - bits)) ? bits : nil
    }

    mutating func link(side: PortSide, _ s: String, _ t: FilterToken, _ after: String) throws(FilterError) -> FilterExpression {
        let parts = s.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var proto: UInt16?
        if !parts[0].isEmpty && parts[0] != "*" {
            let names: [String: UInt16] = ["all": 0x0003, "ip": 0x0800, "arp": 0x0806, "ipv6": 0x86DD, "8021q": 0x8100]
            guard let p = names[parts[0].lowercased()] ?? Self.number(parts[0]).flatMap({ $0 <= 0xFFFF ? UInt16($0) : nil }) else {
                throw fail("expected a link protocol (ip, ipv6, arp, all or a number) after '\(after)'", t)
            }
            proto = p
        }
        var iface: UInt32?
        if parts.count == 2 && !parts[1].isEmpty && parts[1] != "*" {
            guard let i = Self.number(parts[1]).flatMap({ $0 <= UInt64(UInt32.max) ? UInt32($0) : nil }) ?? env.interfaceIndex(parts[1]) else {
                throw fail("no such device in the link address after '\(after)'", t)
            }
            iface = i
        }
        return .link(side, protocolNumber: proto, interface: iface)
    }

    mutating func netlink(side: PortSide, _ s: String, _ t: FilterToken, _ after: String) throws(FilterError) -> FilterExpression {
        let parts = s.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var proto: UInt32?
        if !parts[0].isEmpty && parts[0] != "*" {
            let names: [String: UInt32] = ["rtnl": 0, "route": 0, "unused": 1, "usersock": 2, "fw": 3, "tcpdiag": 4, "sock_diag": 4,
                                           "nflog": 5, "xfrm": 6, "selinux": 7, "iscsi": 8, "audit": 9, "fiblookup": 10,
                                           "connector": 11, "nft": 12, "netfilter": 12, "ip6fw": 13, "dec-rt": 14,
                                           "uevent": 15, "genl": 16, "scsitrans": 18, "ecryptfs": 19, "rdma": 20, "crypto": 21]
            guard let p = names[parts[0].lowercased()] ?? Self.number(parts[0]).flatMap({ $0 <= UInt64(UInt32.max) ? UInt32($0) : nil }) else {
                throw fail("expected a netlink protocol name or number after '\(after)'", t)
            }
            proto = p
        }
        var portID: Int64?
        if parts.count == 2 && !parts[1].isEmpty && parts[1] != "*" {
            if parts[1] == "kernel" { portID = 0 } else if let n = Self.number(parts[1]), n <= UInt64(UInt32.max) { portID = Int64(n) } else {
                throw fail("expected a netlink port id or 'kernel' after '\(after)'", t)
            }
        }
        return .netlink(side, protocolNumber: proto, portID: portID)
    }
}

/// Escaping of user text in messages: control characters and backslashes become visible escapes.
enum Escape {
    static func visible(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case _ where u.value < 0x20 || u.value == 0x7F:
                let hex = String(u.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" : "") + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
