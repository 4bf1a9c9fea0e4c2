import SockscopeFilter
import SockscopeModel

/// The exporter's one way from `--filter` to the `Query` every namespace is read with.
public enum ExporterQuery {
    /// Without a filter: every TCP and UDP socket of both families, in every state (listeners,
    /// accept queues, TIME_WAIT and connections are all measured).
    public static let everything = Query(states: .all)

    /// The query for `--filter EXPR` (nil: `everything`).
    ///
    /// Accepted today: space-separated terms, all of which must hold — `tcp`, `udp`, `ipv4`,
    /// `ipv6`, `state LIST`, `port LIST`, `sport LIST`, `dport LIST` (the lists as `sockscope
    /// --state` and `--port` take them: `state established,time-wait`, `dport 443,8000-8100`).
    ///
    /// - Parameter resolve: service name → ports, for port lists.
    /// - Throws: `FilterError` with a message for the user.
    public static func make(filter: String?, resolve: (String) -> Set<UInt16> = { _ in [] }) throws(FilterError) -> Query {
        var q = everything
        guard let filter else { return q }
        let words = filter.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        if words.isEmpty { throw FilterError("empty filter") }
        var protocols = Set<TransportProtocol>(), families = Set<AddressFamily>()
        var ports = PortFilter()
        var i = 0
        func argument(_ word: String) throws(FilterError) -> String {
            i += 1
            guard i < words.count else { throw FilterError("'\(word)' needs a list after it") }
            return words[i]
        }
        while i < words.count {
            let w = words[i]
            switch w.lowercased() {
            case "tcp": protocols.insert(.tcp)
            case "udp": protocols.insert(.udp)
            case "ipv4", "inet", "-4": families.insert(.inet)
            case "ipv6", "inet6", "-6": families.insert(.inet6)
            case "state": q.states = q.states.intersection(try StateSet(parsing: try argument(w)))
            case "port": ports.either = try PortSpec(parsing: try argument(w), resolve: resolve)
            case "sport": ports.source = try PortSpec(parsing: try argument(w), resolve: resolve)
            case "dport": ports.destination = try PortSpec(parsing: try argument(w), resolve: resolve)
            default:
                throw FilterError("unknown filter term '\(w)' (expected tcp, udp, ipv4, ipv6, state, port, sport or dport)")
            }
            i += 1
        }
        if !protocols.isEmpty { q.protocols = protocols }
        if !families.isEmpty { q.families = families }
        q.ports = ports
        return q
    }
}
