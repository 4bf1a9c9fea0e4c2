import SockscopeModel

/// Which watched ports are listening, from one snapshot of listening sockets to the next: the state
/// machine behind `--watch-port` (a line per UP or DOWN), `--until-up` (done once all are up) and
/// `--until-down` (done once none is).
///
/// Pure: the caller collects and passes the records; nothing here reads the clock or the kernel.
public struct PortWatch: Sendable {
    public typealias Target = ListenTarget

    /// The watched targets, in the order changes are reported.
    public let targets: [Target]
    /// Listening or not, as of the last update; absent before the first.
    private var listening: [Target: Bool] = [:]

    /// A target that started or stopped listening, with the sockets that serve it (none when down).
    public struct Change: Sendable {
        public var target: Target
        public var up: Bool
        public var sockets: [SocketRecord]
    }

    /// `targets` in report order, without repeats.
    public init(_ targets: [ListenTarget]) {
        self.targets = targets
    }

    /// Takes the listening sockets of one snapshot; returns the targets whose state differs from the
    /// previous update (every target on the first), in watch order.
    public mutating func update(_ records: [SocketRecord]) -> [Change] {
        let byPort = Self.group(records)
        var changes: [Change] = []
        for t in targets {
            let serving = (byPort[t.port] ?? []).filter(t.isServed)
            let up = !serving.isEmpty
            guard listening[t] != up else { continue }
            listening[t] = up
            changes.append(Change(target: t, up: up, sockets: serving))
        }
        return changes
    }

    /// Replaces the sockets of up changes by those of a richer snapshot of the same moment (one with
    /// owners, collected only when something changed so the poll itself stays cheap).
    public static func enrich(_ changes: [Change], from records: [SocketRecord]) -> [Change] {
        let byPort = group(records)
        return changes.map { c in
            guard c.up else { return c }
            let richer = (byPort[c.target.port] ?? []).filter(c.target.isServed)
            return richer.isEmpty ? c : Change(target: c.target, up: true, sockets: richer)
        }
    }

    /// True once every watched target listens.
    public var allUp: Bool { targets.allSatisfy { listening[$0] == true } }

    /// True once no watched target listens (after at least one update).
    public var allDown: Bool { targets.allSatisfy { listening[$0] == false } }

    /// The watched targets not listening as of the last update.
    public var notUp: [Target] { targets.filter { listening[$0] != true } }

    /// The watched targets still listening as of the last update.
    public var stillUp: [Target] { targets.filter { listening[$0] == true } }

    static func group(_ records: [SocketRecord]) -> [UInt16: [SocketRecord]] {
        Dictionary(grouping: records, by: \.local.port)
    }
}
