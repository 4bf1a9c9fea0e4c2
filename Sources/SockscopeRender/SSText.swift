import SockscopeModel

/// The text `ss` prints for a socket's TCP internals (`-i`) and timer (`-o`), field for field, in its
/// order, units and number formats, so that anything that reads `ss -ti` reads sockscope's line.
public enum SSText {
    /// The fields of `ss -i`, each with its leading space (the line itself starts with a tab).
    ///
    /// - Parameters:
    ///   - listening: the socket listens (ss leaves `sacked` out then).
    ///   - options: `-o` was given: ss shows the negotiated options (`ts sack ecn ...`) only then.
    ///   - numeric: `-n`: rates as exact bits per second, otherwise with a k/M/G/T unit and 3 digits.
    public static func info(_ t: borrowing TCPInfo, listening: Bool, options: Bool, numeric: Bool, to out: inout [UInt8]) {
        // Room for the line, growing geometrically: `out` may be a whole table's cells, and an exact
        // reserve per row would copy it every row.
        if out.capacity - out.count < 1024 { out.reserveCapacity(max(out.capacity * 2, out.count + 1024)) }
        // Appended as a typed buffer: Array's contiguous fast path (a raw buffer took the generic one).
        func key(_ k: StaticString) {
            out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        }
        func num<T: BinaryInteger>(_ k: StaticString, _ v: T) { key(k); appendDecimal(UInt64(v), to: &out) }
        func numIf<T: BinaryInteger>(_ k: StaticString, _ v: T?) { if let v, v != 0 { num(k, v) } }
        func g(_ d: Double) { Printf.g(d, to: &out) }
        func ms(_ k: StaticString, _ us: UInt32) { key(k); Printf.milliseconds(us, to: &out) }
        func bw(_ bitsPerSecond: Double) { rate(bitsPerSecond, numeric: numeric, to: &out) }

        if options {
            if t.options & TCPInfo.optionTimestamps != 0 { key(" ts") }
            if t.options & TCPInfo.optionUsecTimestamps != 0 { key(" usec_ts") }
            if t.options & TCPInfo.optionSACK != 0 { key(" sack") }
            if t.options & TCPInfo.optionECN != 0 { key(" ecn") }
            if t.options & TCPInfo.optionECNSeen != 0 { key(" ecnseen") }
            if t.options & TCPInfo.optionSynData != 0 { key(" fastopen") }
        }
        if let c = t.congestion, !c.isEmpty {
            out.append(0x20)
            // Algorithm names are short printable ASCII; anything else goes through the escaper.
            if c.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) {
                out.append(contentsOf: c.utf8)
            } else {
                Escape.terminal(c.utf8, to: &out)
            }
        }
        if t.options & TCPInfo.optionWscale != 0 {
            num(" wscale:", t.sendWscale); out.append(UInt8(ascii: ",")); appendDecimal(UInt64(t.recvWscale), to: &out)
        }
        // 3 s is the kernel's initial RTO before any sample: ss leaves it out.
        if t.rtoUs != 0 && t.rtoUs != 3_000_000 { ms(" rto:", t.rtoUs) }
        if t.backoff != 0 { num(" backoff:", t.backoff) }
        if t.rttUs != 0 { ms(" rtt:", t.rttUs); out.append(UInt8(ascii: "/")); Printf.milliseconds(t.rttvarUs, to: &out) }
        if t.atoUs != 0 { ms(" ato:", t.atoUs) }
        if t.mss != 0 { num(" mss:", t.mss) }
        if t.pmtu != 0 { num(" pmtu:", t.pmtu) }
        if t.recvMss != 0 { num(" rcvmss:", t.recvMss) }
        if t.advmss != 0 { num(" advmss:", t.advmss) }
        if t.cwnd != 0 { num(" cwnd:", t.cwnd) }
        // ss shows ssthresh only below 0xFFFF (larger is "still infinite" in practice).
        if let s = t.ssthresh, s != 0, s < 0xFFFF { num(" ssthresh:", s) }
        numIf(" bytes_sent:", t.bytesSent)
        numIf(" bytes_retrans:", t.bytesRetrans)
        numIf(" bytes_acked:", t.bytesAcked)
        numIf(" bytes_received:", t.bytesReceived)
        numIf(" segs_out:", t.segsOut)
        numIf(" segs_in:", t.segsIn)
        numIf(" data_segs_out:", t.dataSegsOut)
        numIf(" data_segs_in:", t.dataSegsIn)
        if let d = t.dctcp {
            if d.enabled {
                num(" dctcp:(ce_state:", d.ceState); num(",alpha:", d.alpha); num(",ab_ecn:", d.abECN)
                num(",ab_tot:", d.abTotal); out.append(UInt8(ascii: ")"))
            } else {
                key(" dctcp:fallback_mode")
            }
        }
        if let b = t.bbr {
            key(" bbr:(bw:"); bw(Double(b.bandwidth) * 8); key("bps,mrtt:"); Printf.milliseconds(b.minRttUs, to: &out)
            if b.pacingGain != 0 { key(",pacing_gain:"); g(Double(b.pacingGain) / 256) }
            if b.cwndGain != 0 { key(",cwnd_gain:"); g(Double(b.cwndGain) / 256) }
            out.append(UInt8(ascii: ")"))
        }
        if let send = t.sendRate { key(" send "); bw(send); key("bps") }
        if t.lastSendMs != 0 { num(" lastsnd:", t.lastSendMs) }
        if t.lastRecvMs != 0 { num(" lastrcv:", t.lastRecvMs) }
        if t.lastAckMs != 0 { num(" lastack:", t.lastAckMs) }
        if let p = t.pacingRate, p != 0 {
            key(" pacing_rate "); bw(Double(p) * 8); key("bps")
            if let m = t.maxPacingRate { out.append(UInt8(ascii: "/")); bw(Double(m) * 8); key("bps") }
        }
        if let d = t.deliveryRate, d != 0 { key(" delivery_rate "); bw(Double(d) * 8); key("bps") }
        numIf(" delivered:", t.delivered)
        numIf(" delivered_ce:", t.deliveredCE)
        if t.appLimited { key(" app_limited") }
        if let busy = t.busyTimeUs, busy != 0 {
            num(" busy:", busy / 1000); key("ms")
            func limited(_ k: StaticString, _ v: UInt64?) {
                guard let v, v != 0 else { return }
                num(k, v / 1000); key("ms(")
                Printf.fixed(100.0 * Double(v) / Double(busy), decimals: 1, to: &out); key("%)")
            }
            limited(" rwnd_limited:", t.rwndLimitedUs)
            limited(" sndbuf_limited:", t.sndbufLimitedUs)
        }
        if t.unacked != 0 { num(" unacked:", t.unacked) }
        if t.retrans != 0 || t.totalRetrans != 0 {
            num(" retrans:", t.retrans); out.append(UInt8(ascii: "/")); appendDecimal(UInt64(t.totalRetrans), to: &out)
        }
        if t.lost != 0 { num(" lost:", t.lost) }
        if t.sacked != 0 && !listening { num(" sacked:", t.sacked) }
        numIf(" dsack_dups:", t.dsackDups)
        if t.fackets != 0 { num(" fackets:", t.fackets) }
        if t.reordering != 3 { num(" reordering:", t.reordering) }
        numIf(" reord_seen:", t.reordSeen)
        if t.recvRttUs != 0 { ms(" rcv_rtt:", t.recvRttUs) }
        if t.recvSpace != 0 { num(" rcv_space:", t.recvSpace) }
        if t.recvSsthresh != 0 { num(" rcv_ssthresh:", t.recvSsthresh) }
        numIf(" notsent:", t.notsentBytes)
        if let m = t.minRttUs, m != 0 { ms(" minrtt:", m) }
        numIf(" rcv_ooopack:", t.recvOutOfOrder)
        numIf(" snd_wnd:", t.sendWindow)
        numIf(" rcv_wnd:", t.recvWindow)
        numIf(" rehash:", t.rehash)
    }

    /// A rate as ss's `sprint_bw` shows it: exact with `-n`, else three significant digits and a unit.
    public static func rate(_ bitsPerSecond: Double, numeric: Bool, to out: inout [UInt8]) {
        if numeric { Printf.fixed(bitsPerSecond, decimals: 0, to: &out); return }
        let (scale, unit): (Double, UInt8) = bitsPerSecond >= 1e12 ? (1e12, UInt8(ascii: "T"))
            : bitsPerSecond >= 1e9 ? (1e9, UInt8(ascii: "G")) : bitsPerSecond >= 1e6 ? (1e6, UInt8(ascii: "M"))
            : bitsPerSecond >= 1e3 ? (1e3, UInt8(ascii: "k")) : (1, 0)
        if unit == 0 { Printf.g(bitsPerSecond, to: &out); return }
        Printf.g(bitsPerSecond / scale, precision: 3, to: &out)
        out.append(unit)
    }

    /// ` timer:(keepalive,119min,0)`, as `ss -o` prints a socket's pending timer; nothing when there is none.
    public static func timer(_ t: SocketTimer, to out: inout [UInt8]) {
        out.append(contentsOf: " timer:(".utf8)
        out.append(contentsOf: t.kind.name.utf8)
        out.append(UInt8(ascii: ","))
        duration(milliseconds: t.expiresMs, to: &out)
        out.append(UInt8(ascii: ","))
        appendDecimal(UInt64(t.retransmits), to: &out)
        out.append(UInt8(ascii: ")"))
    }

    /// ss's short duration: `119min`, `59sec`, `1.500sec`, `200ms`; coarser units drop the finer
    /// ones (minutes drop milliseconds, and seconds too from ten minutes; ten seconds drop milliseconds).
    public static func duration(milliseconds: UInt32, to out: inout [UInt8]) {
        var ms = milliseconds % 1000
        var secs = milliseconds / 1000
        let minutes = secs / 60
        secs %= 60
        if minutes != 0 {
            ms = 0
            appendDecimal(UInt64(minutes), to: &out); out.append(contentsOf: "min".utf8)
            if minutes > 9 { secs = 0 }
        }
        if secs != 0 {
            if secs > 9 { ms = 0 }
            appendDecimal(UInt64(secs), to: &out)
            out.append(contentsOf: (ms != 0 ? "." : "sec").utf8)
        }
        if ms != 0 {
            Printf.digits(UInt64(ms), count: 3, to: &out)
            out.append(contentsOf: (secs != 0 ? "sec" : "ms").utf8)
        }
    }
}

extension SSText {
    /// `tcp 127.0.0.1:8080 -> [::1]:5000` (addresses numeric, ports as numbers), for messages.
    public static func name(_ r: SocketRecord) -> String {
        func end(_ e: SocketEndpoint) -> String {
            guard let inet = e.inet else { return "?" }
            let a = inet.address.description
            return (inet.address.isIPv6 ? "[\(a)]" : a) + ":\(inet.port)"
        }
        return "\(r.proto.rawValue) \(end(r.local)) -> \(end(r.remote))"
    }
}

extension TCPInfo {
    /// The rate ss shows as `send`: cwnd × mss per RTT, in bits per second (from Vegas's RTT sample
    /// when the algorithm keeps one), computed in ss's order so the double is the same.
    public var sendRate: Double? {
        var rtt = Double(rttUs)
        if let v = vegas, v.enabled, v.rttUs != 0, v.rttUs != 0x7FFF_FFFF { rtt = Double(v.rttUs) }
        guard rtt > 0, mss != 0, cwnd != 0 else { return nil }
        return Double(cwnd) * Double(mss) * 8_000_000.0 / rtt
    }
}
