import SockscopeModel

/// Renders a `SocketSummary` as text (like `ss -s`).
public enum SummaryRenderer {
    /// - Parameter ports: names the ports of the ephemeral-port section (issue 7).
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
    /// The summary as one JSON object (same keys as `SocketSummary`'s Codable form), written by
    /// hand so the binary needs no Foundation: loading it would triple start-up time.
    public static func json(_ s: SocketSummary) -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: #"{"total":"#.utf8)
        appendDecimal(UInt64(s.total), to: &out)
        out.append(contentsOf: #","protocols":["#.utf8)
        for (i, p) in s.protocols.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"proto":"\#(p.proto.rawValue)","family":"\#(p.family.rawValue)","count":\#(p.count)}"#.utf8)
        }
        out.append(contentsOf: #"],"states":["#.utf8)
        for (i, st) in s.states.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"proto":"\#(st.proto.rawValue)","state":"\#(st.state)","count":\#(st.count)}"#.utf8)
        }
        out.append(contentsOf: #"],"top_listening_ports":["#.utf8)
        for (i, l) in s.topListeningPorts.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"port":\#(l.port),"listeners":\#(l.listeners),"established":\#(l.established)}"#.utf8)
        }
        out.append(contentsOf: #"],"top_peers":["#.utf8)
        for (i, p) in s.topPeers.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"address":"\#(p.address)","established":\#(p.established)}"#.utf8)
        }
        out.append(UInt8(ascii: "]"))
        insightJSON(s, to: &out)
        out.append(contentsOf: "}\n".utf8)
        return out
    }
}
