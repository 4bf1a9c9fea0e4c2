import ArgumentParser
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeSystem

/// The socket tables to list, in ss's spellings: `-x`, `--raw`, `-0`, `-M`, `--netlink`, `-A LIST`,
/// `-f FAMILY`. ss's `-w` (raw) is sockscope's live view, so raw sockets are `--raw` only.
struct FamilyOptions: ParsableArguments {
    @Flag(name: [.customShort("x"), .customLong("unix")], help: "UNIX sockets (stream, dgram, seqpacket).")
    var unix = false
    @Flag(name: .customLong("raw"), help: ArgumentHelp(
        "Raw sockets (ss's -w: in sockscope -w is the live view)."))
    var raw = false
    @Flag(name: [.customShort("0"), .customLong("packet")], help: "Packet (AF_PACKET) sockets.")
    var packet = false
    @Flag(name: [.customShort("M"), .customLong("mptcp")], help: "MPTCP sockets.")
    var mptcp = false
    @Flag(name: .customLong("netlink"), help: "Netlink sockets.")
    var netlink = false
    @Option(name: [.customShort("A"), .customLong("query"), .customLong("socket")], help: ArgumentHelp(
        "Socket tables to list, comma-separated: all, inet, tcp, udp, raw, mptcp, unix, unix_stream, "
            + "unix_dgram, unix_seqpacket, packet, packet_raw, packet_dgram, netlink.", valueName: "list"),
            transform: FamilyOptions.parseTables)
    var tables: Tables?
    @Option(name: [.customShort("f"), .customLong("family")], help: ArgumentHelp(
        "Only this family: inet, inet6, unix, link (packet), netlink.", valueName: "family"),
            transform: FamilyOptions.parseFamily)
    var family: Tables?
    @Flag(name: [.customShort("S"), .customLong("sctp")], help: "SCTP sockets (where the kernel has SCTP).")
    var sctp = false
    @Flag(name: .customLong("vsock"), help: "vsock sockets (where the kernel has vsock_diag).")
    var vsock = false
    @Flag(name: .customLong("tipc"), help: "TIPC sockets (where the kernel has TIPC).")
    var tipc = false

    /// What `-A` or `-f` selected: protocols, and for `-f inet`/`inet6` the IP family.
    struct Tables: Sendable {
        var protocols: Set<TransportProtocol> = []
        var ipFamilies: Set<AddressFamily>?
        var unavailable: String?
    }

    static let unixProtocols: Set<TransportProtocol> = [.unixStream, .unixDgram, .unixSeqpacket]
    static let packetProtocols: Set<TransportProtocol> = [.packetRaw, .packetDgram]
    static let inetProtocols: Set<TransportProtocol> = [.tcp, .udp, .raw, .mptcp]

    static func parseTables(_ text: String) throws -> Tables {
        var t = Tables()
        for word in text.split(separator: ",", omittingEmptySubsequences: false) {
            switch word.lowercased() {
            case "all": t.protocols.formUnion(inetProtocols.union(unixProtocols).union(packetProtocols).union([.netlink]))
            case "inet": t.protocols.formUnion(inetProtocols)
            case "tcp": t.protocols.insert(.tcp)
            case "udp": t.protocols.insert(.udp)
            case "raw": t.protocols.insert(.raw)
            case "mptcp": t.protocols.insert(.mptcp)
            case "unix": t.protocols.formUnion(unixProtocols)
            case "unix_stream", "u_str": t.protocols.insert(.unixStream)
            case "unix_dgram", "u_dgr": t.protocols.insert(.unixDgram)
            case "unix_seqpacket", "u_seq": t.protocols.insert(.unixSeqpacket)
            case "packet", "link": t.protocols.formUnion(packetProtocols)
            case "packet_raw", "p_raw": t.protocols.insert(.packetRaw)
            case "packet_dgram", "p_dgr": t.protocols.insert(.packetDgram)
            case "netlink", "nl": t.protocols.insert(.netlink)
            case "sctp": t.unavailable = t.unavailable ?? unavailableMessage(sctp: true)
            case "vsock", "v_str", "v_dgr": t.unavailable = t.unavailable ?? unavailableMessage(vsock: true)
            case "tipc": t.unavailable = t.unavailable ?? unavailableMessage(tipc: true)
            case "dccp": t.unavailable = t.unavailable ?? "DCCP sockets are not supported"
            default:
                throw ValidationError("unknown socket table '\(word)' in -A (try: all, inet, tcp, udp, raw, mptcp, unix, "
                                      + "unix_stream, unix_dgram, unix_seqpacket, packet, packet_raw, packet_dgram, netlink)")
            }
        }
        return t
    }

    static func parseFamily(_ text: String) throws -> Tables {
        var t = Tables()
        switch text.lowercased() {
        case "inet": t.ipFamilies = [.inet]
        case "inet6": t.ipFamilies = [.inet6]
        case "unix": t.protocols = unixProtocols
        case "link", "packet": t.protocols = packetProtocols
        case "netlink": t.protocols = [.netlink]
        case "vsock": t.unavailable = unavailableMessage(vsock: true)
        case "tipc": t.unavailable = unavailableMessage(tipc: true)
        case "xdp": t.unavailable = "XDP sockets are not supported"
        default: throw ValidationError("unknown family '\(text)' for -f (try: inet, inet6, unix, link, netlink)")
        }
        return t
    }

    /// Adds the selected tables to `q` (TCP and UDP stay the default when nothing is selected).
    func apply(to q: inout Query, tcp: Bool, udp: Bool) {
        var p: Set<TransportProtocol> = []
        if tcp { p.insert(.tcp) }
        if udp { p.insert(.udp) }
        if raw { p.insert(.raw) }
        if mptcp { p.insert(.mptcp) }
        if unix { p.formUnion(Self.unixProtocols) }
        if packet { p.formUnion(Self.packetProtocols) }
        if netlink { p.insert(.netlink) }
        if let tables { p.formUnion(tables.protocols) }
        if let family { p.formUnion(family.protocols) }
        if !p.isEmpty { q.protocols = p }
        if let ip = family?.ipFamilies { q.families = ip }
        // The other families ride along: a query lists them only when their protocols are selected.
        q.families.formUnion([.unix, .packet, .netlink])
    }

    /// True when an option chose socket tables (`-x`, `--raw`, `-0`, `-M`, `--netlink`, `-A`, `-f`).
    var selectsTables: Bool { unix || raw || packet || mptcp || netlink || tables != nil || family != nil }

    /// True when the options select a table outside the IP families (UNIX, packet, netlink).
    var selectsOtherFamilies: Bool {
        unix || packet || netlink || [tables, family].contains { t in t?.protocols.contains { !$0.families.contains(where: \.isIP) } ?? false }
    }

    /// The one non-IP family the options select, if they select no other (`-x`, `-0`, `--netlink`,
    /// `-f unix`, `-A unix_stream`, …): a filter's bare host words are of that family then, as in ss.
    var onlyFamily: AddressFamily? {
        var p: Set<TransportProtocol> = []
        if raw || mptcp { return nil }
        if unix { p.formUnion(Self.unixProtocols) }
        if packet { p.formUnion(Self.packetProtocols) }
        if netlink { p.insert(.netlink) }
        if let tables { p.formUnion(tables.protocols) }
        if let family {
            if family.ipFamilies != nil { return nil }
            p.formUnion(family.protocols)
        }
        let families = Set(p.flatMap(\.families))
        guard families.count == 1, let f = families.first, !f.isIP else { return nil }
        return f
    }

    /// One line for an option naming sockets this kernel (or sockscope) cannot list; nil when none.
    var unavailable: String? {
        if sctp { return Self.unavailableMessage(sctp: true) }
        if vsock { return Self.unavailableMessage(vsock: true) }
        if tipc { return Self.unavailableMessage(tipc: true) }
        return tables?.unavailable ?? family?.unavailable
    }

    static func unavailableMessage(sctp: Bool = false, vsock: Bool = false, tipc: Bool = false) -> String {
        let protocols = String(decoding: (try? Files.readAll("/proc/net/protocols", sizeHint: 4096)) ?? [], as: UTF8.self)
        let names = Set(protocols.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        if sctp {
            return names.contains("SCTP") || names.contains("SCTPv6")
                ? "-S/--sctp: this kernel has SCTP, but sockscope does not list SCTP sockets yet"
                : "-S/--sctp: this kernel has no SCTP (it is not in /proc/net/protocols)"
        }
        if tipc {
            return names.contains("TIPC") ? "--tipc: this kernel has TIPC, but sockscope does not list TIPC sockets yet"
                : "--tipc: this kernel has no TIPC (it is not in /proc/net/protocols)"
        }
        guard names.contains("AF_VSOCK") else { return "--vsock: this kernel has no vsock (AF_VSOCK is not in /proc/net/protocols)" }
        if let why = FamilySources.diagRefusal(family: 40) {  // AF_VSOCK
            return "--vsock: this kernel has vsock but no vsock_diag to list its sockets (\(why))"
        }
        return "--vsock: this kernel has vsock_diag, but sockscope does not list vsock sockets yet"
    }
}
