import SockscopeModel

/// Which watched ports are listening, from one snapshot of listening sockets to the next: the state
/// machine behind `--watch-port` (a line per UP or DOWN) and `--until-up` (done once all are up).
///
/// Pure: the caller collects and passes the records; nothing here reads the clock or the kernel.
public struct PortWatch: Sendable {
    /// The watched ports, in the order changes are reported.
    public let ports: [UInt16]
    /// Listening or not, as of the last update; absent before the first.
    private var listening: [UInt16: Bool] = [:]

    /// At most this many ports: each is a line per change, and a range that large is a typo.
    public static let maximumPorts = 1024

    /// A port that started or stopped listening, with the sockets that listen on it (none when down).
    public struct Change: Sendable {
        public var port: UInt16
        public var up: Bool
        public var sockets: [SocketRecord]
    }

    /// nil when there are more than `maximumPorts` ports.
    public init?(ports: [UInt16]) {
        guard ports.count <= Self.maximumPorts else { return nil }
        self.ports = ports
    }

    /// Takes the listening sockets of one snapshot; returns the ports whose state differs from the
    /// previous update (every port on the first), in watch order.
    public mutating func update(_ records: [SocketRecord]) -> [Change] {
        let byPort = Self.group(records)
        var changes: [Change] = []
        for p in ports {
            let up = byPort[p] != nil
            guard listening[p] != up else { continue }
            listening[p] = up
            changes.append(Change(port: p, up: up, sockets: byPort[p] ?? []))
        }
        return changes
    }

    /// Replaces the sockets of up changes by those of a richer snapshot of the same moment (one with
    /// owners, collected only when something changed so the poll itself stays cheap).
    public static func enrich(_ changes: [Change], from records: [SocketRecord]) -> [Change] {
        let byPort = group(records)
        return changes.map { c in
            guard c.up, let richer = byPort[c.port] else { return c }
            return Change(port: c.port, up: true, sockets: richer)
        }
    }

    /// True once every watched port listens.
    public var allUp: Bool { ports.allSatisfy { listening[$0] == true } }

    /// The watched ports not listening as of the last update.
    public var notUp: [UInt16] { ports.filter { listening[$0] != true } }

    static func group(_ records: [SocketRecord]) -> [UInt16: [SocketRecord]] {
        Dictionary(grouping: records, by: \.local.port)
    }
}
