/// What `unix_diag` tells of a UNIX socket beyond its name and peer.
public struct UnixDetails: Sendable, Hashable {
    /// The file a path socket is bound to: device (as `stat(2)`'s `st_dev`) and inode.
    public var vfsDevice: UInt64?
    public var vfsInode: UInt64?
    /// For a listener: the inodes of the clients whose connections wait in its accept queue.
    public var pending: [UInt64]?

    public init(vfsDevice: UInt64? = nil, vfsInode: UInt64? = nil, pending: [UInt64]? = nil) {
        self.vfsDevice = vfsDevice; self.vfsInode = vfsInode; self.pending = pending
    }
}

extension SocketRecord {
    /// The peer's inode for a UNIX socket (0 when unconnected, or its peer still waits in a
    /// listener's queue); 0 for other families.
    public var peerInode: UInt64 {
        if case .unix(let u) = remote { return u.inode }
        return 0
    }
}
