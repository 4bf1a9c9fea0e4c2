// libFuzzer targets for the parsers that read untrusted bytes (issue 8).
//
// Built only by `.ci/fuzz` (the product exists only when SOCKSCOPE_FUZZ is set, see Package.swift),
// with `-sanitize=fuzzer -D SOCKSCOPE_FUZZING`: libFuzzer then supplies `main` and calls
// `LLVMFuzzerTestOneInput`. Which parser is fuzzed comes from `SOCKSCOPE_FUZZ_TARGET`, so one
// binary (one build, which is most of the cost on a small CI machine) serves every target.
//
// Each target checks more than "does not trap": the properties below are the ones a parser
// must keep for any input, and a violation is reported as a crash so libFuzzer saves the input.
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
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
        guard let expr = filter.expression, let code = InetDiagBytecode.compile(expr) else { continue }
        require(InetDiagBytecode.audit(code), "audit rejects the program for '\(spec)'")
        var probes: [UInt16] = [0, 1, 22, 443, 65534, 65535]
        for r in spec.ranges.prefix(8) {
            probes += [r.lowerBound, r.upperBound, r.lowerBound &- 1, r.upperBound &+ 1]
        }
        for s in probes {
            for d in probes.prefix(6) {
                require(InetDiagBytecode.run(code, sourcePort: s, destinationPort: d)
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

#if SOCKSCOPE_FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    switch FuzzTarget.selected {
    case .proc: fuzzProc(bytes)
    case .netlink: fuzzNetlink(bytes)
    case .filter: fuzzFilter(bytes)
    case .stat: fuzzStat(bytes)
    }
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
            bytes.withUnsafeBytes { b in
                switch target {
                case .proc: fuzzProc(b)
                case .netlink: fuzzNetlink(b)
                case .filter: fuzzFilter(b)
                case .stat: fuzzStat(b)
                }
            }
            print("ok \(path)")
        }
    }
}
#endif
