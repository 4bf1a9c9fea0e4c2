import SockscopeModel
import SockscopeSystem

/// Parses `/etc/services` text: `name port/proto [aliases…] [# comment]`.
public enum ServicesParser {
    public static func parse(_ bytes: [UInt8]) -> ServiceTable {
        var table = ServiceTable()
        var lineStart = 0
        let n = bytes.count
        while lineStart < n {
            var end = lineStart
            while end < n && bytes[end] != 0x0A { end += 1 }
            var stop = lineStart
            while stop < end && bytes[stop] != UInt8(ascii: "#") { stop += 1 }
            let words = bytes[lineStart..<stop].split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
            if words.count >= 2, let slash = words[1].firstIndex(of: UInt8(ascii: "/")) {
                let portText = words[1][words[1].startIndex..<slash]
                let protoText = String(decoding: words[1][(slash + 1)...], as: UTF8.self)
                if let port = UInt16(String(decoding: portText, as: UTF8.self)),
                   // Only tcp and udp entries: the names a port filter resolves over (MPTCP uses tcp's).
                   let proto = TransportProtocol(rawValue: protoText), proto == .tcp || proto == .udp {
                    let name = String(decoding: words[0], as: UTF8.self)
                    table.add(name: name, port: port, proto: proto,
                              aliases: words.dropFirst(2).map { String(decoding: $0, as: UTF8.self) })
                }
            }
            lineStart = end + 1
        }
        return table
    }

    /// Loads a services file; a missing or unreadable one gives an empty table (names then show as numbers).
    public static func load(path: String = "/etc/services") -> ServiceTable {
        guard let bytes = try? Files.readAll(path) else { return ServiceTable() }
        return parse(bytes)
    }
}
