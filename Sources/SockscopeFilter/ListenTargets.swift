import SockscopeModel

/// What `--watch-port`, `--until-up` and `--until-down` wait for: ports, ranges and service names as
/// in `--port`, and `HOST:PORT` items (`127.0.0.1:8080`, `[::1]:8080`, `*:8080`) for one address.
public struct ListenTargets: Sendable, Hashable {
    public typealias Target = ListenTarget

    /// In the order given, without repeats.
    public private(set) var targets: [Target]

    /// The ports alone, for a kernel-side port filter.
    public var ports: PortSpec { PortSpec(ranges: targets.map { $0.port...$0.port }) }

    /// At most this many targets: each is a line per change, and a range that large is a typo.
    public static let maximum = 1024

    public init(targets: [Target]) {
        var seen = Set<Target>()
        self.targets = targets.filter { seen.insert($0).inserted }
    }

    /// Parses a comma-separated list; `resolve` maps a service name to its ports.
    public init(parsing text: String, resolve: (String) -> Set<UInt16> = { _ in [] }) throws(FilterError) {
        var out: [Target] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(raw)
            if let (host, portText) = Self.splitHost(item) {
                let address: IPAddress?
                if host == "*" {
                    address = nil
                } else if let a = IPAddress(host) {
                    address = a
                } else {
                    throw FilterError("'\(item)': '\(host)' is not a numeric address (write 127.0.0.1:PORT, [::1]:PORT or *:PORT)")
                }
                let spec = try PortSpec(parsing: portText, resolve: resolve)
                for r in spec.ranges { for p in r { out.append(Target(address: address, port: p)) } }
            } else {
                let spec = try PortSpec(parsing: item, resolve: resolve)
                for r in spec.ranges { for p in r { out.append(Target(address: nil, port: p)) } }
            }
            if out.count > Self.maximum { throw FilterError("watch at most \(Self.maximum) ports at a time") }
        }
        self.init(targets: out)
    }

    /// `[v6]:port`, `v4:port`, `*:port` → (host, port text); nil for a plain port, range or name.
    static func splitHost(_ item: String) -> (String, String)? {
        if item.hasPrefix("["), let close = item.firstIndex(of: "]") {
            let rest = item[item.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            return (String(item[item.index(after: item.startIndex)..<close]), String(rest.dropFirst()))
        }
        guard let colon = item.lastIndex(of: ":"), !item[..<colon].contains(":") else { return nil }
        return (String(item[..<colon]), String(item[item.index(after: colon)...]))
    }
}
