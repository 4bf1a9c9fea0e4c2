import Foundation
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import TestSupport
import Testing

/// The sockets a test opened, and what each source must say of them.
struct OwnLoad {
    var sockets: [TestSocket] = []
    var expected: [ExpectedSocket] = []

    mutating func keep(_ s: TestSocket) -> TestSocket { sockets.append(s); return s }

    mutating func expect(_ s: TestSocket, _ state: String, local: Endpoint? = nil, remote: Endpoint? = nil) {
        expected.append(ExpectedSocket(proto: s.proto, family: s.family, state: state, inode: s.inode,
                                       local: local ?? s.local, remote: remote ?? s.remote))
    }

    /// IPv4, IPv6, a dual-stack listener reached over IPv4, bound and connected UDP.
    static func standard(pairs: Int = 3) throws -> OwnLoad {
        var l = OwnLoad()
        for host in ["127.0.0.1", "::1"] {
            let lst = l.keep(try Loopback.tcpListener(host))
            let wild = host.contains(":") ? IPAddress.anyIPv6 : IPAddress.anyIPv4
            l.expect(lst, "LISTEN", remote: Endpoint(address: wild, port: 0))
            for _ in 0..<pairs {
                let (c, a) = try Loopback.tcpPair(lst)
                l.expect(l.keep(c), "ESTABLISHED"); l.expect(l.keep(a), "ESTABLISHED")
            }
        }
        let dual = l.keep(try Loopback.tcpListener("::", dualStack: true))
        l.expect(dual, "LISTEN", remote: Endpoint(address: .anyIPv6, port: 0))
        for _ in 0..<pairs {
            let c = l.keep(try Loopback.tcpConnect("127.0.0.1", dual.local.port))
            let a = l.keep(try Loopback.accept(dual))
            l.expect(c, "ESTABLISHED")
            // The accepted socket is AF_INET6 and sees its IPv4 peer as ::ffff:127.0.0.1.
            #expect(a.local.address.description == "::ffff:127.0.0.1")
            l.expect(a, "ESTABLISHED")
        }
        for host in ["127.0.0.1", "::1"] {
            let u = l.keep(try Loopback.udp(host))
            let wild = host.contains(":") ? IPAddress.anyIPv6 : IPAddress.anyIPv4
            l.expect(u, "UNCONN", remote: Endpoint(address: wild, port: 0))
            let v = l.keep(try Loopback.udp(host, connectTo: u.local))
            l.expect(v, "ESTABLISHED")
        }
        return l
    }

    var inodes: Set<UInt64> { Set(expected.map(\.inode)) }
}

@Suite struct LiveCollectorTests {
    func collect(_ source: SourceChoice, _ query: Query = Query(states: .all), kernelFilter: Bool = true,
                 userspaceFilter: Bool = true) throws -> Snapshot {
        try SocketCollector(options: CollectOptions(source: source, kernelFilter: kernelFilter,
                                                    userspaceFilter: userspaceFilter)).collect(query)
    }

    @Test(arguments: [SourceChoice.netlink, .proc])
    func everyOwnSocketIsReportedExactly(source: SourceChoice) throws {
        let load = try OwnLoad.standard()
        let snap = try collect(source)
        #expect(snap.source.rawValue == source.rawValue)
        for e in load.expected {
            let hits = snap.records.filter { $0.inode == e.inode && $0.proto == e.proto }
            #expect(hits.count == 1, "\(source): \(e) reported \(hits.count) times")
            if let h = hits.first { #expect(e.matches(h), "\(source): expected \(e)\n got \(h)") }
        }
        _ = load
    }

    @Test func netlinkAndProcAgreeOnOwnSockets() throws {
        let load = try OwnLoad.standard()
        let inodes = load.inodes
        func own(_ s: Snapshot) -> Set<SocketRecord> {
            Set(s.records.filter { inodes.contains($0.inode) }.map { r in
                var r = r
                r.cookie = nil
                r.interface = nil
                r.interfaceIndex = 0
                if r.state == .listen { r.sendQueue = 0 }  // netlink: backlog; /proc: no backlog (documented)
                return r
            })
        }
        let nl = own(try collect(.netlink)), pr = own(try collect(.proc))
        #expect(nl.count == load.expected.count)
        #expect(nl == pr, "only in netlink: \(nl.subtracting(pr))\nonly in proc: \(pr.subtracting(nl))")
    }

    @Test func procReaderHandlesFilesFarBeyondFourKiB() throws {
        var socks: [TestSocket] = []
        let lst = try Loopback.tcpListener("127.0.0.1", backlog: 512)
        socks.append(lst)
        for _ in 0..<160 {
            let (c, a) = try Loopback.tcpPair(lst)
            socks += [c, a]
        }
        let want = Set(socks.map(\.inode))
        #expect(want.count == 321)
        // 321 rows of ~150 bytes: /proc/net/tcp is tens of KiB, arriving in page-sized reads.
        let snap = try collect(.proc)
        let got = Set(snap.records.map(\.inode)).intersection(want)
        #expect(got == want, "missing \(want.subtracting(got).count) of \(want.count)")
    }

    /// Port filters: the kernel bytecode alone and the userspace evaluator alone select the same sockets.
    @Test func bytecodeAndUserspaceFiltersAgree() throws {
        var socks: [TestSocket] = []
        var listeners: [TestSocket] = []
        for host in ["127.0.0.1", "::1", "127.0.0.1", "::1"] {
            let l = try Loopback.tcpListener(host)
            listeners.append(l); socks.append(l)
            for _ in 0..<2 { let (c, a) = try Loopback.tcpPair(l); socks += [c, a] }
        }
        let u = try Loopback.udp("127.0.0.1"); socks.append(u)
        socks.append(try Loopback.udp("127.0.0.1", connectTo: u.local))
        let inodes = Set(socks.map(\.inode))
        let ports = listeners.map(\.local.port).sorted()
        let p0 = ports[0], p1 = ports[1], p3 = ports[3]
        let lo = min(p0, p1), hi = max(p0, p1)
        let specs: [PortFilter] = [
            PortFilter(either: PortSpec(ranges: [p0...p0])),
            PortFilter(source: PortSpec(ranges: [p0...p0, p3...p3])),
            PortFilter(destination: PortSpec(ranges: [lo...hi])),
            PortFilter(either: PortSpec(ranges: [lo...hi, p3...p3])),
            PortFilter(source: PortSpec(ranges: [0...1023]), destination: PortSpec(ranges: [p1...p1])),
            PortFilter(source: PortSpec(ranges: [(u.local.port)...(u.local.port)])),
            PortFilter(either: PortSpec(ranges: [1...65535])),
        ]
        for f in specs {
            let q = Query(states: .all, ports: f)
            let kernel = try collect(.netlink, q, kernelFilter: true, userspaceFilter: false)
            let user = try collect(.netlink, q, kernelFilter: false, userspaceFilter: true)
            #expect(kernel.notices.isEmpty, "the kernel accepted the bytecode: \(kernel.notices)")
            let k = Set(kernel.records.map(\.inode)).intersection(inodes)
            let s = Set(user.records.map(\.inode)).intersection(inodes)
            #expect(k == s, "\(f): kernel \(k.count) vs userspace \(s.count)")
            #expect(!s.isEmpty || f.source?.ranges == [0...1023], "\(f) selects some of our sockets")
        }
        _ = socks
    }

    @Test func duplicateRowsAreDroppedAndMalformedLinesReported() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-proc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("net"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tcp = try FixtureFiles.bytes("proc-net-tcp.txt")
        let lines = tcp.split(separator: 0x0A, omittingEmptySubsequences: false)
        // The first data line again (as a dump during churn can repeat it), and a broken line.
        var doubled = tcp
        doubled += lines[1] + [0x0A]
        doubled += Array("   9: garbage\n".utf8)
        try Data(doubled).write(to: dir.appendingPathComponent("net/tcp"))
        for f in ["tcp6", "udp", "udp6"] {
            try Data(try FixtureFiles.bytes("proc-net-\(f).txt")).write(to: dir.appendingPathComponent("net/\(f)"))
        }
        let snap = try SocketCollector(options: CollectOptions(source: .proc, procRoot: dir.path)).collect(Query(states: .all))
        let expected = try FixtureFiles.expected()
        #expect(snap.records.count == expected.count)
        #expect(Set(snap.records.map(\.inode)) == Set(expected.map(\.inode)))
        #expect(snap.notices.count == 1)
        #expect(snap.notices.first?.contains("net/tcp: skipped malformed line 12") == true, "\(snap.notices)")
    }

    @Test func missingIPv6FilesMeanNoIPv6SocketsButMissingIPv4IsAnError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-noipv6-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("net"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(try FixtureFiles.bytes("proc-net-tcp.txt")).write(to: dir.appendingPathComponent("net/tcp"))
        try Data(try FixtureFiles.bytes("proc-net-udp.txt")).write(to: dir.appendingPathComponent("net/udp"))
        let snap = try SocketCollector(options: CollectOptions(source: .proc, procRoot: dir.path)).collect(Query(states: .all))
        #expect(!snap.records.isEmpty && snap.records.allSatisfy { $0.family == .inet })
        try FileManager.default.removeItem(at: dir.appendingPathComponent("net/udp"))
        #expect(throws: CollectError.self) {
            try SocketCollector(options: CollectOptions(source: .proc, procRoot: dir.path)).collect(Query(states: .all))
        }
    }
}

@Suite struct ChunkedProcReadTests {
    /// A generated /proc/net/tcp of 12,000 lines (~1.8 MiB): lines straddle the reader's 1 MiB chunks.
    @Test func filesLargerThanOneChunkAreReadWholeWithExactLineNumbers() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-big-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("net"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        let badLine = 9_001  // line number in the file (the header is line 1)
        for i in 0..<12_000 {
            if i + 2 == badLine { text += "  \(i): not a socket line at all\n"; continue }
            let port = String(format: "%04X", 1024 + i % 60000)
            text += "  \(i): 0100007F:\(port) 0100007F:0050 01 00000000:00000000 00:00000000 00000000  1000        0 \(100_000 + i) 1 0000000000000000 20 4 30 10 -1                     \n"
        }
        #expect(text.utf8.count > 3 * (1 << 19))
        try Data(text.utf8).write(to: dir.appendingPathComponent("net/tcp"))
        let snap = try SocketCollector(options: CollectOptions(source: .proc, procRoot: dir.path))
            .collect(Query(protocols: [.tcp], families: [.inet], states: .all))
        #expect(snap.records.count == 11_999)
        #expect(Set(snap.records.map(\.inode)).count == 11_999)
        #expect(snap.notices == ["\(dir.path)/net/tcp: skipped malformed line \(badLine): bad hex digit in local address"], "\(snap.notices)")
    }
}
