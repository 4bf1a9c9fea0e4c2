import Foundation
import Glibc
import SockscopeModel
import TestSupport
import Testing

/// A few hundred loopback sockets this test opens itself, listed by the built binary as
/// `-tuan --json`, `-tuanei --json`, `-tuan` and `-tuanp`, each compared with what the socket
/// calls (`getsockname`, `getpeername`, `fstat`) say it must print: the exact JSON object,
/// key for key in the documented order, and the table row, token for token. The expectation is
/// written here from the sockets, not from any renderer, so it holds whatever the model becomes.
@Suite(.serialized) struct ListingShapeTests {
    struct Own {
        var socket: TestSocket
        var state: String       // kernel spelling
        var ssState: String     // table spelling
        var sendQ: UInt32 = 0   // a listener's backlog over netlink
    }

    /// Listeners on both families, connected pairs through them (IPv4, and IPv4-mapped through a
    /// dual-stack listener), unconnected and connected UDP sockets on both families.
    static func open() throws -> [Own] {
        var own: [Own] = []
        let l4 = try Loopback.tcpListener("127.0.0.1", backlog: 128)
        let l6 = try Loopback.tcpListener("::", backlog: 96, dualStack: true)
        let l6only = try Loopback.tcpListener("::1", backlog: 32)
        own += [Own(socket: l4, state: "LISTEN", ssState: "LISTEN", sendQ: 128),
                Own(socket: l6, state: "LISTEN", ssState: "LISTEN", sendQ: 96),
                Own(socket: l6only, state: "LISTEN", ssState: "LISTEN", sendQ: 32)]
        for (listener, target, count) in [(l4, "127.0.0.1", 50), (l6, "127.0.0.1", 30), (l6only, "::1", 20)] {
            for _ in 0..<count {
                let (c, a) = try Loopback.tcpPair(listener, connectTo: target)
                own += [Own(socket: c, state: "ESTABLISHED", ssState: "ESTAB"), Own(socket: a, state: "ESTABLISHED", ssState: "ESTAB")]
            }
        }
        for address in ["127.0.0.1", "::1"] {
            for _ in 0..<25 {
                let u = try Loopback.udp(address)
                let v = try Loopback.udp(address, connectTo: u.local)
                own += [Own(socket: u, state: "UNCONN", ssState: "UNCONN"), Own(socket: v, state: "ESTABLISHED", ssState: "ESTAB")]
            }
        }
        return own
    }

    static func remote(_ o: Own) -> Endpoint {
        o.state == "LISTEN" || o.state == "UNCONN"
            ? Endpoint(address: o.socket.family == .inet ? .anyIPv4 : .anyIPv6, port: 0) : o.socket.remote
    }

    /// `/etc/services` read here, by its own rule (first name for a port and protocol wins).
    static let services: [String: String] = {
        var out: [String: String] = [:]
        let text = (try? String(contentsOfFile: "/etc/services", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let f = line.prefix { $0 != "#" }.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 2, f[1].contains("/") else { continue }
            if out[String(f[1])] == nil { out[String(f[1])] = String(f[0]) }
        }
        return out
    }()

    static let ephemeral: ClosedRange<UInt16> = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let f = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { UInt16($0) }
        return f.count == 2 ? f[0]...f[1] : 32768...60999
    }()

    /// `{"address":…,"port":…}`, and with `-e` the port's service (when named, and not with `-n`),
    /// class and ephemeral flag.
    static func endpoint(_ e: Endpoint, _ proto: TransportProtocol, annotated: Bool, numeric: Bool = false) -> String {
        var out = #"{"address":"\#(e.address)","port":\#(e.port)"#
        if annotated && e.port != 0 {
            if !numeric, let name = services["\(e.port)/\(proto.rawValue)"] { out += #","service":"\#(name)""# }
            let kind = e.port < 1024 ? "system" : e.port < 49152 ? "registered" : "dynamic"
            out += #","class":"\#(kind)","ephemeral":\#(ephemeral.contains(e.port))"#
        }
        return out + "}"
    }

    /// The object `--json` must print for this socket, up to and including `inode`.
    static func jsonPrefix(_ o: Own, annotated: Bool = false, numeric: Bool = false) -> String {
        let s = o.socket, r = remote(o)
        return #"{"proto":"\#(s.proto.rawValue)","family":"\#(s.family.rawValue)","state":"\#(o.state)","#
            + #""local":\#(endpoint(s.local, s.proto, annotated: annotated, numeric: numeric)),"#
            + #""remote":\#(endpoint(r, s.proto, annotated: annotated, numeric: numeric)),"#
            + #""recv_q":0,"send_q":\#(o.sendQ),"#
            // A netlink TCP listener says its backlog outright (it is also what send_q carries there).
            + (s.proto == .tcp && o.state == "LISTEN" ? #""backlog":\#(o.sendQ),"# : "")
            + #""uid":\#(getuid()),"inode":\#(s.inode)"#
    }

    /// Each line of a `--json` array, without its separator, by the inode it carries.
    static func objects(_ text: String) -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("{") {
            let object = line.hasSuffix(",") ? String(line.dropLast()) : String(line)
            guard let r = object.range(of: #""inode":"#) else { continue }
            let digits = object[r.upperBound...].prefix { $0.isNumber }
            if let inode = UInt64(digits), inode != 0 { out[inode] = object }
        }
        return out
    }

    /// Runs the binary; stderr must be empty except for owners another process keeps from us (`-p`).
    static func run(_ args: [String]) throws -> String {
        let r = try Binary.sockscope(args)
        let quiet = r.stderr.isEmpty || (args.contains("-tuanp") && r.stderrText.hasPrefix("sockscope: some owners could not be read"))
        #expect(r.status == 0 && quiet, "\(args): \(r.stderrText)")
        return r.stdoutText
    }

    @Test func jsonObjectsAreExactlyTheDocumentedShape() throws {
        let own = try Self.open()
        #expect(own.count >= 300)
        let text = try Self.run(["-tuan", "--json"])
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [Any])
        let objects = Self.objects(text)
        for o in own {
            #expect(objects[o.socket.inode] == Self.jsonPrefix(o) + "}", "inode \(o.socket.inode)")
        }
    }

    /// With `-e` each port gains its service, class and ephemeral flag and the object `cookie`, with `-i` TCP's `tcp_info` (keys in the documented
    /// order, the optional ones only where the kernel has them); nothing else moves.
    @Test func extendedJSONAddsOnlyCookieAndTCPInfo() throws {
        let own = try Self.open()
        let objects = Self.objects(try Self.run(["-tuanei", "--json"]))
        let infoKeys = ["rtt_us", "rttvar_us", "rto_us", "mss", "cwnd", "ssthresh", "unacked", "retrans", "total_retrans",
                        "lost", "bytes_acked", "bytes_received", "bytes_sent", "delivery_rate", "pacing_rate",
                        "congestion", "last_send_ms", "last_recv_ms", "min_rtt_us",
                        "options", "snd_wscale", "rcv_wscale", "backoff", "ato_us", "pmtu", "rcv_mss", "advmss", "sacked",
                        "fackets", "reordering", "rcv_rtt_us", "rcv_space", "rcv_ssthresh", "last_ack_ms", "max_pacing_rate",
                        "segs_out", "segs_in", "data_segs_out", "data_segs_in", "notsent_bytes", "busy_time_us",
                        "rwnd_limited_us", "sndbuf_limited_us", "delivered", "delivered_ce", "bytes_retrans", "dsack_dups",
                        "reord_seen", "rcv_ooopack", "snd_wnd", "rcv_wnd", "rehash", "app_limited", "bbr", "dctcp", "vegas"]
        // Newer kernels' fields, and the congestion control's own details.
        let optional: Set = ["ssthresh", "bytes_acked", "bytes_received", "bytes_sent", "delivery_rate", "pacing_rate",
                             "congestion", "min_rtt_us", "max_pacing_rate", "segs_out", "segs_in", "data_segs_out",
                             "data_segs_in", "notsent_bytes", "busy_time_us", "rwnd_limited_us", "sndbuf_limited_us",
                             "delivered", "delivered_ce", "bytes_retrans", "dsack_dups", "reord_seen", "rcv_ooopack",
                             "snd_wnd", "rcv_wnd", "rehash", "bbr", "dctcp", "vegas"]
        for o in own {
            guard let object = objects[o.socket.inode] else { Issue.record("inode \(o.socket.inode) missing"); continue }
            // -n: ports stay numbers, so no `service` key even where /etc/services names the port.
            let prefix = Self.jsonPrefix(o, annotated: true, numeric: true) + #","cookie":"#
            #expect(object.hasPrefix(prefix), "\(object)")
            guard object.hasPrefix(prefix) else { continue }
            var rest = Substring(object.dropFirst(prefix.count))
            let cookie = rest.prefix { $0.isNumber }
            #expect(UInt64(cookie) ?? 0 != 0)
            rest = rest.dropFirst(cookie.count)
            if o.socket.proto == .udp {
                #expect(rest == "}")
                continue
            }
            #expect(rest.hasPrefix(#","tcp_info":{"#) && rest.hasSuffix("}}"), "\(rest)")
            let info = try #require(try JSONSerialization.jsonObject(with: Data(("{" + rest.dropFirst()).utf8)) as? [String: Any])
            let body = try #require(info["tcp_info"] as? [String: Any])
            // The keys as they appear in the text, in order.
            // (Top-level keys only: nested objects such as "bbr":{…} are cut out first, and a key is
            // a quoted string followed by a colon, not a value such as "congestion":"bbr".)
            var flat = String(rest.dropFirst(#","tcp_info":{"#.count))
            while let open = flat.lastIndex(of: "{"), let close = flat[open...].firstIndex(of: "}") {
                flat.replaceSubrange(open...close, with: "0")
            }
            let parts = flat.split(separator: "\"", omittingEmptySubsequences: false)
            let keys = parts.indices.compactMap { i in
                i % 2 == 1 && i + 1 < parts.count && parts[i + 1].hasPrefix(":") && body[String(parts[i])] != nil ? String(parts[i]) : nil
            }
            #expect(keys == infoKeys.filter { body[$0] != nil }, "\(keys)")
            #expect(Set(infoKeys).subtracting(optional).isSubset(of: Set(keys)))
            #expect(body["congestion"] as? String != nil)
        }
    }

    /// `-tuan` and `-tuanp`: one row per socket, the ss columns as ss spells them.
    @Test(arguments: [false, true])
    func tableRowsAreTheSsColumns(processes: Bool) throws {
        let own = try Self.open()
        let comm = try String(contentsOfFile: "/proc/self/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
        let text = try Self.run([processes ? "-tuanp" : "-tuan"])
        let lines = text.split(separator: "\n")
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                == (processes ? "Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process"
                              : "Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port"))
        var rows: [String: [String]] = [:]
        for line in lines.dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count >= 6 else { Issue.record("short row: \(line)"); continue }
            rows[f[0] + " " + f[4] + " " + f[5], default: []].append(line.description)
        }
        func column(_ e: Endpoint) -> String {
            let a = e.address.isIPv6 ? "[\(e.address)]" : e.address.description
            return a + ":" + (e.port == 0 ? "*" : String(e.port))
        }
        for o in own {
            let s = o.socket
            let key = "\(s.proto.rawValue) \(column(s.local)) \(column(Self.remote(o)))"
            let matching = rows[key] ?? []
            #expect(matching.count == 1, "\(key): \(matching)")
            guard let line = matching.first else { continue }
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            #expect(Array(f.prefix(6)) == [s.proto.rawValue, o.ssState, "0", String(o.sendQ), column(s.local), column(Self.remote(o))],
                    "\(line)")
            if processes {
                #expect(f.count == 7 && f[6].hasPrefix("users:((") && f[6].contains("(\"\(comm)\",pid=\(getpid()),fd=\(s.fd))"),
                        "\(line)")
            } else {
                #expect(f.count == 6, "\(line)")
            }
        }
    }
}
