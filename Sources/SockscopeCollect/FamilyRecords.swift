import SockscopeFilter
import SockscopeModel
import SockscopeSystem

/// Turns the UNIX, packet and netlink tables into records, and joins each connected UNIX socket to
/// its peer (the peer's name becomes the record's remote end).
public enum FamilyRecords {
    /// The records of the non-inet protocols `query` selects, in listing order (UNIX, packet, netlink).
    public static func collect(_ query: Query, _ options: CollectOptions) throws(CollectError) -> Snapshot {
        var records: [SocketRecord] = []
        var notices: [String] = []
        var source = SourceKind.netlink
        let unixProtocols = query.protocols.intersection([.unixStream, .unixDgram, .unixSeqpacket])
        if !unixProtocols.isEmpty && query.families.contains(.unix) {
            // One state mask for all three: -l means LISTEN for stream/seqpacket and UNCONN for dgram.
            var mask: UInt32 = 0
            for p in unixProtocols { mask |= query.states.restricted(to: p).mask }
            // What a listing shows: no ICONS (the pending connections' inodes), MEMINFO only with -m.
            var show = UnixDiagShow.name | UnixDiagShow.peer | UnixDiagShow.rqlen
            if options.unixIdentity { show |= UnixDiagShow.vfs | UnixDiagShow.uid }
            if options.memory { show |= UnixDiagShow.meminfo }
            var table = try FamilySources.unix(options, states: mask, show: show,
                                               capacity: SockstatParser.unixEstimate(procRoot: options.procRoot)) {
                unixRecord($0, query: query)
            }
            notices += table.notices
            if table.source == .proc { source = .proc }
            let start = records.count
            // Taken over, not copied: at 100k sockets a second copy of the table was a third of peak memory.
            if records.isEmpty { records = table.entries; table.entries = [] } else { records += table.entries }
            joinPeerNames(&records, from: start)
            // After the join: `dst unix:GLOB` reads the peer's name.
            if query.expression != .all {
                var kept = start
                for i in start..<records.count where query.expression.evaluate(records[i], ephemeral: query.ephemeral) {
                    records.swapAt(kept, i)
                    kept += 1
                }
                records.removeSubrange(kept...)
            }
        }
        let packetProtocols = query.protocols.intersection([.packetRaw, .packetDgram])
        // Packet sockets have no state to filter on: ss lists them whatever the state filter says.
        if !packetProtocols.isEmpty && query.families.contains(.packet) {
            let table = try FamilySources.packet(options)
            notices += table.notices
            var names: [UInt32: String?] = [:]
            for e in table.entries {
                let proto: TransportProtocol = e.isRaw ? .packetRaw : .packetDgram
                guard packetProtocols.contains(proto) else { continue }
                var r = SocketRecord(proto: proto, family: .packet, state: .close,
                                     local: .packet(PacketEndpoint(interfaceIndex: e.interfaceIndex, protocolNumber: e.protocolNumber)),
                                     remote: .packet(PacketEndpoint(interfaceIndex: 0, protocolNumber: 0)),
                                     recvQueue: e.recvQueue, uid: e.uid, inode: e.inode, interfaceIndex: e.interfaceIndex,
                                     cookie: e.cookie == 0 ? nil : e.cookie)
                if e.interfaceIndex != 0 {
                    if names[e.interfaceIndex] == nil { names[e.interfaceIndex] = .some(Interfaces.name(index: e.interfaceIndex)) }
                    r.interface = names[e.interfaceIndex] ?? nil
                }
                r.memory = e.memory
                if let f = e.filter, !f.isEmpty { r.packetFilter = f }
                if query.expression != .all && !query.expression.evaluate(r, ephemeral: query.ephemeral) { continue }
                records.append(r)
            }
        }
        if query.protocols.contains(.netlink) && query.families.contains(.netlink) && query.states.restricted(to: .netlink).contains(.close) {
            let table = try FamilySources.netlink(options)
            notices += table.notices
            for e in table.entries {
                var r = SocketRecord(proto: .netlink, family: .netlink, state: .close,
                                     local: .netlink(NetlinkEndpoint(protocolNumber: e.protocolNumber, portID: e.portID, groups: e.groups)),
                                     remote: .netlink(NetlinkEndpoint(protocolNumber: e.protocolNumber, portID: e.destinationPortID,
                                                                      groups: e.destinationGroup)),
                                     recvQueue: e.recvQueue, sendQueue: e.sendQueue, inode: e.inode,
                                     cookie: e.cookie == 0 ? nil : e.cookie)
                r.memory = e.memory
                if query.expression != .all && !query.expression.evaluate(r, ephemeral: query.ephemeral) { continue }
                records.append(r)
            }
        }
        return Snapshot(records: records, source: source, notices: notices)
    }

    /// UNIX entries as records (those the query selects): the remote end is the peer's inode, and
    /// its name once `joinPeerNames` has found it.
    public static func unixRecords(_ entries: [UnixSocketEntry], query: Query) -> [SocketRecord] {
        var out = entries.compactMap { unixRecord($0, query: query) }
        joinPeerNames(&out, from: 0)
        if query.expression != .all { out.removeAll { !query.expression.evaluate($0, ephemeral: query.ephemeral) } }
        return out
    }

    static func unixRecord(_ e: UnixSocketEntry, query: Query) -> SocketRecord? {
        let proto: TransportProtocol
        switch e.kind {
        case .stream: proto = .unixStream
        case .dgram: proto = .unixDgram
        case .seqpacket: proto = .unixSeqpacket
        }
        guard query.protocols.contains(proto), query.states.restricted(to: proto).contains(e.state) else { return nil }
        var r = SocketRecord(proto: proto, family: .unix, state: e.state,
                             local: .unix(UnixEndpoint(kind: e.name.kind, inode: e.inode)),
                             remote: .unix(UnixEndpoint(kind: .unnamed, inode: e.peerInode)),
                             recvQueue: e.recvQueue, sendQueue: e.sendQueue, uid: e.uid ?? 0, inode: e.inode,
                             cookie: e.cookie == 0 ? nil : e.cookie)
        if e.vfs != nil || e.pending != nil {
            r.unix = UnixDetails(vfsDevice: e.vfs?.dev, vfsInode: e.vfs?.ino, pending: e.pending)
        }
        r.unixName = e.name.bytes
        r.memory = e.memory
        return r
    }

    /// Gives each UNIX record from `start` on its peer's name, found by inode among the named
    /// sockets of the same table (a peer is always on this host, and in this table unless it closed
    /// meanwhile). Only named sockets are indexed: on a host of socketpairs that index stays small.
    static func joinPeerNames(_ records: inout [SocketRecord], from start: Int) {
        var named: [UInt64: UnixName] = [:]
        for i in start..<records.count {
            if case .unix(let u) = records[i].local, u.kind != .unnamed { named[u.inode] = records[i].localUnixName }
        }
        guard !named.isEmpty else { return }
        for i in start..<records.count {
            guard records[i].peerInode != 0, let name = named[records[i].peerInode] else { continue }
            records[i].remoteUnixName = name
        }
    }
}
