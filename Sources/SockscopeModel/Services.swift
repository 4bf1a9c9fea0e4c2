/// Port ↔ service-name table (the content of `/etc/services`), protocol-aware.
public struct ServiceTable: Sendable, Hashable {
    private var names: [Key: String] = [:]
    private var ports: [String: [TransportProtocol: UInt16]] = [:]
    /// The raw bytes of names that are not valid UTF-8 (the rest are their `String`'s UTF-8).
    private var rawNames: [Key: [UInt8]] = [:]

    struct Key: Hashable { var port: UInt16; var proto: TransportProtocol }

    public init() {}

    /// Adds a service; the first name given for a port wins (as getservbyport does), aliases resolve too.
    public mutating func add(name: String, port: UInt16, proto: TransportProtocol, aliases: [String] = []) {
        add(name: name, raw: nil, port: port, proto: proto, aliases: aliases)
    }

    /// `add`, for a name read as bytes: `raw` when they are not valid UTF-8 (`name` is then their
    /// lossy decoding), so that renderers show the bytes escaped rather than as U+FFFD.
    public mutating func add(name: String, raw: [UInt8]?, port: UInt16, proto: TransportProtocol, aliases: [String] = []) {
        let k = Key(port: port, proto: proto)
        if names[k] == nil {
            names[k] = name
            if let raw { rawNames[k] = raw }
        }
        for n in [name] + aliases where ports[n]?[proto] == nil {
            ports[n, default: [:]][proto] = port
        }
    }

    /// The service name for a port, or nil.
    public func name(port: UInt16, proto: TransportProtocol) -> String? { names[Key(port: port, proto: proto)] }

    /// The service name's bytes as the file has them, for renderers that escape them.
    public func rawName(port: UInt16, proto: TransportProtocol) -> [UInt8]? {
        let k = Key(port: port, proto: proto)
        return rawNames[k] ?? names[k].map { Array($0.utf8) }
    }

    /// The port a service name stands for with a protocol, or nil.
    public func port(named name: String, proto: TransportProtocol) -> UInt16? { ports[name]?[proto] }

    /// Every port a name stands for, over both protocols.
    public func ports(named name: String) -> Set<UInt16> { Set(ports[name]?.values.map { $0 } ?? []) }

    public var isEmpty: Bool { names.isEmpty }
}
