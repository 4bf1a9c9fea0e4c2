import SockscopeModel

/// Renders a `SocketSummary` as text (like `ss -s`).
public enum SummaryRenderer {
    public static func text(_ s: SocketSummary) -> String {
        var out = "Total: \(s.total)\n"
        for p in TransportProtocol.allCases {
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
        return out
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
