import SockscopeFilter
import SockscopeModel
import SockscopeSystem

/// Snapshots that stay complete while the socket tables change under the dump.
///
/// The kernel's inet_diag dump walks each hash bucket's chain and, between message batches (and,
/// on current kernels, every 16 sockets), drops the bucket lock and later resumes by *position*
/// in the chain. A socket removed ahead of the cursor shifts the rest of the chain back by one,
/// so the dump skips a socket that was there all along; one inserted at the head makes it repeat
/// one. inet_diag never sets `NLM_F_DUMP_INTR`, so a dump cannot tell it happened. Measured with
/// 3,000 stable sockets in a 128-bucket table under connection churn: a single dump missed 1–3
/// stable sockets in about one snapshot of five (`ss` likewise, and it also lists duplicates).
///
/// Repeats are already dropped by cookie (`SeenSockets`). Skips are caught like this: the
/// kernel's table-membership counters for the protocol (`TableFingerprint`) are read before and
/// after the dump; when they moved, sockets were added or removed during it, and the protocol is
/// dumped again, and again while the counters keep moving during the redo (up to
/// `maxVerifyingDumps`), all dumps merged by cookie. A socket present throughout is then missing
/// only if every dump skipped it, each time needing a removal ahead of it in its own bucket at the
/// moment the dump passed it. When the counters did not move (an idle table), the first
/// dump is exact and is the only one: the plain listing costs two extra reads of small /proc files.
///
/// The merged snapshot holds each socket once, in its state from the later dump when it is in
/// both; a socket only the first dump saw (skipped by the second, or closed in between) is kept
/// as the first dump saw it. So a snapshot lists every socket that existed throughout it, and
/// may list one that opened or closed while it was taken — never one twice. A streamed listing
/// (`SocketCollector.stream`) hands each row on when first seen, so there a socket in both dumps
/// keeps its first state and a redo only adds the sockets not seen yet.
extension SocketCollector {
    /// At most this many dumps of one protocol per snapshot. Measured under constant resets in a
    /// 128-bucket table: with two, 2 of 331 snapshots still missed a stable socket (both dumps
    /// skipped it); each further dump must skip the same socket again.
    static let maxVerifyingDumps = 4

    /// The dumps of `query` into `kept`, the first and then the verifying ones (each a
    /// `RecordKeeper.redo`); returns the notices.
    func verifiedNetlinkDump<K: RecordKeeper>(_ query: Query, into kept: inout K) throws(NetlinkFailure) -> [String] {
        var before = TableFingerprint.read(procRoot: options.procRoot)
        var rawDump: [UInt8] = []
        var notices = try netlinkDump(query, into: &kept, rawDump: &rawDump)
        var after = TableFingerprint.read(procRoot: options.procRoot)
        // Without readable counters, one verifying dump is all that can be justified.
        let limit = before == nil || after == nil ? 2 : Self.maxVerifyingDumps
        var changing = Set(query.protocols.filter { before?.of($0) == nil || before?.of($0) != after?.of($0) })
        // Protocols this build does not dump (see dumpParts) have nothing to verify.
        changing = changing.filter { !Self.dumpParts(Query(protocols: [$0], families: query.families), legacyTCP: false).parts.isEmpty }
        var dumps = 1
        while !changing.isEmpty && dumps < limit {
            var again = query
            again.protocols = changing
            before = after
            var more: [String] = []
            try kept.redo(changing) { (next: inout K) throws(NetlinkFailure) in
                more = try netlinkDump(again, into: &next, rawDump: &rawDump)
            }
            after = TableFingerprint.read(procRoot: options.procRoot)
            dumps += 1
            for n in more where !notices.contains(n) { notices.append(n) }
            // A redo during which the counters held still saw the table whole: that protocol is done.
            // A protocol with no membership counters gets the one verifying dump, as when none are readable.
            changing = changing.filter { before?.of($0) != nil && before?.of($0) != after?.of($0) }
        }
        return notices
    }

    /// `first`'s order, each socket replaced by its `second` version when it has one (a redone
    /// protocol's sockets are matched by cookie), then the sockets only `second` has.
    static func merge(_ first: [SocketRecord], _ second: [SocketRecord], redone: Set<TransportProtocol>) -> [SocketRecord] {
        var byCookie: [UInt64: Int] = [:], byKey: [CookieKey: Int] = [:]
        byCookie.reserveCapacity(second.count)
        for (i, r) in second.enumerated() {
            if let c = r.cookie, c != 0 { byCookie[c] = i } else { byKey[CookieKey(r)] = i }
        }
        var used = [Bool](repeating: false, count: second.count)
        var out: [SocketRecord] = []
        out.reserveCapacity(first.count + second.count / 16 + 16)
        for r in first {
            guard redone.contains(r.proto) else { out.append(r); continue }
            let hit: Int?
            if let c = r.cookie, c != 0 { hit = byCookie[c] } else { hit = byKey[CookieKey(r)] }
            if let i = hit, !used[i] {
                used[i] = true
                out.append(second[i])
            } else if hit == nil {
                out.append(r)
            }
        }
        for i in second.indices where !used[i] { out.append(second[i]) }
        return out
    }
}

/// The kernel's counters that move when a socket joins or leaves this namespace's TCP or UDP
/// tables — not those that move with traffic, so a busy but stable table needs no second dump.
///
/// TCP: `sockstat` inuse/orphan/tw/alloc and `sockstat6` inuse (the table's size), `snmp`
/// ActiveOpens/PassiveOpens (every connect and accepted connection), AttemptFails, EstabResets,
/// CurrEstab, OutRsts, and `netstat` TcpExt TW/TWRecycled/TWKilled (TIME_WAIT sockets expiring,
/// which no other counter shows), EmbryonicRsts and the TCPAbortOn* counters.
/// UDP: `sockstat`/`sockstat6` inuse only; the kernel counts no UDP socket opens, so an open and a
/// close of UDP sockets during one dump can cancel out (UDP tables rarely churn like TCP's).
/// `alloc` is machine-wide: churn in another namespace only costs a needless second dump.
struct TableFingerprint: Equatable {
    var tcp: [Int64]
    var udp: [Int64]

    /// The counters for a protocol; nil for one the kernel keeps no such counters for here.
    func of(_ p: TransportProtocol) -> [Int64]? {
        switch p {
        case .tcp: return tcp
        case .udp: return udp
        case .raw, .mptcp, .sctp, .unixStream, .unixDgram, .unixSeqpacket, .packetRaw, .packetDgram, .netlink: return nil
        }
    }

    /// Nil when the counters cannot be read (no procfs there): the caller then always verifies.
    static func read(procRoot: String) -> TableFingerprint? {
        guard let sockstat = try? Files.read(procRoot + "/net/sockstat", limit: .small),
              let snmp = try? Files.read(procRoot + "/net/snmp", limit: .counters) else { return nil }
        let sockstat6 = (try? Files.read(procRoot + "/net/sockstat6", limit: .small)) ?? []
        let netstat = (try? Files.read(procRoot + "/net/netstat", limit: .counters)) ?? []
        return parse(sockstat: sockstat, sockstat6: sockstat6, snmp: snmp, netstat: netstat)
    }

    static let tcpSNMP = ["ActiveOpens", "PassiveOpens", "AttemptFails", "EstabResets", "CurrEstab", "OutRsts"]
    static let tcpExt = ["EmbryonicRsts", "TW", "TWRecycled", "TWKilled", "TCPAbortOnData", "TCPAbortOnClose",
                         "TCPAbortOnMemory", "TCPAbortOnTimeout", "TCPAbortOnLinger", "TCPAbortFailed"]

    static func parse(sockstat: [UInt8], sockstat6: [UInt8], snmp: [UInt8], netstat: [UInt8]) -> TableFingerprint {
        let s4 = SockstatParser.parse(sockstat), s6 = SockstatParser.parse(sockstat6)
        let counters = counterTable(snmp).merging(counterTable(netstat)) { a, _ in a }
        func v(_ x: Int?) -> Int64 { Int64(x ?? -1) }
        var tcp = ["inuse", "orphan", "tw", "alloc"].map { v(s4["TCP"]?[$0]) } + [v(s6["TCP6"]?["inuse"])]
        tcp += tcpSNMP.map { counters["Tcp"]?[$0] ?? -1 }
        tcp += tcpExt.map { counters["TcpExt"]?[$0] ?? -1 }
        let udp = [v(s4["UDP"]?["inuse"]), v(s6["UDP6"]?["inuse"]), v(s4["UDPLITE"]?["inuse"]), v(s6["UDPLITE6"]?["inuse"])]
        return TableFingerprint(tcp: tcp, udp: udp)
    }

    /// `/proc/net/snmp` and `netstat` come in line pairs, `Tcp: Name1 Name2 …` then `Tcp: 1 2 …`.
    static func counterTable(_ bytes: [UInt8]) -> [String: [String: Int64]] {
        var out: [String: [String: Int64]] = [:]
        let lines = bytes.split(separator: 0x0A)
        var i = 0
        while i + 1 < lines.count {
            let names = lines[i].split(separator: 0x20), values = lines[i + 1].split(separator: 0x20)
            guard let head = names.first, head.last == 0x3A, values.first == head, names.count == values.count else {
                i += 1
                continue
            }
            var fields: [String: Int64] = [:]
            for (n, val) in zip(names.dropFirst(), values.dropFirst()) {
                fields[String(decoding: n, as: UTF8.self)] = Int64(String(decoding: val, as: UTF8.self))
            }
            out[String(decoding: head.dropLast(), as: UTF8.self)] = fields
            i += 2
        }
        return out
    }
}
