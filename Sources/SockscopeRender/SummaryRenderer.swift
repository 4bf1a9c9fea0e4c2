import SockscopeModel

/// Renders a `SocketSummary` as text (like `ss -s`).
public enum SummaryRenderer {
    /// - Parameter ports: names the ports of the ephemeral-port section.
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
        if let k = s.kernel {
            func row(_ key: StaticString, _ r: KernelSocketCounts.Row) {
                w.key(key)
                w.objectStart(); w.field("total", r.total); w.field("ipv4", r.ipv4); w.field("ipv6", r.ipv6); w.objectEnd()
            }
            w.key("sockstat")
            w.objectStart()
            w.field("sockets", k.sockets)
            w.field("tcp_total", k.tcpTotal)
            w.field("tcp_established", k.tcpEstablished)
            w.field("tcp_closed", k.tcpClosed)
            w.field("tcp_orphaned", k.tcpOrphaned)
            w.field("tcp_timewait", k.tcpTimeWait)
            row("raw", k.raw); row("udp", k.udp); row("tcp", k.tcp); row("inet", k.inet); row("frag", k.frag)
            w.objectEnd()
        }
        if let u = s.unix {
            w.key("unix")
            w.objectStart()
            w.field("total", u.total)
            w.field("stream", u.stream)
            w.field("dgram", u.dgram)
            w.field("seqpacket", u.seqpacket)
            w.field("listening", u.listening)
            w.field("connected", u.connected)
            w.field("unconnected", u.unconnected)
            w.objectEnd()
        }
        insightJSON(s, &w)
        w.objectEnd()
        w.raw(0x0A)
        return w.bytes
    }
}
