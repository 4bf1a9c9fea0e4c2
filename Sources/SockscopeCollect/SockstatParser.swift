import SockscopeModel
import SockscopeSystem

/// Reads `/proc/net/sockstat` and `sockstat6` to estimate how many sockets a dump will return, so
/// the record array is allocated once: growing it by doubling copied every record several times and
/// doubled peak memory (measured at 100k sockets: page faults were a quarter of system time).
public enum SockstatParser {
    /// Counts per line prefix, e.g. `["TCP": ["inuse": 5, "orphan": 0, "tw": 2, "alloc": 6, "mem": 1], …]`.
    /// The most sockets an estimate sizes for.
    public static let maxEstimate = 4_000_000

    public static func parse(_ bytes: [UInt8]) -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for line in bytes.split(separator: 0x0A) {
            let words = line.split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
            guard let head = words.first, head.count > 1, head.hasSuffix(":") else { continue }
            var fields: [String: Int] = [:]
            var i = 1
            while i + 1 < words.count {
                if let v = Int(words[i + 1]) { fields[words[i]] = v }
                i += 2
            }
            out[String(head.dropLast())] = fields
        }
        return out
    }

    /// An upper-bound estimate of the sockets of these protocols (0 when /proc cannot say).
    public static func estimate(procRoot: String, protocols: Set<TransportProtocol>) -> Int {
        let v4 = parse((try? Files.read(procRoot + "/net/sockstat", limit: .small)) ?? [])
        let v6 = parse((try? Files.read(procRoot + "/net/sockstat6", limit: .small)) ?? [])
        return estimate(v4: v4, v6: v6, protocols: protocols)
    }

    /// The estimate from parsed counters. Each counter is clamped to `0...maxEstimate` before
    /// adding: the numbers are the file's, not the kernel's (a `--proc-root` tree may say anything),
    /// and four of them near `Int.max` would overflow the sum.
    public static func estimate(v4: [String: [String: Int]], v6: [String: [String: Int]], protocols: Set<TransportProtocol>) -> Int {
        func c(_ v: Int?) -> Int { min(max(v ?? 0, 0), maxEstimate) }
        var n = 0
        if protocols.contains(.tcp) {
            // `alloc` counts both families' TCP sockets (orphans too); TIME_WAIT ones are separate.
            n += c(v4["TCP"]?["alloc"]) + c(v4["TCP"]?["tw"])
        }
        if protocols.contains(.udp) { n += c(v4["UDP"]?["inuse"]) + c(v6["UDP6"]?["inuse"]) }
        return min(n, maxEstimate)
    }
}

extension SockstatParser {
    /// `ss -s`'s numbers from the text of `/proc/net/sockstat`, `sockstat6` and `snmp` (for
    /// `Tcp: CurrEstab`). Nil when `sockstat` holds no `sockets:` line. ss computes `closed` as
    /// allocated minus hashed-but-not-TIME_WAIT; so does this.
    public static func kernelCounts(sockstat: [UInt8], sockstat6: [UInt8], snmp: [UInt8]) -> KernelSocketCounts? {
        let v4 = parse(sockstat), v6 = parse(sockstat6)
        guard let used = v4["sockets"]?["used"] else { return nil }
        func c(_ t: [String: [String: Int]], _ line: String, _ key: String) -> Int { t[line]?[key] ?? 0 }
        let tcp4 = c(v4, "TCP", "inuse"), tcp6 = c(v6, "TCP6", "inuse"), tw = c(v4, "TCP", "tw"), alloc = c(v4, "TCP", "alloc")
        let estab = TableFingerprint.counterTable(snmp)["Tcp"]?["CurrEstab"].map { Int($0) } ?? 0
        return KernelSocketCounts(
            sockets: used, tcpTotal: alloc + tw, tcpEstablished: estab, tcpClosed: alloc - (tcp4 + tcp6 - tw),
            tcpOrphaned: c(v4, "TCP", "orphan"), tcpTimeWait: tw,
            raw: .init(ipv4: c(v4, "RAW", "inuse"), ipv6: c(v6, "RAW6", "inuse")),
            udp: .init(ipv4: c(v4, "UDP", "inuse"), ipv6: c(v6, "UDP6", "inuse")),
            tcp: .init(ipv4: tcp4, ipv6: tcp6),
            frag: .init(ipv4: c(v4, "FRAG", "inuse"), ipv6: c(v6, "FRAG6", "inuse")))
    }

    /// Reads the three files under `procRoot` and computes `kernelCounts`; nil when sockstat is unreadable.
    public static func kernelCounts(procRoot: String) -> KernelSocketCounts? {
        guard let s4 = try? Files.readAll(procRoot + "/net/sockstat", sizeHint: 1024) else { return nil }
        let s6 = (try? Files.readAll(procRoot + "/net/sockstat6", sizeHint: 1024)) ?? []
        let snmp = (try? Files.readAll(procRoot + "/net/snmp", sizeHint: 8192)) ?? []
        return kernelCounts(sockstat: s4, sockstat6: s6, snmp: snmp)
    }

    /// UNIX sockets by type and state.
    public static func unixCounts(_ entries: [UnixSocketEntry]) -> UnixSocketCounts {
        var u = UnixSocketCounts()
        for e in entries {
            switch e.kind {
            case .stream: u.stream += 1
            case .dgram: u.dgram += 1
            case .seqpacket: u.seqpacket += 1
            }
            switch e.state {
            case .listen: u.listening += 1
            case .established: u.connected += 1
            default: u.unconnected += 1
            }
        }
        return u
    }
}

extension SockstatParser {
    /// An upper bound on the UNIX sockets a dump returns: the `sockets` column of the `UNIX` and
    /// `UNIX-STREAM` lines of `/proc/net/protocols` (every namespace's; 0 when unreadable), plus
    /// slack for sockets opened meanwhile, so the record array is allocated once (growing it by
    /// doubling held two copies).
    public static func unixEstimate(procRoot: String) -> Int {
        guard let bytes = try? Files.readAll(procRoot + "/net/protocols", sizeHint: 8192) else { return 0 }
        var n = 0
        for line in bytes.split(separator: 0x0A) where line.starts(with: Array("UNIX".utf8)) {
            let words = line.split(separator: 0x20)
            guard words.count > 2, words[0] == Array("UNIX".utf8)[...] || words[0] == Array("UNIX-STREAM".utf8)[...],
                  let v = Int(String(decoding: words[2], as: UTF8.self)) else { continue }
            n += v
        }
        return min(n + n / 16 + 64, 4_000_000)
    }
}
