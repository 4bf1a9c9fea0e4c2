/// One port a watch waits on, optionally on one local address (nil: any address): an item of
/// `--watch-port`, `--until-up` and `--until-down`.
public struct ListenTarget: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress?
    public var port: UInt16

    public init(address: IPAddress?, port: UInt16) { self.address = address; self.port = port }

    /// True when `r` listens where a connection to this target would arrive: on the port, and on
    /// the address itself or its family's wildcard.
    public func isServed(by r: SocketRecord) -> Bool {
        guard r.local.port == port else { return false }
        guard let address else { return true }
        return r.local.address == address || (r.local.address.isUnspecified && r.local.address.isIPv6 == address.isIPv6)
    }

    /// `8080`, `127.0.0.1:8080`, `[::1]:8080`.
    public var description: String {
        guard let address else { return String(port) }
        var out: [UInt8] = []
        if address.isIPv6 { out.append(UInt8(ascii: "[")) }
        address.write(to: &out)
        if address.isIPv6 { out.append(UInt8(ascii: "]")) }
        return String(decoding: out, as: UTF8.self) + ":" + String(port)
    }
}
