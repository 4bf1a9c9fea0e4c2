import SockscopeModel

/// Renders a `SocketSummary` as text (like `ss -s`).
public enum SummaryRenderer {
    /// - Parameter ports: names the ports of the ephemeral-port section (issue 7).
    public static func text(_ s: SocketSummary, ports: PortContext = PortContext()) -> String {
        var out = ""
        if let k = s.kernel {
            out += kernelText(k)
            if let u = s.unix { out += unixText(u) }
            out += "\nListed: \(s.total)\n"
        } else {
            out += "Total: \(s.total)\n"
            if let u = s.unix { out += unixText(u) }
        }
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

extension SummaryRenderer {
    /// The lines `ss -s` prints, with its numbers and layout (its columns are a tab and `%-9d`).
    public static func kernelText(_ k: KernelSocketCounts) -> String {
        func row(_ name: String, _ r: KernelSocketCounts.Row) -> String {
            "\(name)\t  \(String(r.total).padding(9)) \(String(r.ipv4).padding(9)) \(String(r.ipv6).padding(9))\n"
        }
        var out = "Total: \(k.sockets)\n"
        out += "TCP:   \(k.tcpTotal) (estab \(k.tcpEstablished), closed \(k.tcpClosed), orphaned \(k.tcpOrphaned), timewait \(k.tcpTimeWait))\n"
        out += "\nTransport Total     IP        IPv6\n"
        out += row("RAW", k.raw) + row("UDP", k.udp) + row("TCP", k.tcp) + row("INET", k.inet) + row("FRAG", k.frag)
        return out
    }

    static func unixText(_ u: UnixSocketCounts) -> String {
        "\nUNIX: \(u.total) (stream \(u.stream), dgram \(u.dgram), seqpacket \(u.seqpacket); "
            + "listening \(u.listening), connected \(u.connected), unconnected \(u.unconnected))\n"
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
        if let k = s.kernel {
            func row(_ r: KernelSocketCounts.Row) -> String { #"{"total":\#(r.total),"ipv4":\#(r.ipv4),"ipv6":\#(r.ipv6)}"# }
            out.append(contentsOf: (#","sockstat":{"sockets":\#(k.sockets),"tcp_total":\#(k.tcpTotal),"#
                + #""tcp_established":\#(k.tcpEstablished),"tcp_closed":\#(k.tcpClosed),"tcp_orphaned":\#(k.tcpOrphaned),"#
                + #""tcp_timewait":\#(k.tcpTimeWait),"raw":\#(row(k.raw)),"udp":\#(row(k.udp)),"tcp":\#(row(k.tcp)),"#
                + #""inet":\#(row(k.inet)),"frag":\#(row(k.frag))}"#).utf8)
        }
        if let u = s.unix {
            out.append(contentsOf: (#","unix":{"total":\#(u.total),"stream":\#(u.stream),"dgram":\#(u.dgram),"#
                + #""seqpacket":\#(u.seqpacket),"listening":\#(u.listening),"connected":\#(u.connected),"#
                + #""unconnected":\#(u.unconnected)}"#).utf8)
        }
        insightJSON(s, to: &out)
        out.append(contentsOf: "}\n".utf8)
        return out
    }
}
