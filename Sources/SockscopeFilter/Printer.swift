import SockscopeModel

extension FilterExpression {
    /// The canonical ss text: parsing it gives this tree back, and ss reads it the same way
    /// (a binary operand of another operator is parenthesised, with spaces, as ss needs).
    public var text: String {
        switch self {
        case .all: return ""
        case .and(let a, let b): return Self.operand(a, of: self, left: true) + " and " + Self.operand(b, of: self, left: false)
        case .or(let a, let b): return Self.operand(a, of: self, left: true) + " or " + Self.operand(b, of: self, left: false)
        case .not(.all): return "not src *"  // matches nothing
        case .not(let a): return "not " + Self.operand(a, of: self, left: false)
        case .host(let side, let c): return (side == .source ? "src " : "dst ") + c.text
        case .port(let side, let op, let p): return (side == .source ? "sport " : "dport ") + op.rawValue + " :\(p)"
        case .device(let index, let name):
            return "dev = " + (name.map(Self.word) ?? "\(index)")
        case .mark(let m, let mask):
            return "fwmark = " + Self.hex(m) + (mask == .max ? "" : "/" + Self.hex(mask))
        case .cgroup(_, let path): return "cgroup = " + Self.word(path)
        case .autobound: return "autobound"
        case .unixPath(let side, let pattern): return (side == .source ? "src " : "dst ") + Self.word("unix:" + pattern)
        case .link(let side, let proto, let iface):
            return (side == .source ? "src " : "dst ") + "link:" + (proto.map { Self.hex(UInt32($0)) } ?? "*")
                + (iface.map { ":\($0)" } ?? "")
        case .netlink(let side, let proto, let port):
            return (side == .source ? "src " : "dst ") + "netlink:" + (proto.map { "\($0)" } ?? "*") + (port.map { ":\($0)" } ?? "")
        }
    }

    static func operand(_ e: FilterExpression, of parent: FilterExpression, left: Bool) -> String {
        switch (e, parent) {
        case (.and, .and) where left, (.or, .or) where left: return e.text
        case (.and, _), (.or, _): return "( " + e.text + " )"
        default: return e.text
        }
    }

    static func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }

    /// A word as the tokenizer reads it back: blanks, backslashes and parentheses escaped.
    static func word(_ s: String) -> String {
        var out = ""
        for ch in s {
            if ch == " " || ch == "\t" || ch == "\n" || ch == "\r" || ch == "\\" || ch == "(" || ch == ")" { out.append("\\") }
            out.append(ch)
        }
        return out
    }
}

extension HostCondition {
    /// `[FAMILY:]ADDR[/PREFIX][:PORT]` in the form both ss and sockscope parse back.
    public var text: String {
        let portText = port.map { ":\($0)" } ?? ""
        guard let address else {
            let fam = family.map { $0 == .inet ? "inet:" : "inet6:" } ?? ""
            return fam + "*" + portText
        }
        let full = address.isIPv6 ? 128 : 32
        if !address.isIPv6 {
            return address.description + (Int(prefixLength) == full ? "" : "/\(prefixLength)") + portText
        }
        // ss takes the last ':' as the port unless the address is bracketed or followed by '/'.
        if Int(prefixLength) == full { return "[\(address)]" + portText }
        return "\(address)/\(prefixLength)" + portText
    }
}

/// Prints a state set as ss's `state` words, using a group name when the set is one.
public enum StatePrinter {
    public static func text(_ s: StateSet) -> String {
        let groups: [(String, StateSet)] = [("all", .all), ("connected", .connected), ("synchronized", .synchronized),
                                            ("bucket", .bucket), ("big", .big)]
        if let g = groups.first(where: { $0.1 == s }) { return "state \(g.0)" }
        let names: [(SocketState, String)] = [
            (.established, "established"), (.synSent, "syn-sent"), (.synRecv, "syn-recv"), (.finWait1, "fin-wait-1"),
            (.finWait2, "fin-wait-2"), (.timeWait, "time-wait"), (.close, "closed"), (.closeWait, "close-wait"),
            (.lastAck, "last-ack"), (.listen, "listening"), (.closing, "closing"),
        ]
        let words = names.filter { s.contains($0.0) }.map { "state \($0.1)" }
        return words.isEmpty ? "exclude all" : words.joined(separator: " ")
    }
}
