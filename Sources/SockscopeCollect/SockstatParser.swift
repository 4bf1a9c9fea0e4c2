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
