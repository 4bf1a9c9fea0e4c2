import SockscopeModel

/// Writes NDJSON events: one JSON object per line,
/// `{"event":"open","time":"2026-11-21T17:45:01.123Z","socket":{…}}`, where `socket` is the same
/// object `--json` prints. State changes add `"from"` (the previous state); events learned from the
/// kernel's destroy notifications rather than from comparing snapshots add `"via":"destroy"`.
public struct EventRenderer: Sendable {
    public var socket: JSONRenderer

    public init(socket: JSONRenderer = JSONRenderer()) { self.socket = socket }

    /// Appends one event line (with its newline).
    public func append(event: String, time: String, record: SocketRecord, from: String? = nil, via: String? = nil,
                       to out: inout [UInt8]) {
        out.append(contentsOf: #"{"event":""#.utf8)
        out.append(contentsOf: event.utf8)
        out.append(contentsOf: #"","time":""#.utf8)
        out.append(contentsOf: time.utf8)
        out.append(UInt8(ascii: "\""))
        if let from {
            out.append(contentsOf: #","from":""#.utf8)
            out.append(contentsOf: from.utf8)
            out.append(UInt8(ascii: "\""))
        }
        if let via {
            out.append(contentsOf: #","via":""#.utf8)
            out.append(contentsOf: via.utf8)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: #","socket":"#.utf8)
        socket.appendObject(record, to: &out)
        out.append(contentsOf: "}\n".utf8)
    }
}
