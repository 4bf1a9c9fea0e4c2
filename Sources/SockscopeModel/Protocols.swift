/// What kind of socket a record is: the transport of an inet socket, or the type of a socket in
/// another family. One enum over every family, so that a listing, a filter and a summary speak of
/// `tcp` and `unix_stream` alike; which families a protocol lives in is `families`.
///
/// Adding a case is meant to be a compile error wherever the answer differs per protocol: every
/// property here is an exhaustive `switch`, and so is each place elsewhere that must decide
/// (dump requests, destroy groups, table membership counters). The raw value is the `--json`
/// spelling; `netid` is the table's (as `ss` prints it).
public enum TransportProtocol: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case tcp, udp
    /// `SOCK_RAW` inet sockets (the port column carries the IP protocol, as `/proc/net/raw` and `ss` show it).
    case raw
    /// Multipath TCP (`IPPROTO_MPTCP`, 262).
    case mptcp
    case sctp
    case unixStream = "unix_stream", unixDgram = "unix_dgram", unixSeqpacket = "unix_seqpacket"
    /// `AF_PACKET` sockets: `SOCK_RAW` (link-layer header included) and `SOCK_DGRAM` (cooked).
    case packetRaw = "packet_raw", packetDgram = "packet_dgram"
    case netlink

    /// The protocol number an `inet_diag` request names (`IPPROTO_TCP`, …; MPTCP's 262 does not fit
    /// the request's byte and travels in an attribute). Nil outside the inet families.
    public var ipProtocol: UInt16? {
        switch self {
        case .tcp: return 6
        case .udp: return 17
        case .raw: return 255
        case .mptcp: return 262
        case .sctp: return 132
        case .unixStream, .unixDgram, .unixSeqpacket, .packetRaw, .packetDgram, .netlink: return nil
        }
    }

    /// The families sockets of this protocol can have.
    public var families: [AddressFamily] {
        switch self {
        case .tcp, .udp, .raw, .mptcp, .sctp: return [.inet, .inet6]
        case .unixStream, .unixDgram, .unixSeqpacket: return [.unix]
        case .packetRaw, .packetDgram: return [.packet]
        case .netlink: return [.netlink]
        }
    }

    /// True when a socket in `close` state is merely unconnected (shown `UNCONN`) rather than a
    /// connection that closed (TCP's `CLOSE`).
    public var closeIsUnconnected: Bool {
        switch self {
        case .tcp, .mptcp, .sctp: return false
        case .udp, .raw, .unixStream, .unixDgram, .unixSeqpacket, .packetRaw, .packetDgram, .netlink: return true
        }
    }

    /// The `--json` spelling of `proto`: a UNIX socket's type (`stream`, `dgram`, `seqpacket`) and a
    /// packet socket's (`raw`, `dgram`), as `family` already says which family; the raw value otherwise.
    public var jsonName: String {
        switch self {
        case .unixStream: return "stream"
        case .unixDgram, .packetDgram: return "dgram"
        case .unixSeqpacket: return "seqpacket"
        case .packetRaw: return "raw"
        case .tcp, .udp, .raw, .mptcp, .sctp, .netlink: return rawValue
        }
    }

    /// The protocol `jsonName` spells in `family`.
    public init?(jsonName: String, family: AddressFamily) {
        guard let p = TransportProtocol.allCases.first(where: { $0.jsonName == jsonName && $0.families.contains(family) })
        else { return nil }
        self = p
    }

    /// The `Netid` column as `ss` spells it.
    public var netid: String {
        switch self {
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .raw: return "raw"
        case .mptcp: return "mptcp"
        case .sctp: return "sctp"
        case .unixStream: return "u_str"
        case .unixDgram: return "u_dgr"
        case .unixSeqpacket: return "u_seq"
        case .packetRaw: return "p_raw"
        case .packetDgram: return "p_dgr"
        case .netlink: return "nl"
        }
    }

    /// Listing order, as `ss` lists: TCP, UDP, raw, MPTCP, SCTP, then UNIX, packet, netlink.
    public var rank: UInt8 {
        switch self {
        case .tcp: return 0
        case .udp: return 1
        case .raw: return 2
        case .mptcp: return 3
        case .sctp: return 4
        case .unixStream: return 5
        case .unixDgram: return 6
        case .unixSeqpacket: return 7
        case .packetRaw: return 8
        case .packetDgram: return 9
        case .netlink: return 10
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// Address family of a socket: `inet` (IPv4), `inet6` (IPv6, including IPv4-mapped peers),
/// `unix`, `packet` (link layer) or `netlink`.
public enum AddressFamily: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case inet, inet6, unix, packet, netlink

    /// The two IP families, the only ones whose endpoints are addresses and ports.
    public static let ip: [AddressFamily] = [.inet, .inet6]

    /// `AF_INET`, `AF_INET6`, `AF_UNIX`, `AF_PACKET`, `AF_NETLINK`.
    public var rawFamily: UInt8 {
        switch self {
        case .inet: return 2
        case .inet6: return 10
        case .unix: return 1
        case .packet: return 17
        case .netlink: return 16
        }
    }

    public init?(rawFamily: UInt8) {
        switch rawFamily {
        case 2: self = .inet
        case 10: self = .inet6
        case 1: self = .unix
        case 17: self = .packet
        case 16: self = .netlink
        default: return nil
        }
    }

    /// True for `inet` and `inet6`.
    public var isIP: Bool {
        switch self {
        case .inet, .inet6: return true
        case .unix, .packet, .netlink: return false
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawFamily < b.rawFamily }
}
