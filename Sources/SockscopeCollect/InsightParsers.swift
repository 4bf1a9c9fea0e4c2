import SockscopeModel
import SockscopeSystem

// Parsers for the two /proc files port insight reads. No I/O except in the `load` functions,
// which read a path under a given procfs root.

/// Parses `net/ipv4/ip_local_port_range`: two decimal numbers, `32768\t60999\n`.
public enum EphemeralRangeParser {
    /// The range, or nil when the text is not two ports with low ≤ high.
    public static func parse(_ bytes: [UInt8]) -> EphemeralRange? {
        let words = bytes.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D })
        guard words.count == 2, words.allSatisfy({ $0.count <= 5 && $0.allSatisfy { (0x30...0x39).contains($0) } }),
              let low = UInt16(String(decoding: words[0], as: UTF8.self)),
              let high = UInt16(String(decoding: words[1], as: UTF8.self)) else { return nil }
        return EphemeralRange(low: low, high: high)
    }

    /// Reads `procRoot/sys/net/ipv4/ip_local_port_range`; nil when missing or unreadable.
    public static func load(procRoot: String = "/proc") -> EphemeralRange? {
        guard let bytes = try? Files.readAll(procRoot + "/sys/net/ipv4/ip_local_port_range", sizeHint: 64, limit: 4096)
        else { return nil }
        return parse(bytes)
    }
}

/// Parses `/proc/net/netstat` (and `/proc/net/snmp`, same shape): per section a header line of
/// names and a line of values, both starting with the section's prefix (`TcpExt:`).
public enum NetstatParser {
    /// Counters by section and name, e.g. `["TcpExt": ["ListenOverflows": 2, …], …]`. A value
    /// line without its header, a value that is not an unsigned number, or extra values are skipped.
    public static func parse(_ bytes: [UInt8]) -> [String: [String: UInt64]] {
        var out: [String: [String: UInt64]] = [:]
        var header: (prefix: [UInt8], names: [ArraySlice<UInt8>])?
        for line in bytes.split(separator: 0x0A) {
            let words = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
            guard let first = words.first, first.count > 1, first.last == UInt8(ascii: ":") else { header = nil; continue }
            let prefix = Array(first.dropLast())
            if let h = header, h.prefix == prefix {
                let section = String(decoding: prefix, as: UTF8.self)
                var fields = out[section] ?? [:]
                for (name, value) in zip(h.names, words.dropFirst()) {
                    if let v = UInt64(String(decoding: value, as: UTF8.self)) {
                        fields[String(decoding: name, as: UTF8.self)] = v
                    }
                }
                out[section] = fields
                header = nil
            } else {
                header = (prefix, Array(words.dropFirst()))
            }
        }
        return out
    }

    /// `ListenOverflows` and `ListenDrops` from the `TcpExt` section; nil when either is missing.
    public static func listenCounters(_ bytes: [UInt8]) -> ListenCounters? {
        guard let ext = parse(bytes)["TcpExt"], let o = ext["ListenOverflows"], let d = ext["ListenDrops"] else { return nil }
        return ListenCounters(overflows: o, drops: d)
    }

    /// Reads `procRoot/net/netstat`; nil when missing, unreadable or without the counters.
    public static func loadListenCounters(procRoot: String = "/proc") -> ListenCounters? {
        guard let bytes = try? Files.readAll(procRoot + "/net/netstat", sizeHint: 8192, limit: 1 << 20) else { return nil }
        return listenCounters(bytes)
    }
}
