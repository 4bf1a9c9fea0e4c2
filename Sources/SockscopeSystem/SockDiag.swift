import CMnl
import CSockShim
import Glibc
import SockscopeModel
import SystemPackage

/// A netlink `NETLINK_SOCK_DIAG` socket (through libmnl) that sends inet_diag dump requests and
/// hands back the raw reply bytes. Parsing those bytes is the collector's job, so that it can be
/// tested on captured dumps.
public final class SockDiagSocket {
    private let nl: OpaquePointer
    private var nextSeq: UInt32
    /// The receive buffer size recommended for dumps: the kernel fills at most ~32 KiB per message batch.
    public static let receiveBufferSize = 64 * 1024

    /// Opens and binds the socket. Fails with the errno of socket() (EPERM, EAFNOSUPPORT,
    /// EPROTONOSUPPORT where netlink diagnostics are not available) or bind().
    public init() throws(SystemError) {
        guard let s = mnl_socket_open2(NETLINK_SOCK_DIAG, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw SystemError("socket(AF_NETLINK, NETLINK_SOCK_DIAG)", errno: currentErrno)
        }
        nl = s
        if mnl_socket_bind(s, 0, pid_t(MNL_SOCKET_AUTOPID)) < 0 {
            let e = currentErrno.rawValue
            mnl_socket_close(s)
            throw SystemError("bind(AF_NETLINK)", errno: Errno(rawValue: e))
        }
        // A larger kernel-side queue: a busy dump should never hit ENOBUFS for want of room.
        var size: Int32 = 1 << 20
        _ = setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        nextSeq = UInt32(truncatingIfNeeded: time(nil))
    }

    deinit { mnl_socket_close(nl) }

    /// Sets the sequence number of the next request (the kernel copies it into every reply, so a
    /// recorded dump can carry a mark in it).
    public func setNextSequence(_ seq: UInt32) { nextSeq = seq }

    /// The socket's netlink port id (replies are addressed to it).
    public var portID: UInt32 { mnl_socket_get_portid(nl) }

    /// Sends one `SOCK_DIAG_BY_FAMILY` dump request and returns its sequence number.
    ///
    /// - Parameters:
    ///   - family: `AF_INET` or `AF_INET6`.
    ///   - protocol: `IPPROTO_TCP`, `IPPROTO_UDP`, … A number past a byte (`IPPROTO_MPTCP`, 262)
    ///     goes in an `INET_DIAG_REQ_PROTOCOL` attribute, which the kernel reads instead of the byte.
    ///   - states: the `idiag_states` bitmask: the kernel skips sockets in other states.
    ///   - extensions: the `idiag_ext` bitmask (`1 << (INET_DIAG_INFO - 1)`, …).
    ///   - bytecode: an `INET_DIAG_REQ_BYTECODE` filter program, or nil.
    public func requestDump(family: UInt8, protocol proto: UInt16, states: UInt32, extensions: UInt8,
                            bytecode: [UInt8]?) throws(SystemError) -> UInt32 {
        let wide = proto > UInt8.max
        return try send(type: UInt16(SOCK_DIAG_BY_FAMILY), header: inet_diag_req_v2.self, bytecode: bytecode,
                        protocolAttribute: wide ? UInt32(proto) : nil) { req in
            req.pointee.sdiag_family = family
            // With the attribute the byte must still name IPPROTO_TCP, as ss sends it: 6.18 answers a
            // 0 there with ENOENT when the namespace has no MPTCP socket (seen with a live request).
            req.pointee.sdiag_protocol = wide ? UInt8(IPPROTO_TCP) : UInt8(proto)
            req.pointee.idiag_states = states
            req.pointee.idiag_ext = extensions
        }
    }

    /// Builds one dump request (netlink header, the request struct `Header` filled by `fill`, an
    /// optional bytecode attribute and protocol attribute) with libmnl, sends it, and returns its
    /// sequence number.
    private func send<Header>(type: UInt16, header: Header.Type, bytecode: [UInt8]?, protocolAttribute: UInt32? = nil,
                              flags: UInt16 = UInt16(NLM_F_REQUEST | NLM_F_DUMP),
                              fill: (UnsafeMutablePointer<Header>) -> Void) throws(SystemError) -> UInt32 {
        let seq = nextSeq
        nextSeq &+= 1
        var buf = [UInt8](repeating: 0, count: 256 + (bytecode?.count ?? 0))
        let sent: Result<Int, SystemError> = buf.withUnsafeMutableBytes { raw in
            let nlh = mnl_nlmsg_put_header(raw.baseAddress)!
            nlh.pointee.nlmsg_type = type
            nlh.pointee.nlmsg_flags = flags
            nlh.pointee.nlmsg_seq = seq
            fill(mnl_nlmsg_put_extra_header(nlh, MemoryLayout<Header>.size)!.assumingMemoryBound(to: Header.self))
            if let bytecode {
                bytecode.withUnsafeBytes { bc in
                    mnl_attr_put(nlh, UInt16(INET_DIAG_REQ_BYTECODE), bc.count, bc.baseAddress)
                }
            }
            if let protocolAttribute { mnl_attr_put_u32(nlh, UInt16(INET_DIAG_REQ_PROTOCOL), protocolAttribute) }
            do throws(SystemError) {
                return .success(try retryingEINTR("sendto(sock_diag)") { mnl_socket_sendto(nl, nlh, Int(nlh.pointee.nlmsg_len)) })
            } catch {
                return .failure(error)
            }
        }
        _ = try sent.get()
        return seq
    }

    /// Asks the kernel to close one socket (`SOCK_DESTROY`), named as a dump reported it: family,
    /// protocol, both ends (addresses as the 16 bytes of `inet_diag_sockid`, network order), the
    /// bound interface and the cookie (so a newer socket reusing the tuple is never hit).
    ///
    /// Returns nil when the kernel closed it, or the errno it answered: EOPNOTSUPP without
    /// CONFIG_INET_DIAG_DESTROY, EPERM without CAP_NET_ADMIN, ENOENT when it is already gone.
    public func destroy(family: UInt8, protocol proto: UInt8, sourcePort: UInt16, destinationPort: UInt16,
                        source: [UInt8], destination: [UInt8], interface: UInt32, cookie: UInt64) throws(SystemError) -> Errno? {
        let seq = try send(type: UInt16(SOCK_DESTROY), header: inet_diag_req_v2.self, bytecode: nil,
                           flags: UInt16(NLM_F_REQUEST | NLM_F_ACK)) { req in
            req.pointee.sdiag_family = family
            req.pointee.sdiag_protocol = proto
            req.pointee.idiag_states = UInt32.max
            withUnsafeMutableBytes(of: &req.pointee.id) { id in
                id.storeBytes(of: sourcePort.bigEndian, toByteOffset: 0, as: UInt16.self)
                id.storeBytes(of: destinationPort.bigEndian, toByteOffset: 2, as: UInt16.self)
                for (i, b) in source.prefix(16).enumerated() { id[4 + i] = b }
                for (i, b) in destination.prefix(16).enumerated() { id[20 + i] = b }
                id.storeBytes(of: interface, toByteOffset: 36, as: UInt32.self)
                id.storeBytes(of: UInt32(truncatingIfNeeded: cookie), toByteOffset: 40, as: UInt32.self)
                id.storeBytes(of: UInt32(truncatingIfNeeded: cookie >> 32), toByteOffset: 44, as: UInt32.self)
            }
        }
        // The answer is one NLMSG_ERROR: 0 (an acknowledgement) or a negated errno.
        var buf = [UInt8](repeating: 0, count: 8192)
        for _ in 0..<16 {
            let received: Result<Int, SystemError> = buf.withUnsafeMutableBytes { b in
                do throws(SystemError) { return .success(try receive(into: b)) } catch { return .failure(error) }
            }
            let n = try received.get()
            var off = 0
            while off + 20 <= n {
                let (len, type, mseq, code) = buf.withUnsafeBytes { b in
                    (Int(b.loadUnaligned(fromByteOffset: off, as: UInt32.self)), b.loadUnaligned(fromByteOffset: off + 4, as: UInt16.self),
                     b.loadUnaligned(fromByteOffset: off + 8, as: UInt32.self), b.loadUnaligned(fromByteOffset: off + 16, as: Int32.self))
                }
                guard len >= 16 else { break }
                if type == UInt16(NLMSG_ERROR) && mseq == seq { return code == 0 ? nil : Errno(rawValue: code == .min ? EIO : -code) }
                off += (len + 3) & ~3
            }
        }
        return .ioError
    }

    /// The underlying file descriptor (for poll).
    public var fileDescriptor: Int32 { mnl_socket_get_fd(nl) }

    /// Joins a sock_diag multicast group (`SKNLGRP_INET_TCP_DESTROY` = 1 … `SKNLGRP_INET6_UDP_DESTROY` = 4):
    /// the kernel then sends an `inet_diag_msg` for every socket of that kind as it is destroyed.
    /// Needs CAP_NET_ADMIN; fails with EPERM without it.
    public func join(group: UInt32) throws(SystemError) {
        var g = group
        if mnl_socket_setsockopt(nl, Int32(NETLINK_ADD_MEMBERSHIP), &g, socklen_t(MemoryLayout<UInt32>.size)) < 0 {
            throw SystemError("setsockopt(NETLINK_ADD_MEMBERSHIP \(group))", errno: currentErrno)
        }
    }

    /// Waits up to `milliseconds` for any of `sockets` to be readable; returns which are.
    public static func waitReadable(_ sockets: [SockDiagSocket], milliseconds: Int32) -> [Bool] {
        var fds = sockets.map { pollfd(fd: $0.fileDescriptor, events: Int16(POLLIN), revents: 0) }
        let n = poll(&fds, nfds_t(fds.count), milliseconds)
        if n <= 0 { return [Bool](repeating: false, count: sockets.count) }
        return fds.map { $0.revents & Int16(POLLIN | POLLERR) != 0 }
    }

    /// Sends the legacy `TCPDIAG_GETSOCK` dump request (`struct inet_diag_req`), which the kernel
    /// serves with family `AF_UNSPEC`: one walk of the TCP tables returns IPv4 and IPv6 sockets,
    /// where two `SOCK_DIAG_BY_FAMILY` requests walk them twice (measured: the walk is most of the
    /// kernel's share of a dump). Replies have type `TCPDIAG_GETSOCK` (18), same payload.
    public func requestLegacyTCPDump(states: UInt32, extensions: UInt8, bytecode: [UInt8]?) throws(SystemError) -> UInt32 {
        try send(type: UInt16(TCPDIAG_GETSOCK), header: inet_diag_req.self, bytecode: bytecode) { req in
            req.pointee.idiag_family = 0  // AF_UNSPEC: both families
            req.pointee.idiag_ext = extensions
            req.pointee.idiag_states = states
        }
    }

    /// Receives one batch of reply messages into `buffer`; returns the byte count.
    ///
    /// Throws with ENOBUFS when the kernel dropped messages (the dump must be redone), and with
    /// ENOSPC when a message did not fit the buffer (libmnl's report of MSG_TRUNC).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try retryingEINTR("recvmsg(sock_diag)") { mnl_socket_recvfrom(nl, buffer.baseAddress, buffer.count) }
    }

    // MARK: other families (replies: `unix_diag_msg`, `packet_diag_msg`, `netlink_diag_msg` plus attributes)

    /// Sends a `unix_diag` dump request (`AF_UNIX`) for sockets in `states` (a `1 << TCP_*` mask),
    /// asking for the attributes in `show` (`UnixDiagShow`).
    ///
    /// `family` other than `AF_UNIX` sends the same request shape to another family's handler
    /// (`vsock_diag_req` has this layout): a way to ask whether the kernel has that handler at all.
    public func requestUnixDump(states: UInt32, show: UInt32, family: UInt8 = UInt8(AF_UNIX)) throws(SystemError) -> UInt32 {
        try send(type: UInt16(SOCK_DIAG_BY_FAMILY), header: unix_diag_req.self, bytecode: nil) { req in
            req.pointee.sdiag_family = family
            req.pointee.udiag_states = states
            req.pointee.udiag_show = show
        }
    }

    /// Sends a `packet_diag` dump request (`AF_PACKET`), asking for the attributes in `show` (`PacketDiagShow`).
    public func requestPacketDump(show: UInt32) throws(SystemError) -> UInt32 {
        try send(type: UInt16(SOCK_DIAG_BY_FAMILY), header: packet_diag_req.self, bytecode: nil) { req in
            req.pointee.sdiag_family = UInt8(AF_PACKET)
            req.pointee.pdiag_show = show
        }
    }

    /// Sends a `netlink_diag` dump request (`AF_NETLINK`) for sockets of every netlink protocol,
    /// asking for the attributes in `show` (`NetlinkDiagShow`).
    public func requestNetlinkDump(show: UInt32) throws(SystemError) -> UInt32 {
        try send(type: UInt16(SOCK_DIAG_BY_FAMILY), header: netlink_diag_req.self, bytecode: nil) { req in
            req.pointee.sdiag_family = UInt8(AF_NETLINK)
            req.pointee.sdiag_protocol = sockscope_ndiag_proto_all()
            req.pointee.ndiag_show = show
        }
    }
}

/// `udiag_show` bits of <linux/unix_diag.h>.
public enum UnixDiagShow {
    public static let name = UInt32(UDIAG_SHOW_NAME), vfs = UInt32(UDIAG_SHOW_VFS), peer = UInt32(UDIAG_SHOW_PEER)
    public static let icons = UInt32(UDIAG_SHOW_ICONS), rqlen = UInt32(UDIAG_SHOW_RQLEN)
    public static let meminfo = UInt32(UDIAG_SHOW_MEMINFO), uid = UInt32(UDIAG_SHOW_UID)
    /// Everything a listing shows.
    public static let all = name | vfs | peer | icons | rqlen | meminfo | uid
}

/// `pdiag_show` bits of <linux/packet_diag.h>.
public enum PacketDiagShow {
    public static let info = UInt32(PACKET_SHOW_INFO), meminfo = UInt32(PACKET_SHOW_MEMINFO)
    public static let filter = UInt32(PACKET_SHOW_FILTER)
}

/// `ndiag_show` bits of <linux/netlink_diag.h>.
public enum NetlinkDiagShow {
    public static let meminfo = UInt32(NDIAG_SHOW_MEMINFO), groups = UInt32(NDIAG_SHOW_GROUPS)
}

/// The kernel's `struct tcp_info` as it arrived, copied defensively: the kernel's struct may be
/// shorter (an older kernel: `has` is false for later fields) or longer (a newer one: extra bytes
/// are ignored). Raw values only; what they mean (an "infinite" ssthresh, an unset rate) is
/// decided by the collector's decoder.
public struct KernelTCPInfo {
    private var raw = sockscope_tcp_info()

    public init(_ bytes: UnsafeRawBufferPointer) {
        sockscope_tcp_info_decode(bytes.baseAddress, bytes.count, &raw)
    }

    /// The smoothed RTT (microseconds) of the `struct tcp_info` in `bytes` without decoding the
    /// rest; 0 when too short, as `KernelTCPInfo(bytes).rtt` would be.
    public static func rtt(in bytes: UnsafeRawBufferPointer) -> UInt32 {
        sockscope_tcp_info_rtt(bytes.baseAddress, bytes.count)
    }

    /// Fields an older kernel may not send.
    public enum Field {
        case pacingRate, bytesAcked, bytesReceived, deliveryRate, bytesSent, minRTT
        case maxPacingRate, segsOut, segsIn, notsentBytes, dataSegsOut, busyTime, sndbufLimited, delivered
        case deliveredCE, bytesRetrans, reordSeen, rcvOoopack, sndWnd, rcvWnd, rehash

        var shim: sockscope_tcp_info_field {
            switch self {
            case .maxPacingRate: return SOCKSCOPE_TI_MAX_PACING_RATE
            case .segsOut: return SOCKSCOPE_TI_SEGS_OUT
            case .segsIn: return SOCKSCOPE_TI_SEGS_IN
            case .notsentBytes: return SOCKSCOPE_TI_NOTSENT_BYTES
            case .dataSegsOut: return SOCKSCOPE_TI_DATA_SEGS_OUT
            case .busyTime: return SOCKSCOPE_TI_BUSY_TIME
            case .sndbufLimited: return SOCKSCOPE_TI_SNDBUF_LIMITED
            case .delivered: return SOCKSCOPE_TI_DELIVERED
            case .deliveredCE: return SOCKSCOPE_TI_DELIVERED_CE
            case .bytesRetrans: return SOCKSCOPE_TI_BYTES_RETRANS
            case .reordSeen: return SOCKSCOPE_TI_REORD_SEEN
            case .rcvOoopack: return SOCKSCOPE_TI_RCV_OOOPACK
            case .sndWnd: return SOCKSCOPE_TI_SND_WND
            case .rcvWnd: return SOCKSCOPE_TI_RCV_WND
            case .rehash: return SOCKSCOPE_TI_REHASH
            case .pacingRate: return SOCKSCOPE_TI_PACING_RATE
            case .bytesAcked: return SOCKSCOPE_TI_BYTES_ACKED
            case .bytesReceived: return SOCKSCOPE_TI_BYTES_RECEIVED
            case .deliveryRate: return SOCKSCOPE_TI_DELIVERY_RATE
            case .bytesSent: return SOCKSCOPE_TI_BYTES_SENT
            case .minRTT: return SOCKSCOPE_TI_MIN_RTT
            }
        }
    }

    /// True when the kernel's struct reached this field.
    public func has(_ f: Field) -> Bool { Int(raw.present_len) >= sockscope_tcp_info_field_end(f.shim) }

    public var rtt: UInt32 { raw.rtt }
    public var rttvar: UInt32 { raw.rttvar }
    public var rto: UInt32 { raw.rto }
    public var sndMSS: UInt32 { raw.snd_mss }
    public var sndCwnd: UInt32 { raw.snd_cwnd }
    public var sndSsthresh: UInt32 { raw.snd_ssthresh }
    public var unacked: UInt32 { raw.unacked }
    public var retrans: UInt32 { raw.retrans }
    public var totalRetrans: UInt32 { raw.total_retrans }
    public var lost: UInt32 { raw.lost }
    public var lastDataSent: UInt32 { raw.last_data_sent }
    public var lastDataRecv: UInt32 { raw.last_data_recv }
    public var minRTT: UInt32 { raw.min_rtt }
    public var bytesAcked: UInt64 { raw.bytes_acked }
    public var bytesReceived: UInt64 { raw.bytes_received }
    public var bytesSent: UInt64 { raw.bytes_sent }
    public var deliveryRate: UInt64 { raw.delivery_rate }
    public var pacingRate: UInt64 { raw.pacing_rate }
    public var options: UInt8 { raw.options }
    public var sndWscale: UInt8 { raw.snd_wscale }
    public var rcvWscale: UInt8 { raw.rcv_wscale }
    public var backoff: UInt8 { raw.backoff }
    public var deliveryRateAppLimited: Bool { raw.delivery_rate_app_limited != 0 }
    public var ato: UInt32 { raw.ato }
    public var rcvMSS: UInt32 { raw.rcv_mss }
    public var sacked: UInt32 { raw.sacked }
    public var fackets: UInt32 { raw.fackets }
    public var lastAckRecv: UInt32 { raw.last_ack_recv }
    public var pmtu: UInt32 { raw.pmtu }
    public var rcvSsthresh: UInt32 { raw.rcv_ssthresh }
    public var advmss: UInt32 { raw.advmss }
    public var reordering: UInt32 { raw.reordering }
    public var rcvRTT: UInt32 { raw.rcv_rtt }
    public var rcvSpace: UInt32 { raw.rcv_space }
    public var maxPacingRate: UInt64 { raw.max_pacing_rate }
    public var segsOut: UInt32 { raw.segs_out }
    public var segsIn: UInt32 { raw.segs_in }
    public var notsentBytes: UInt32 { raw.notsent_bytes }
    public var dataSegsIn: UInt32 { raw.data_segs_in }
    public var dataSegsOut: UInt32 { raw.data_segs_out }
    public var busyTime: UInt64 { raw.busy_time }
    public var rwndLimited: UInt64 { raw.rwnd_limited }
    public var sndbufLimited: UInt64 { raw.sndbuf_limited }
    public var delivered: UInt32 { raw.delivered }
    public var deliveredCE: UInt32 { raw.delivered_ce }
    public var bytesRetrans: UInt64 { raw.bytes_retrans }
    public var dsackDups: UInt32 { raw.dsack_dups }
    public var reordSeen: UInt32 { raw.reord_seen }
    public var rcvOoopack: UInt32 { raw.rcv_ooopack }
    public var sndWnd: UInt32 { raw.snd_wnd }
    public var rcvWnd: UInt32 { raw.rcv_wnd }
    public var rehash: UInt32 { raw.rehash }
}

/// The sock_diag multicast groups that announce destroyed sockets (`SKNLGRP_*` of <linux/sock_diag.h>).
public enum DestroyGroup {
    public static let inetTCP = UInt32(SKNLGRP_INET_TCP_DESTROY.rawValue)
    public static let inetUDP = UInt32(SKNLGRP_INET_UDP_DESTROY.rawValue)
    public static let inet6TCP = UInt32(SKNLGRP_INET6_TCP_DESTROY.rawValue)
    public static let inet6UDP = UInt32(SKNLGRP_INET6_UDP_DESTROY.rawValue)
}

/// Layout of `struct inet_diag_msg` per the system headers, for tests of the Swift parser.
public enum InetDiagLayout {
    public static var messageSize: Int { sockscope_inet_diag_msg_size() }
    public static var rqueueOffset: Int { sockscope_inet_diag_msg_offset_rqueue() }
    public static var inodeOffset: Int { sockscope_inet_diag_msg_offset_inode() }
    public static var cookieOffset: Int { sockscope_inet_diag_msg_offset_cookie() }
    public static var requestSize: Int { sockscope_inet_diag_req_v2_size() }
    public static var unixMessageSize: Int { sockscope_unix_diag_msg_size() }
    public static var packetMessageSize: Int { sockscope_packet_diag_msg_size() }
    public static var netlinkMessageSize: Int { sockscope_netlink_diag_msg_size() }
}
