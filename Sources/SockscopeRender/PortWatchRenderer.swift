import SockscopeModel

/// The lines of `--watch-port` and `--until-up`:
/// `2026-11-21T17:45:01.123Z 8080 UP tcp 127.0.0.1:8080 1234/python3` (`… 127.0.0.1:8080 UP …` when
/// watching one address), or with `--json`
/// `{"event":"up","time":…,"port":8080,"sockets":[…]}` where each socket is the `--json` object.
public struct PortWatchRenderer: Sendable {
    /// nil for text lines.
    public var json: JSONRenderer?

    public init(json: JSONRenderer?) { self.json = json }

    /// Appends one line (with its newline). `target` is the port, or `HOST:PORT` when watching one
    /// address (`address` then set, and in JSON an `"address"` key).
    public func append(port: UInt16, address: IPAddress? = nil, up: Bool, sockets: [SocketRecord], time: String,
                       to out: inout [UInt8]) {
        if let json {
            out.append(contentsOf: #"{"event":""#.utf8)
            out.append(contentsOf: (up ? "up" : "down").utf8)
            out.append(contentsOf: #"","time":""#.utf8)
            out.append(contentsOf: time.utf8)
            out.append(contentsOf: #"","port":"#.utf8)
            appendDecimal(UInt64(port), to: &out)
            if let address {
                out.append(contentsOf: #","address":""#.utf8)
                address.write(to: &out)
                out.append(UInt8(ascii: "\""))
            }
            out.append(contentsOf: #","sockets":["#.utf8)
            for (i, r) in sockets.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                json.appendObject(r, to: &out)
            }
            out.append(contentsOf: "]}\n".utf8)
            return
        }
        out.append(contentsOf: time.utf8)
        out.append(UInt8(ascii: " "))
        if let address { Self.appendHost(address, to: &out); out.append(UInt8(ascii: ":")) }
        appendDecimal(UInt64(port), to: &out)
        out.append(contentsOf: (up ? " UP" : " DOWN").utf8)
        for r in sockets {
            out.append(contentsOf: " \(r.proto.rawValue) ".utf8)
            Self.appendHost(r.local.address, to: &out)
            out.append(UInt8(ascii: ":"))
            appendDecimal(UInt64(r.local.port), to: &out)
            for o in r.processes ?? [] {
                out.append(contentsOf: " \(o.pid)/".utf8)
                Escape.terminal(o.rawName, to: &out)
            }
        }
        out.append(0x0A)
    }

    /// An address as it stands before `:PORT`: IPv6 in brackets.
    static func appendHost(_ a: IPAddress, to out: inout [UInt8]) {
        if a.isIPv6 { out.append(UInt8(ascii: "[")) }
        a.write(to: &out)
        if a.isIPv6 { out.append(UInt8(ascii: "]")) }
    }
}
