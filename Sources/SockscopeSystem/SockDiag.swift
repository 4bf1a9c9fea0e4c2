import CMnl
import CSockShim
import SockscopeModel
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

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
            throw SystemError("socket(AF_NETLINK, NETLINK_SOCK_DIAG)", errno: Errno(rawValue: Glibc.errno))
        }
        nl = s
        if mnl_socket_bind(s, 0, pid_t(MNL_SOCKET_AUTOPID)) < 0 {
            let e = Glibc.errno
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
    ///   - protocol: `IPPROTO_TCP` or `IPPROTO_UDP`.
    ///   - states: the `idiag_states` bitmask: the kernel skips sockets in other states.
    ///   - extensions: the `idiag_ext` bitmask (`1 << (INET_DIAG_INFO - 1)`, …).
    ///   - bytecode: an `INET_DIAG_REQ_BYTECODE` filter program, or nil.
    public func requestDump(family: UInt8, protocol proto: UInt8, states: UInt32, extensions: UInt8,
                            bytecode: [UInt8]?) throws(SystemError) -> UInt32 {
        try send(type: UInt16(SOCK_DIAG_BY_FAMILY), header: inet_diag_req_v2.self, bytecode: bytecode) { req in
            req.pointee.sdiag_family = family
            req.pointee.sdiag_protocol = proto
            req.pointee.idiag_states = states
            req.pointee.idiag_ext = extensions
        }
    }

    /// Builds one dump request (netlink header, the request struct `Header` filled by `fill`, an
    /// optional bytecode attribute) with libmnl, sends it, and returns its sequence number.
    private func send<Header>(type: UInt16, header: Header.Type, bytecode: [UInt8]?,
                              fill: (UnsafeMutablePointer<Header>) -> Void) throws(SystemError) -> UInt32 {
        let seq = nextSeq
        nextSeq &+= 1
        var buf = [UInt8](repeating: 0, count: 256 + (bytecode?.count ?? 0))
        let sent: Int = buf.withUnsafeMutableBytes { raw in
            let nlh = mnl_nlmsg_put_header(raw.baseAddress)!
            nlh.pointee.nlmsg_type = type
            nlh.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_DUMP)
            nlh.pointee.nlmsg_seq = seq
            fill(mnl_nlmsg_put_extra_header(nlh, MemoryLayout<Header>.size)!.assumingMemoryBound(to: Header.self))
            if let bytecode {
                bytecode.withUnsafeBytes { bc in
                    mnl_attr_put(nlh, UInt16(INET_DIAG_REQ_BYTECODE), bc.count, bc.baseAddress)
                }
            }
            while true {
                let n = mnl_socket_sendto(nl, nlh, Int(nlh.pointee.nlmsg_len))
                if n < 0 && Glibc.errno == EINTR { continue }
                return n
            }
        }
        if sent < 0 { throw SystemError("sendto(sock_diag)", errno: Errno(rawValue: Glibc.errno)) }
        return seq
    }

    /// The underlying file descriptor (for poll).
    public var fileDescriptor: Int32 { mnl_socket_get_fd(nl) }

    /// Joins a sock_diag multicast group (`SKNLGRP_INET_TCP_DESTROY` = 1 … `SKNLGRP_INET6_UDP_DESTROY` = 4):
    /// the kernel then sends an `inet_diag_msg` for every socket of that kind as it is destroyed.
    /// Needs CAP_NET_ADMIN; fails with EPERM without it.
    public func join(group: UInt32) throws(SystemError) {
        var g = group
        if mnl_socket_setsockopt(nl, Int32(NETLINK_ADD_MEMBERSHIP), &g, socklen_t(MemoryLayout<UInt32>.size)) < 0 {
            throw SystemError("setsockopt(NETLINK_ADD_MEMBERSHIP \(group))", errno: Errno(rawValue: Glibc.errno))
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
}

/// Decodes the kernel's `struct tcp_info` bytes defensively: the kernel's struct may be shorter
/// (an older kernel: later fields are nil) or longer (a newer one: extra bytes are ignored).
public func decodeTCPInfo(_ bytes: UnsafeRawBufferPointer) -> TCPInfo {
    var t = sockscope_tcp_info()
    sockscope_tcp_info_decode(bytes.baseAddress, bytes.count, &t)
    func has(_ f: sockscope_tcp_info_field) -> Bool { Int(t.present_len) >= sockscope_tcp_info_field_end(f) }
    var info = TCPInfo(
        rttUs: t.rtt, rttvarUs: t.rttvar, rtoUs: t.rto, mss: t.snd_mss, cwnd: t.snd_cwnd,
        ssthresh: t.snd_ssthresh >= 0x7FFF_FFFF ? nil : t.snd_ssthresh, unacked: t.unacked, retrans: t.retrans,
        totalRetrans: t.total_retrans, lost: t.lost,
        bytesAcked: has(SOCKSCOPE_TI_BYTES_ACKED) ? t.bytes_acked : nil,
        bytesReceived: has(SOCKSCOPE_TI_BYTES_RECEIVED) ? t.bytes_received : nil,
        bytesSent: has(SOCKSCOPE_TI_BYTES_SENT) ? t.bytes_sent : nil,
        deliveryRate: has(SOCKSCOPE_TI_DELIVERY_RATE) ? t.delivery_rate : nil,
        pacingRate: has(SOCKSCOPE_TI_PACING_RATE) && t.pacing_rate != UInt64.max ? t.pacing_rate : nil,
        congestion: nil, lastSendMs: t.last_data_sent, lastRecvMs: t.last_data_recv,
        minRttUs: has(SOCKSCOPE_TI_MIN_RTT) && t.min_rtt != UInt32.max ? t.min_rtt : nil)
    info.options = t.options
    info.sendWscale = t.snd_wscale
    info.recvWscale = t.rcv_wscale
    info.backoff = t.backoff
    info.atoUs = t.ato
    info.pmtu = t.pmtu
    info.recvMss = t.rcv_mss
    info.advmss = t.advmss
    info.sacked = t.sacked
    info.fackets = t.fackets
    info.reordering = t.reordering
    info.recvRttUs = t.rcv_rtt
    info.recvSpace = t.rcv_space
    info.recvSsthresh = t.rcv_ssthresh
    info.lastAckMs = t.last_ack_recv
    if has(SOCKSCOPE_TI_MAX_PACING_RATE) && t.max_pacing_rate != 0 && t.max_pacing_rate != UInt64.max {
        info.maxPacingRate = t.max_pacing_rate
    }
    if has(SOCKSCOPE_TI_SEGS_OUT) { info.segsOut = t.segs_out }
    if has(SOCKSCOPE_TI_SEGS_IN) { info.segsIn = t.segs_in }
    if has(SOCKSCOPE_TI_NOTSENT_BYTES) { info.notsentBytes = t.notsent_bytes }
    if has(SOCKSCOPE_TI_DATA_SEGS_OUT) { info.dataSegsIn = t.data_segs_in; info.dataSegsOut = t.data_segs_out }
    if has(SOCKSCOPE_TI_DELIVERY_RATE) { info.appLimited = t.delivery_rate_app_limited != 0 }
    if has(SOCKSCOPE_TI_BUSY_TIME) { info.busyTimeUs = t.busy_time }
    if has(SOCKSCOPE_TI_SNDBUF_LIMITED) { info.rwndLimitedUs = t.rwnd_limited; info.sndbufLimitedUs = t.sndbuf_limited }
    if has(SOCKSCOPE_TI_DELIVERED) { info.delivered = t.delivered }
    if has(SOCKSCOPE_TI_DELIVERED_CE) { info.deliveredCE = t.delivered_ce }
    if has(SOCKSCOPE_TI_BYTES_RETRANS) { info.bytesRetrans = t.bytes_retrans }
    if has(SOCKSCOPE_TI_REORD_SEEN) { info.dsackDups = t.dsack_dups; info.reordSeen = t.reord_seen }
    if has(SOCKSCOPE_TI_RCV_OOOPACK) { info.recvOutOfOrder = t.rcv_ooopack }
    if has(SOCKSCOPE_TI_SND_WND) { info.sendWindow = t.snd_wnd }
    if has(SOCKSCOPE_TI_RCV_WND) { info.recvWindow = t.rcv_wnd }
    if has(SOCKSCOPE_TI_REHASH) { info.rehash = t.rehash }
    return info
}

/// Layout of `struct inet_diag_msg` per the system headers, for tests of the Swift parser.
public enum InetDiagLayout {
    public static var messageSize: Int { sockscope_inet_diag_msg_size() }
    public static var rqueueOffset: Int { sockscope_inet_diag_msg_offset_rqueue() }
    public static var inodeOffset: Int { sockscope_inet_diag_msg_offset_inode() }
    public static var cookieOffset: Int { sockscope_inet_diag_msg_offset_cookie() }
    public static var requestSize: Int { sockscope_inet_diag_req_v2_size() }
}
