import SockscopeModel

/// Port conditions: all given conditions must hold.
public struct PortFilter: Sendable, Hashable {
    /// The local (source) port must be in this set.
    public var source: PortSpec?
    /// The remote (destination) port must be in this set.
    public var destination: PortSpec?
    /// Either end's port must be in this set.
    public var either: PortSpec?

    public init(source: PortSpec? = nil, destination: PortSpec? = nil, either: PortSpec? = nil) {
        self.source = source; self.destination = destination; self.either = either
    }

    public var isEmpty: Bool { source == nil && destination == nil && either == nil }

    /// The userspace evaluator: the reference the kernel bytecode must agree with.
    @inlinable
    public func matches(localPort: UInt16, remotePort: UInt16) -> Bool {
        if let s = source, !s.contains(localPort) { return false }
        if let d = destination, !d.contains(remotePort) { return false }
        if let e = either, !e.contains(localPort) && !e.contains(remotePort) { return false }
        return true
    }

    /// The same condition in the filter language (`--sport 22` is `sport = :22`).
    public var filterExpression: FilterExpression {
        var parts: [FilterExpression] = []
        if let s = source { parts.append(.port(.source, in: s)) }
        if let d = destination { parts.append(.port(.destination, in: d)) }
        if let e = either { parts.append(.or(.port(.source, in: e), .port(.destination, in: e))) }
        return .conjunction(parts)
    }
}

/// Which sockets to list: the whole filter, whatever the source.
public struct Query: Sendable, Hashable {
    public var protocols: Set<TransportProtocol>
    public var families: Set<AddressFamily>
    public var states: StateSet
    public var ports: PortFilter
    /// Only sockets held by this process id (needs owners).
    public var pid: Int32?
    /// Only sockets held by a process with this name (needs owners).
    public var processName: String?
    /// The filter expression (ss's language); `ports` is sugar that joins it with `and`.
    public var expression: FilterExpression = .all
    /// The local port range, which `autobound` is judged by in userspace.
    public var ephemeral: EphemeralRange = .linuxDefault

    /// Everything but protocols, families, states and owners, as one expression: `ports` and `expression`.
    public var predicate: FilterExpression { .conjunction([ports.filterExpression, expression]) }

    public init(protocols: Set<TransportProtocol> = [.tcp, .udp], families: Set<AddressFamily> = [.inet, .inet6],
                states: StateSet = .connected, ports: PortFilter = PortFilter(), pid: Int32? = nil,
                processName: String? = nil) {
        self.protocols = protocols; self.families = families; self.states = states; self.ports = ports
        self.pid = pid; self.processName = processName
    }

    /// True when the query selects by owner, so owners must be collected.
    public var needsOwners: Bool { pid != nil || processName != nil }

    /// The full userspace evaluation of a record (owner conditions need `processes` filled in).
    public func matches(_ r: SocketRecord) -> Bool {
        guard protocols.contains(r.proto), families.contains(r.family),
              states.restricted(to: r.proto).contains(r.state), matchesPredicate(r) else { return false }
        return matchesOwner(r)
    }

    /// The predicate alone (ports and expression), in userspace.
    public func matchesPredicate(_ r: SocketRecord) -> Bool {
        // The same as `predicate.evaluate`, without building the conjunction per record.
        guard ports.matches(localPort: r.local.port, remotePort: r.remote.port) else { return false }
        return expression == .all || expression.evaluate(r, ephemeral: ephemeral)
    }

    /// Owner conditions alone (true when there are none).
    public func matchesOwner(_ r: SocketRecord) -> Bool {
        if let pid, !(r.processes ?? []).contains(where: { $0.pid == pid }) { return false }
        if let processName, !(r.processes ?? []).contains(where: { $0.name == processName }) { return false }
        return true
    }
}
