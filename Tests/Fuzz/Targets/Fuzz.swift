// libFuzzer targets for the parsers that read untrusted bytes.
//
// Built only by `.ci/fuzz` (the product exists only when SOCKSCOPE_FUZZ is set, see Package.swift),
// with `-sanitize=fuzzer -D SOCKSCOPE_FUZZING`: libFuzzer then supplies `main` and calls
// `LLVMFuzzerTestOneInput`. Which parser is fuzzed comes from `SOCKSCOPE_FUZZ_TARGET`, so one
// binary (one build, which is most of the cost on a small CI machine) serves every target.
//
// Each target checks more than "does not trap": the properties below are the ones a parser
// must keep for any input, and a violation is reported as a crash so libFuzzer saves the input.
import SockscopeCollect
import SockscopeExporterCore
import SockscopeFilter
import SockscopeModel
import SockscopeRender
#if canImport(Glibc)
import Glibc
#endif

/// The fuzz targets by name (the corpus directories under Tests/Fuzz/Corpus have the same names).
enum FuzzTarget: String, CaseIterable {
    /// `/proc/net/{tcp,tcp6,udp,udp6}` text, through every protocol/family parser.
    case proc
    /// One netlink receive buffer of sock_diag replies, with attribute decoding on.
    case netlink
    /// `--port`/`--sport`/`--dport` lists and `--state` lists, and the bytecode compiled from a port list.
    case filter
    /// `/proc/PID/stat` (and the other per-process files the owner scan reads).
    case stat
    /// The metrics exposition: process names and other untrusted bytes as label values and HELP text.
    case metrics
    /// `/proc/net/sockstat` and `sockstat6`, and the socket estimate made from them.
    case sockstat
    /// `/proc/net/netstat` and `/proc/net/snmp` (header line, value line, per section).
    case netstat
    /// `/etc/services`.
    case services
    /// `/proc/PID/cgroup`, and the unit and container found in its path.
    case cgroup
    /// A `--from-dump` file (`-D`/`ss -D`): sections of sock_diag replies, each ended by NLMSG_DONE.
    case dump
    /// What the exporter reads from a request: `Accept`, the scrape-timeout header, `Authorization`.
    case request
    /// The other families: one netlink buffer through the unix_diag, packet_diag and netlink_diag
    /// parsers, and the same bytes as /proc/net/unix, packet and netlink text.
    case families

    static let selected: FuzzTarget = {
        guard let name = getenv("SOCKSCOPE_FUZZ_TARGET").map({ String(cString: $0) }) else {
            fatalError("set SOCKSCOPE_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
        }
        guard let t = FuzzTarget(rawValue: name) else { fatalError("unknown fuzz target '\(name)'") }
        return t
    }()
}

/// Fails the run (libFuzzer saves the input) when a property does not hold.
@inline(__always)
func require(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { fatalError("property violated: \(what())") }
}

func fuzzProc(_ bytes: UnsafeRawBufferPointer) {
    // Lines = newlines, plus one for a last line without one.
    var lines = 0
    for b in bytes where b == 0x0A { lines += 1 }
    if bytes.last != nil && bytes.last != 0x0A { lines += 1 }
    for proto in [TransportProtocol.tcp, .udp] {
        for family in AddressFamily.ip {
            var records = 0, bad = 0
            ProcNetParser(proto: proto, family: family).parse(bytes, emit: { r in
                records += 1
                require(r.proto == proto && r.family == family, "record of another kind")
            }, malformed: { m in
                bad += 1
                require(m.line >= 1 && m.line <= lines, "malformed line number \(m.line) of \(lines)")
            })
            require(records + bad <= lines, "\(records) records + \(bad) malformed from \(lines) lines")
        }
    }
}

func fuzzNetlink(_ bytes: UnsafeRawBufferPointer) {
    for proto in [TransportProtocol.tcp, .udp, .raw, .mptcp, .sctp] {
        var parser = InetDiagParser(proto: proto, sequence: nil, decodeInfo: true, decodeMemory: true)
        var count = 0
        do {
            _ = try parser.parse(bytes) { r in
                count += 1
                require(r.proto == proto, "record of another protocol")
            }
        } catch {
            _ = error.description  // every error can be described (strerror of any errno)
        }
        // A record is at least a header and an inet_diag_msg.
        require(count <= bytes.count / (16 + 72), "\(count) records from \(bytes.count) bytes")
    }
}

func fuzzFamilies(_ bytes: UnsafeRawBufferPointer) {
    // The smallest reply of each: a netlink header and the fixed message.
    func check(_ count: Int, _ messageSize: Int, _ what: String) {
        require(count <= bytes.count / (16 + messageSize), "\(count) \(what) records from \(bytes.count) bytes")
    }
    var unix = UnixDiagParser(decodeMemory: true), n = 0
    do { _ = try unix.parse(bytes) { e in n += 1; _ = e.name.bytes } } catch { _ = error.description }
    check(n, 16, "unix_diag")
    var packet = PacketDiagParser(decodeMemory: true)
    n = 0
    do { _ = try packet.parse(bytes) { e in n += 1; require((e.filter?.count ?? 0) <= bytes.count / 8, "filter longer than its bytes") } } catch { _ = error.description }
    check(n, 16, "packet_diag")
    var netlink = NetlinkDiagParser(decodeMemory: true)
    n = 0
    do { _ = try netlink.parse(bytes) { _ in n += 1 } } catch { _ = error.description }
    check(n, 28, "netlink_diag")
    let text = Array(bytes)
    var lines = 0
    for b in text where b == 0x0A { lines += 1 }
    if let last = text.last, last != 0x0A { lines += 1 }
    let u = ProcUnixParser.parse(text), p = ProcPacketParser.parse(text), l = ProcNetlinkParser.parse(text)
    require(u.entries.count + u.malformed.count <= lines, "unix: more records than lines")
    require(p.entries.count + p.malformed.count <= lines, "packet: more records than lines")
    require(l.entries.count + l.malformed.count <= lines, "netlink: more records than lines")
}

func fuzzFilter(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? StateSet(parsing: text)
    // The expression language: any text parses or fails with a message; a parsed tree prints to
    // text that parses back to it, and compiles to a program the kernel's auditor accepts.
    let env = FilterEnvironment(services: { ["https": [443], "ssh": [22]][$0] ?? [] }, interfaceIndex: { $0 == "lo" ? 1 : nil })
    if let f = try? FilterParser.parse([text], environment: env) {
        require((try? FilterParser.parse([f.text], environment: env))?.expression == f.expression, "'\(f.text)' does not round-trip")
        if let code = InetDiagBytecode.plan(f.expression).bytecode {
            require(InetDiagBytecode.audit(code, netAdmin: true) == .accepted, "audit rejects the program for '\(f.text)'")
        }
    }
    let names: [String: Set<UInt16>] = ["https": [443], "ssh": [22], "domain": [53, 853]]
    guard let spec = try? PortSpec(parsing: text, resolve: { names[$0] ?? [] }) else { return }
    // The canonical form parses back to the same set.
    require((try? PortSpec(parsing: spec.description)) == spec, "'\(spec)' does not round-trip")
    // The kernel bytecode for it passes the kernel's audit and agrees with the userspace filter.
    for filter in [PortFilter(source: spec), PortFilter(destination: spec), PortFilter(either: spec)] {
        guard let code = InetDiagBytecode.plan(filter.filterExpression).bytecode else { continue }
        require(InetDiagBytecode.audit(code), "audit rejects the program for '\(spec)'")
        var probes: [UInt16] = [0, 1, 22, 443, 65534, 65535]
        for r in spec.ranges.prefix(8) {
            probes += [r.lowerBound, r.upperBound, r.lowerBound &- 1, r.upperBound &+ 1]
        }
        for s in probes {
            for d in probes.prefix(6) {
                let entry = KernelEntry(family: .inet, source: .anyIPv4, destination: .anyIPv4, sourcePort: s, destinationPort: d)
                require(InetDiagBytecode.run(code, entry: entry)
                        == filter.matches(localPort: s, remotePort: d), "bytecode disagrees for '\(spec)' at \(s)->\(d)")
            }
        }
    }
}

func fuzzStat(_ bytes: UnsafeRawBufferPointer) {
    if let s = ProcStatParser.parse(bytes) {
        require(s.name.count < bytes.count, "name longer than the line")
        require(s.pid >= 0 && s.ppid >= 0 && s.threads >= 0, "negative number")
    }
    _ = ProcCommParser.parse(bytes)
    _ = ProcStatusParser.uids(bytes)
    _ = CgroupParser.parse(bytes)
}

/// Label values from arbitrary bytes (split at NUL, as names could be), in both formats: the payload
/// is valid UTF-8, has exactly one line per header and sample (no byte splits a line), and no raw
/// control character but the line ends.
func fuzzMetrics(_ bytes: UnsafeRawBufferPointer) {
    let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
    let values = parts.map { MetricsWriter.labelValue(bytes: $0) }
    require(Set(values).count == Set(parts.map { Array($0) }).count, "two names share a label value")
    // Names through labelValue: inert. Raw strings (decoded, but with their controls): still one line each.
    let safe = MetricFamily("sockscope_fuzz", .gauge, help: "comm",
                            samples: values.enumerated().map { MetricSample([MetricLabel("comm", $0.element)], Double($0.offset)) })
    let raw = MetricFamily("sockscope_raw", .counter, help: String(decoding: parts.first.map { Array($0) } ?? [], as: UTF8.self),
                           samples: parts.map { MetricSample([MetricLabel("v", String(decoding: $0, as: UTF8.self))], 1) })
    for format in [ExpositionFormat.prometheusText, .openMetrics] {
        for (f, inert) in [(safe, true), (raw, false)] {
            let out = MetricsWriter.write([f], format: format)
            require(String(validating: out, as: UTF8.self) != nil, "invalid UTF-8")
            // HELP, TYPE, the samples, # EOF, and the empty piece after the last newline.
            let lines = out.split(separator: 0x0A, omittingEmptySubsequences: false).count
            let expected = 2 + parts.count + (format == .openMetrics ? 1 : 0) + 1
            require(lines == expected, "\(lines) lines, expected \(expected)")
            if inert { for b in out where b < 0x20 && b != 0x0A { require(false, "raw control byte \(b)") } }
        }
    }
}

func fuzzSockstat(_ bytes: UnsafeRawBufferPointer) {
    let table = SockstatParser.parse(Array(bytes))
    let all = Set(TransportProtocol.allCases)
    let n = SockstatParser.estimate(v4: table, v6: table, protocols: all)
    require(n >= 0 && n <= SockstatParser.maxEstimate, "estimate \(n) out of range")
    require(table.count <= bytes.count / 2, "\(table.count) sections from \(bytes.count) bytes")
}

func fuzzNetstat(_ bytes: UnsafeRawBufferPointer) {
    let input = Array(bytes)
    let sections = NetstatParser.parse(input)
    var lines = 1
    for b in input where b == 0x0A { lines += 1 }
    // A section needs a header line and a value line.
    require(sections.count <= lines / 2, "\(sections.count) sections from \(lines) lines")
    if String(validating: input, as: UTF8.self) != nil {
        let text = String(decoding: input, as: UTF8.self)
        for (section, fields) in sections {
            require(text.contains(section + ":"), "section '\(section)' is not in the input")
            for name in fields.keys { require(text.contains(name), "counter '\(name)' is not in the input") }
        }
    }
    _ = NetstatParser.listenCounters(input)
}

func fuzzServices(_ bytes: UnsafeRawBufferPointer) {
    let input = Array(bytes)
    let table = ServicesParser.parse(input)
    // Probe the ports the input could name: every run of up to 5 digits.
    var ports = Set<UInt16>(), value = 0, digits = 0
    for b in input + [0x20] {
        if (0x30...0x39).contains(b) && digits < 6 {
            value = value * 10 + Int(b - 0x30); digits += 1
        } else {
            if digits > 0 && value <= 65535 { ports.insert(UInt16(value)) }
            value = 0; digits = 0
        }
    }
    for port in ports.prefix(16) {
        for proto in TransportProtocol.allCases {
            guard let raw = table.rawName(port: port, proto: proto) else { continue }
            require(!raw.isEmpty, "empty service name for \(port)")
            require(!raw.contains { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == UInt8(ascii: "#") },
                    "service name with a separator for \(port)")
            require(input.firstRange(of: raw) != nil, "service name for \(port) is not in the input")
            if let name = table.name(port: port, proto: proto) {
                require(table.port(named: name, proto: proto) != nil, "'\(name)' does not resolve back")
            }
        }
    }
}

func fuzzCgroup(_ bytes: UnsafeRawBufferPointer) {
    guard let info = CgroupParser.parse(bytes) else { return }
    require(!info.path.isEmpty, "empty cgroup path")
    let components = info.path.split(separator: "/").map(String.init)
    if let unit = info.unit { require(components.contains(unit), "unit '\(unit)' is not a path component") }
    if let c = info.container {
        require(c.utf8.count == 64 && c.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) },
                "container id '\(c)' is not 64 hex digits")
        require(info.path.contains(c), "container id is not in the path")
    }
}

/// Never partial data as complete: a file read whole loses that status when cut anywhere inside
/// its last message, and what it holds fits in its bytes.
func fuzzDump(_ bytes: UnsafeRawBufferPointer) {
    let input = Array(bytes)
    guard let contents = try? DumpFile.read(input) else { return }
    // A section is at least its NLMSG_DONE (a header), a record a header and an inet_diag_msg.
    let sections = contents.sections.values.reduce(0, +)
    require(sections * 16 + contents.records.count * (16 + 72) <= input.count,
            "\(sections) sections and \(contents.records.count) records from \(input.count) bytes")
    // The last message's end by its header (the padding after it may be missing: nothing is lost then).
    var start = 0, last = 0, end = 0
    while start + 16 <= input.count {
        let len = Int(input[start]) | Int(input[start + 1]) << 8 | Int(input[start + 2]) << 16 | Int(input[start + 3]) << 24
        last = start
        end = start + len
        start += (len + 3) & ~3
    }
    // Cut inside that message (a cut before it can leave whole sections, which is a complete file).
    for keep in [end - 1, end - 2, end - 4, end - 16] where keep > last {
        require((try? DumpFile.read(Array(input.prefix(keep)))) == nil, "the file cut to \(keep) of \(input.count) bytes reads as complete")
    }
    for proto in contents.sections.keys {
        require(DumpFile.select(contents, Query(protocols: [proto], states: .all)).allSatisfy { $0.proto == proto },
                "selection by protocol")
    }
}

/// The request headers, split from the input at NUL: every header value gives an answer in range,
/// and the answer does not depend on the order of `Accept` ranges or on ranges refused with q=0.
func fuzzRequest(_ bytes: UnsafeRawBufferPointer) {
    let parts = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    let accept = parts[0], timeout = parts.count > 1 ? parts[1] : "", authorization = parts.count > 2 ? parts[2] : accept
    let format = ExpositionFormat.negotiate(accept: accept)
    let ranges = accept.split(separator: ",", omittingEmptySubsequences: false)
    require(ExpositionFormat.negotiate(accept: ranges.reversed().joined(separator: ",")) == format, "Accept order matters: '\(accept)'")
    require(ExpositionFormat.negotiate(accept: accept + ",application/openmetrics-text;q=0") == format, "a q=0 range counts: '\(accept)'")
    if format == .openMetrics { require(accept.lowercased().contains("application/openmetrics-text"), "OpenMetrics for '\(accept)'") }
    for limit in [0.05, 1, 10, 120] {
        let d = ScrapeRequest.deadline(header: timeout, limit: limit)
        require(d.isFinite && d > 0 && d <= limit, "deadline \(d) for '\(timeout)' under \(limit)")
        if let t = Double(timeout), t.isFinite, t >= 0.05 { require(d <= t, "deadline \(d) past the client's \(t)") }
    }
    guard let (user, password) = ScrapeRequest.basicCredentials(authorization: authorization) else { return }
    require(!user.utf8.contains(UInt8(ascii: ":")), "user '\(user)' holds a colon")
    require(authorization.utf8.count < ScrapeRequest.maxAuthorizationBytes, "an over-long value accepted")
    // What was read encodes back to a value that reads the same.
    let encoded = base64(Array((user + ":" + password).utf8))
    let again = ScrapeRequest.basicCredentials(authorization: "Basic " + encoded)
    require(again?.user == user && again?.password == password, "'\(authorization)' does not round-trip")
}

/// RFC 4648 base64 with padding, written here so the property does not check the decoder against itself.
func base64(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
        let n = min(3, bytes.count - i)
        var v = 0
        for k in 0..<3 { v = v << 8 | (k < n ? Int(bytes[i + k]) : 0) }
        for k in 0..<4 { out.append(k <= n ? alphabet[(v >> (18 - 6 * k)) & 63] : UInt8(ascii: "=")) }
        i += 3
    }
    return String(decoding: out, as: UTF8.self)
}

/// The one switch from a target to its function.
func fuzz(_ target: FuzzTarget, _ bytes: UnsafeRawBufferPointer) {
    switch target {
    case .proc: fuzzProc(bytes)
    case .netlink: fuzzNetlink(bytes)
    case .filter: fuzzFilter(bytes)
    case .stat: fuzzStat(bytes)
    case .metrics: fuzzMetrics(bytes)
    case .sockstat: fuzzSockstat(bytes)
    case .netstat: fuzzNetstat(bytes)
    case .services: fuzzServices(bytes)
    case .cgroup: fuzzCgroup(bytes)
    case .dump: fuzzDump(bytes)
    case .request: fuzzRequest(bytes)
    case .families: fuzzFamilies(bytes)
    }
}

#if SOCKSCOPE_FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    fuzz(FuzzTarget.selected, bytes)
    return 0
}

/// libFuzzer's driver (in the runtime that `-sanitize=fuzzer` links).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links an executable with `main` aliased to `<module>_main` (so tests can link it), which
/// keeps libFuzzer's own `main` out: this is that entry point, and it hands over to libFuzzer.
@_cdecl("sockscope_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    _ = FuzzTarget.selected  // fail at once on a missing or unknown target, not on the first input
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}
#else
/// Without libFuzzer: replays files (`sockscope-fuzz TARGET FILE…`), for reproducing a saved crash.
@main
enum Replay {
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: sockscope-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE…")
            exit(2)
        }
        for path in args.dropFirst() {
            guard let f = fopen(path, "rb") else { print("cannot open \(path)"); exit(1) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&chunk, 1, chunk.count, f)
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            fclose(f)
            bytes.withUnsafeBytes { b in fuzz(target, b) }
            print("ok \(path)")
        }
    }
}
#endif
