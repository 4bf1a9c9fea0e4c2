/// One classic BPF instruction (`struct sock_filter`), as `PACKET_DIAG_FILTER` reports a packet
/// socket's attached program.
public struct BPFInstruction: Sendable, Hashable {
    public var code: UInt16
    public var jumpTrue: UInt8
    public var jumpFalse: UInt8
    public var k: UInt32

    public init(code: UInt16, jumpTrue: UInt8, jumpFalse: UInt8, k: UInt32) {
        self.code = code; self.jumpTrue = jumpTrue; self.jumpFalse = jumpFalse; self.k = k
    }
}
