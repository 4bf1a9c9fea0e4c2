import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeSystem

/// The exporter's one way from `--filter` to the `Query` every namespace is read with.
public enum ExporterQuery {
    /// Without a filter: every TCP and UDP socket of both families, in every state (listeners,
    /// accept queues, TIME_WAIT and connections are all measured).
    public static let everything = Query(states: .all)

    /// What the filter language may look up on this system (the same as the CLI's).
    public static func environment(services: @escaping @Sendable (String) -> Set<UInt16>) -> FilterEnvironment {
        FilterEnvironment(
            services: services,
            resolveHost: { Lookup.addresses(ofHost: $0, family: $1) },
            interfaceIndex: { Lookup.interfaceIndex(name: $0) },
            cgroupID: { path in Lookup.cgroupID(path: path).mapError { FilterError($0.message) } })
    }

    /// The query for `--filter EXPR` (nil: `everything`): an expression in sockscope's (ss's)
    /// filter language, `[state NAME|exclude NAME]... EXPRESSION`, as one string. States named
    /// there replace "every state"; the rest runs in the kernel where it can, as for `sockscope`.
    ///
    /// - Throws: `FilterError` naming the offending word.
    public static func make(filter: String?, environment: FilterEnvironment = FilterEnvironment()) throws(FilterError) -> Query {
        var q = everything
        guard let filter else { return q }
        if filter.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\n" }) { throw FilterError("empty filter") }
        let words = FilterParser.words(ofFile: filter)
        let parsed = try FilterParser.parse(words, environment: environment)
        if let states = parsed.states { q.states = states }
        q.expression = parsed.expression
        if parsed.expression.usesAutobound { q.ephemeral = EphemeralRangeParser.load(procRoot: "/proc") ?? .linuxDefault }
        return q
    }
}
