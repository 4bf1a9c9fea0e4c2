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

/// A UNIX socket's name with its bytes: the value parsers produce and renderers take, built from
/// an endpoint's `UnixEndpoint.Kind` and the bytes the record keeps beside it.
/// The bytes are the kernel's, untrusted: renderers escape them.
public enum UnixName: Sendable, Hashable, Comparable {
    /// A filesystem path.
    case path([UInt8])
    /// An abstract name (the bytes after the leading NUL), shown by `ss` as `@name`.
    case abstract([UInt8])
    /// Not bound to any name (shown `*`), or a peer's name not known here.
    case unnamed

    /// The name as the endpoint keeps it.
    public var kind: UnixEndpoint.Kind {
        switch self {
        case .path: return .path
        case .abstract: return .abstract
        case .unnamed: return .unnamed
        }
    }

    /// The name's bytes; nil when unnamed.
    public var bytes: [UInt8]? {
        switch self {
        case .path(let b), .abstract(let b): return b
        case .unnamed: return nil
        }
    }

    /// The name of `kind` with `bytes` (unnamed when either says so).
    public init(kind: UnixEndpoint.Kind, bytes: [UInt8]?) {
        switch (kind, bytes) {
        case (.path, let b?): self = .path(b)
        case (.abstract, let b?): self = .abstract(b)
        default: self = .unnamed
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.path(let x), .path(let y)), (.abstract(let x), .abstract(let y)): return x.lexicographicallyPrecedes(y)
        default: return a.kind < b.kind
        }
    }
}

extension SocketRecord {
    /// A UNIX socket's own name (unnamed for other families).
    public var localUnixName: UnixName {
        get {
            guard case .unix(let u) = local else { return .unnamed }
            return UnixName(kind: u.kind, bytes: unixName)
        }
        set {
            guard case .unix(var u) = local else { return }
            u.kind = newValue.kind; local = .unix(u); unixName = newValue.bytes
        }
    }

    /// A connected UNIX socket's peer's name, when known (unnamed otherwise).
    public var remoteUnixName: UnixName {
        get {
            guard case .unix(let u) = remote else { return .unnamed }
            return UnixName(kind: u.kind, bytes: peerUnixName)
        }
        set {
            guard case .unix(var u) = remote else { return }
            u.kind = newValue.kind; remote = .unix(u); peerUnixName = newValue.bytes
        }
    }

    /// `localUnixName` or `remoteUnixName`.
    public func unixEndName(local: Bool) -> UnixName { local ? localUnixName : remoteUnixName }
}
