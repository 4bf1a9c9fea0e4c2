/// A socket the kernel reported destroyed (sock_diag destroy multicast), with when it was heard.
public struct DestroyedSocket: Sendable {
    public var record: SocketRecord
    /// Wall-clock seconds since the epoch when the message arrived.
    public var time: Double

    public init(record: SocketRecord, time: Double) { self.record = record; self.time = time }
}
