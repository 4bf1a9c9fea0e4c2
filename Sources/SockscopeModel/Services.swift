/// Port ↔ service-name table (the content of `/etc/services`), protocol-aware.
public struct ServiceTable: Sendable, Hashable {
    private var names: [Key: String] = [:]
    private var ports: [String: [TransportProtocol: UInt16]] = [:]

    struct Key: Hashable { var port: UInt16; var proto: TransportProtocol }

    public init() {}

    /// Adds a service; the first name given for a port wins (as getservbyport does), aliases resolve too.
    public mutating func add(name: String, port: UInt16, proto: TransportProtocol, aliases: [String] = []) {
        let k = Key(port: port, proto: proto)
        if names[k] == nil { names[k] = name }
        for n in [name] + aliases where ports[n]?[proto] == nil {
            ports[n, default: [:]][proto] = port
        }
    }

    /// The service name for a port, or nil.
    public func name(port: UInt16, proto: TransportProtocol) -> String? { names[Key(port: port, proto: proto)] }

    /// The port a service name stands for with a protocol, or nil.
    public func port(named name: String, proto: TransportProtocol) -> UInt16? { ports[name]?[proto] }

    /// Every port a name stands for, over both protocols.
    public func ports(named name: String) -> Set<UInt16> { Set(ports[name]?.values.map { $0 } ?? []) }

    public var isEmpty: Bool { names.isEmpty }
}
