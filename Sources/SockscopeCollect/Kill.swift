import SockscopeModel
import SockscopeSystem
import SystemPackage

/// Closes sockets through sock_diag (`SOCK_DESTROY`), as `ss -K` does: the kernel aborts each
/// (a TCP peer sees a reset) and reports, per socket, whether it could.
public enum SocketKiller {
    /// One socket's outcome: nil when it was closed, else why the kernel refused.
    public struct Outcome: Sendable {
        public var record: SocketRecord
        public var refusal: Errno?
    }

    /// Asks the kernel to close each record, in order. A record without inet endpoints is refused
    /// with EAFNOSUPPORT without asking. Throws only when no netlink socket can be opened.
    public static func kill(_ records: [SocketRecord]) throws(SystemError) -> [Outcome] {
        let socket = try SockDiagSocket()
        var out: [Outcome] = []
        out.reserveCapacity(records.count)
        for r in records {
            guard let local = r.local.inet, let remote = r.remote.inet, let proto = r.proto.ipProtocol, proto <= 0xFF else {
                out.append(Outcome(record: r, refusal: .addressFamilyNotSupported))
                continue
            }
            let refusal = try socket.destroy(family: r.family.rawFamily, protocol: UInt8(proto),
                                             sourcePort: local.port, destinationPort: remote.port,
                                             source: local.address.bytes, destination: remote.address.bytes,
                                             interface: r.interfaceIndex, cookie: r.cookie ?? UInt64.max)
            out.append(Outcome(record: r, refusal: refusal))
        }
        return out
    }

    /// Why a refusal happened, in words for the user.
    public static func explain(_ e: Errno) -> String {
        let base = SystemError.message(e)
        switch e {
        case .notSupported: return base + " (the kernel lacks CONFIG_INET_DIAG_DESTROY, or cannot close this kind of socket)"
        case .notPermitted, .permissionDenied: return base + " (closing sockets needs CAP_NET_ADMIN)"
        case .noSuchFileOrDirectory: return base + " (the socket is already gone)"
        default: return base
        }
    }
}
