import SockscopeAnalysis
import SockscopeModel
import SockscopeRender

/// Short, fixed-width formatting of the values the live view shows. Everything returned is
/// terminal-safe: untrusted text goes through `Escape.terminal`.
enum Format {
    /// `127.0.0.1:22`, `[::1]:443`, `0.0.0.0:*`, with `%ifname` when bound to a device.
    /// With `name`, a host name it knows replaces the address (escaped: it comes from DNS).
    static func endpoint(_ r: SocketRecord, local: Bool, name: ((IPAddress) -> String?)? = nil) -> String {
        let e = local ? r.local : r.remote
        var out: [UInt8] = []
        out.reserveCapacity(48)
        switch e {
        case .inet: break
        case .unix(let u):
            // As the listing shows it: the name escaped (`@name` abstract, `*` unnamed), then the inode.
            switch r.unixEndName(local: local) {
            case .path(let p): Escape.terminal(p, to: &out)
            case .abstract(let a): out.append(UInt8(ascii: "@")); Escape.terminal(a, to: &out)
            case .unnamed: out.append(UInt8(ascii: "*"))
            }
            out.append(0x20)
            appendDecimal(u.inode, to: &out)
            return String(decoding: out, as: UTF8.self)
        case .packet(let p):
            if !local { return "*" }
            out.append(contentsOf: (FamilyNames.ethertype(p.protocolNumber) ?? "0x" + String(p.protocolNumber, radix: 16)).utf8)
            out.append(UInt8(ascii: ":"))
            Escape.terminal(r.rawInterface ?? Array((p.interfaceIndex == 0 ? "*" : String(p.interfaceIndex)).utf8), to: &out)
            return String(decoding: out, as: UTF8.self)
        case .netlink(let n):
            out.append(contentsOf: (FamilyNames.netlink(n.protocolNumber) ?? String(n.protocolNumber)).utf8)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: (n.portID == 0 ? (local ? "kernel" : "*") : String(n.portID)).utf8)
            return String(decoding: out, as: UTF8.self)
        }
        if let name, !e.address.isUnspecified, let n = name(e.address) {
            Escape.terminal(Array(n.utf8), limit: Escape.cellLimit, to: &out)
        } else {
            if e.address.isIPv6 { out.append(UInt8(ascii: "[")) }
            e.address.write(to: &out)
            if e.address.isIPv6 { out.append(UInt8(ascii: "]")) }
        }
        if local && r.interfaceIndex != 0 {
            out.append(UInt8(ascii: "%"))
            Escape.terminal(r.interfaceLabelBytes, limit: Escape.cellLimit, to: &out)
        }
        out.append(UInt8(ascii: ":"))
        if e.port == 0 { out.append(UInt8(ascii: "*")) } else { appendDecimal(UInt64(e.port), to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The service a row is about: the local port for a listener or unconnected socket, else the
    /// remote port's service when known, else the local port's.
    static func service(_ r: SocketRecord, _ services: ServiceTable) -> String {
        guard let name = services.rawName(describing: r) else { return "" }
        var out: [UInt8] = []
        Escape.terminal(name, limit: Escape.cellLimit, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `1234/nginx`, `+2` more when several processes share the socket; empty when unknown.
    static func owner(_ r: SocketRecord) -> String { InsightText.owner(r) }

    /// Bytes per second in at most 5 columns: `0`, `812`, `1.2K`, `34K`, `5.6M`, `1.1G`; `-` when unknown.
    static func rate(_ v: Double?) -> String {
        guard let v, v.isFinite, v >= 0 else { return "-" }
        return scaled(v)
    }

    static func scaled(_ v: Double) -> String {
        if v < 999.5 { return String(Int(v.rounded())) }
        let units: [(Double, String)] = [(1e3, "K"), (1e6, "M"), (1e9, "G"), (1e12, "T")]
        for (i, (scale, unit)) in units.enumerated() {
            let x = v / scale
            if x < 9.95 { return oneDecimal(x) + unit }
            if x < 999.5 || i == units.count - 1 { return String(Int(min(x, 999).rounded())) + unit }
        }
        return "-"
    }

    /// A number with one decimal, rounded (no Foundation formatting).
    static func oneDecimal(_ x: Double) -> String {
        let tenths = Int((x * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// Round-trip time from microseconds: `0.052ms`, `1.23ms`, `12.3ms`, `123ms`, `1.2s`.
    static func rtt(_ us: UInt32) -> String {
        let ms = Double(us) / 1000
        if us < 1000 {
            let s = String(us)
            return "0." + String(repeating: "0", count: max(0, 3 - s.count)) + s + "ms"
        }
        if ms < 10 {
            let h = Int((ms * 100).rounded())
            let frac = h % 100
            return "\(h / 100).\(frac < 10 ? "0" : "")\(frac)ms"
        }
        if ms < 100 { return oneDecimal(ms) + "ms" }
        if ms < 1000 { return "\(Int(ms.rounded()))ms" }
        return oneDecimal(ms / 1000) + "s"
    }

    /// Microseconds as milliseconds with three decimals, as `ss` prints them.
    static func milliseconds(_ us: UInt32) -> String {
        let frac = us % 1000
        return "\(us / 1000)." + (frac < 10 ? "00" : frac < 100 ? "0" : "") + "\(frac)"
    }

    /// An age in at most 6 columns: `42s`, `12m05s`, `3h07m`, `12d04h`.
    /// A socket's age column: `>2s` for one already open when the view started (its real age is
    /// unknown, only that it is more than this), the plain age otherwise. ASCII, as the rest of
    /// the view: a terminal without a UTF-8 locale draws it too.
    static func age(of s: TrackedSocket, at now: Double) -> String {
        (s.presentAtStart ? ">" : "") + age(s.age(at: now))
    }

    static func age(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "-" }
        let s = Int(max(0, seconds))
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(two(s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(two(s / 60 % 60))m" }
        return "\(min(s / 86400, 999))d\(two(s / 3600 % 24))h"
    }

    /// An interval: `1s`, `0.5s`, `2m`.
    static func interval(_ v: Double) -> String {
        if v >= 60 && v.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(v / 60))m" }
        if v == v.rounded() { return "\(Int(v))s" }
        let hundredths = Int((v * 100).rounded())
        var s = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
        while s.last == "0" { s.removeLast() }
        return s + "s"
    }
}
