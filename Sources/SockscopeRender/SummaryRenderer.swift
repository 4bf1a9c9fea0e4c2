import SockscopeModel

/// Renders a `SocketSummary` as text (like `ss -s`).
public enum SummaryRenderer {
    /// - Parameter ports: names the ports of the ephemeral-port section.
    public static func text(_ s: SocketSummary, ports: PortContext = PortContext()) -> String {
        var out = "Total: \(s.total)\n"
        for p in TransportProtocol.allCases where s.protocols.contains(where: { $0.proto == p }) {
            let rows = s.protocols.filter { $0.proto == p }
            let n = rows.reduce(0) { $0 + $1.count }
            let split = rows.map { "\($0.family.rawValue) \($0.count)" }.joined(separator: ", ")
            out += "\(p.rawValue.uppercased()): \(n) (\(split))\n"
            for st in s.states where st.proto == p {
                out += "  \(st.state.padding(12)) \(st.count)\n"
            }
        }
        out += "\nListening TCP ports by established connections:\n"
        if s.topListeningPorts.isEmpty { out += "  (none)\n" }
        for l in s.topListeningPorts {
            out += "  \(String(l.port).padding(6)) \(String(l.established).padding(8)) (\(l.listeners) listener\(l.listeners == 1 ? "" : "s"))\n"
        }
        out += "\nRemote peers by established TCP connections:\n"
        if s.topPeers.isEmpty { out += "  (none)\n" }
        for p in s.topPeers {
            out += "  \(p.address.description.padding(40)) \(p.established)\n"
        }
        out += insightText(s, ports: ports)
        return out
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

extension SummaryRenderer {
    /// The summary as one JSON object (same keys as `SocketSummary`'s Codable form), with
    /// `JSONWriter`: the binary needs no Foundation, whose loading would triple start-up time.
    public static func json(_ s: SocketSummary) -> [UInt8] {
        var w = JSONWriter()
        w.objectStart()
        w.field("total", s.total)
        w.key("protocols")
        w.arrayStart()
        for p in s.protocols {
            w.objectStart()
            w.key("proto"); w.string(verbatim: p.proto.rawValue)
            w.key("family"); w.string(verbatim: p.family.rawValue)
            w.field("count", p.count)
            w.objectEnd()
        }
        w.arrayEnd()
        w.key("states")
        w.arrayStart()
        for st in s.states {
            w.objectStart()
            w.key("proto"); w.string(verbatim: st.proto.rawValue)
            w.key("state"); w.string(verbatim: st.state)
            w.field("count", st.count)
            w.objectEnd()
        }
        w.arrayEnd()
        w.key("top_listening_ports")
        w.arrayStart()
        for l in s.topListeningPorts {
            w.objectStart()
            w.field("port", UInt64(l.port))
            w.field("listeners", l.listeners)
            w.field("established", l.established)
            w.objectEnd()
        }
        w.arrayEnd()
        w.key("top_peers")
        w.arrayStart()
        for p in s.topPeers {
            w.objectStart()
            w.key("address"); w.string(verbatim: { p.address.write(to: &$0) })
            w.field("established", p.established)
            w.objectEnd()
        }
        w.arrayEnd()
        insightJSON(s, &w)
        w.objectEnd()
        w.raw(0x0A)
        return w.bytes
    }
}
