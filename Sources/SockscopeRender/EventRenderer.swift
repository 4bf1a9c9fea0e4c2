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
        JSONWriter.append(to: &out) { w in
            w.objectStart()
            w.field("event", event)
            w.field("time", time)
            if let from { w.field("from", from) }
            if let via { w.field("via", via) }
            w.key("socket"); socket.object(record, &w)
            w.objectEnd()
            w.raw(0x0A)
        }
    }
}
