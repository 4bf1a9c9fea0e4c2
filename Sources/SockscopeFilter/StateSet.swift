import SockscopeModel

/// A set of socket states, as the kernel's `idiag_states` bitmask.
public struct StateSet: Sendable, Hashable, SetAlgebra {
    public var mask: UInt32

    public init() { mask = 0 }
    public init(mask: UInt32) { self.mask = mask }
    public init<S: Sequence>(_ states: S) where S.Element == SocketState {
        mask = states.reduce(0) { $0 | $1.maskBit }
    }

    public func contains(_ s: SocketState) -> Bool { mask & s.maskBit != 0 }
    public func union(_ o: Self) -> Self { Self(mask: mask | o.mask) }
    public func intersection(_ o: Self) -> Self { Self(mask: mask & o.mask) }
    public func symmetricDifference(_ o: Self) -> Self { Self(mask: mask ^ o.mask) }
    @discardableResult public mutating func insert(_ s: SocketState) -> (inserted: Bool, memberAfterInsert: SocketState) {
        let had = contains(s); mask |= s.maskBit; return (!had, s)
    }
    @discardableResult public mutating func remove(_ s: SocketState) -> SocketState? {
        let had = contains(s); mask &= ~s.maskBit; return had ? s : nil
    }
    @discardableResult public mutating func update(with s: SocketState) -> SocketState? {
        let had = contains(s); mask |= s.maskBit; return had ? s : nil
    }
    public mutating func formUnion(_ o: Self) { mask |= o.mask }
    public mutating func formIntersection(_ o: Self) { mask &= o.mask }
    public mutating func formSymmetricDifference(_ o: Self) { mask ^= o.mask }

    /// Every real state (not the bound-inactive pseudo-state, which makes the kernel walk the bind table).
    public static let all = StateSet(SocketState.allCases.filter { $0 != .boundInactive })
    /// `ss`'s default: connected sockets, i.e. all but LISTEN, CLOSE, TIME_WAIT and SYN_RECV.
    public static let connected = all.subtracting(StateSet([.listen, .close, .timeWait, .synRecv, .newSynRecv]))
    /// Listening TCP sockets and unconnected UDP sockets (`-l`).
    public static let listening = StateSet([.listen, .close])
    public static let synchronized = connected.subtracting(StateSet([.synSent]))
    public static let bucket = StateSet([.synRecv, .newSynRecv, .timeWait])
    public static let big = all.subtracting(bucket)

    /// The states for one protocol: LISTEN means nothing to UDP and CLOSE (unconnected) means
    /// little to TCP (such sockets are only in the bind table), so `-l` asks TCP for LISTEN and UDP for CLOSE.
    public func restricted(to proto: TransportProtocol) -> StateSet {
        var s = self
        switch proto {
        case .tcp, .mptcp:
            if s == StateSet.listening { s.remove(.close) }
            // Request sockets are reported as SYN_RECV; the kernel dumps them under NEW_SYN_RECV.
            if s.contains(.synRecv) { s.insert(.newSynRecv) }
        case .sctp, .unixStream, .unixSeqpacket:
            // Listening or connected; an unbound, unconnected one is CLOSE (shown UNCONN).
            if s == StateSet.listening { s.remove(.close) }
        case .udp, .raw, .unixDgram, .packetRaw, .packetDgram, .netlink:
            s = s.intersection(StateSet([.established, .close]))
        }
        return s
    }

    /// Parses a comma-separated list of `ss` state names (`established`, `syn-sent`, `time-wait`,
    /// `listening`, `connected`, `synchronized`, `bucket`, `big`, `all`, …) or kernel names
    /// (`ESTABLISHED`, `TIME_WAIT`, `UNCONN`); case and `-`/`_` do not matter.
    public init(parsing text: String) throws(FilterError) {
        self.init()
        guard !text.isEmpty else { throw FilterError("empty state list") }
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = String(raw.trimmingSpaces.lowercased().map { $0 == "_" ? "-" : $0 })
            guard let s = StateSet.named[name] else {
                throw FilterError("unknown state '\(raw)' (try: \(StateSet.vocabulary))")
            }
            formUnion(s)
        }
    }

    static let named: [String: StateSet] = [
        "established": [.established], "estab": [.established],
        "syn-sent": [.synSent], "syn-recv": [.synRecv, .newSynRecv], "syn-received": [.synRecv, .newSynRecv],
        "fin-wait-1": [.finWait1], "fin-wait1": [.finWait1], "fin-wait-2": [.finWait2], "fin-wait2": [.finWait2],
        "time-wait": [.timeWait], "closed": [.close], "close": [.close], "unconn": [.close], "unconnected": [.close],
        "close-wait": [.closeWait], "last-ack": [.lastAck], "listening": [.listen], "listen": [.listen],
        "closing": [.closing], "all": all, "connected": connected, "synchronized": synchronized,
        "bucket": bucket, "big": big,
    ]

    public static let vocabulary =
        "established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, " +
        "listening, closing, all, connected, synchronized, bucket, big"
}

extension StateSet: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: SocketState...) { self.init(elements) }
}
