import SockscopeFilter
import SockscopeModel
import TestSupport
import Testing

@Suite struct PortSpecTests {
    let services: [String: Set<UInt16>] = ["https": [443], "ssh": [22], "domain": [53]]
    func parse(_ s: String) throws(FilterError) -> PortSpec { try PortSpec(parsing: s, resolve: { services[$0] ?? [] }) }

    @Test func listsRangesAndNames() throws {
        #expect(try parse("22").ranges == [22...22])
        #expect(try parse("22,80").ranges == [22...22, 80...80])
        #expect(try parse("8000-8100").ranges == [8000...8100])
        #expect(try parse("https,ssh, 8000-8002 ,8001").ranges == [22...22, 443...443, 8000...8002])
        #expect(try parse("0,65535").ranges == [0...0, 65535...65535])
        #expect(try parse("1-3,4").ranges == [1...4], "adjacent ranges merge")
        let s = try parse("22,80,8000-8100")
        #expect(s.contains(22) && s.contains(8050) && !s.contains(81) && !s.contains(8101))
    }

    @Test(arguments: ["70000", "", "22,", ",22", "8100-8000", "abc-def", "nosuchservice", "-5", "22-", "99999999999999999999", "1.5"])
    func badListsAreErrorsWithAReason(text: String) {
        #expect(throws: FilterError.self) { try parse(text) }
        if let msg = (try? parse(text)).map({ _ in "" }) ?? Optional("x") { #expect(!msg.isEmpty) }
    }

    @Test func outOfRangeMessageNamesThePort() {
        #expect(throws: FilterError("port 70000 is out of range (0-65535)")) { try parse("70000") }
    }
}

@Suite struct StateSetTests {
    @Test func ssNamesAndKernelNames() throws {
        #expect(try StateSet(parsing: "established") == [.established])
        #expect(try StateSet(parsing: "TIME_WAIT,listening") == [.timeWait, .listen])
        #expect(try StateSet(parsing: "all") == .all)
        #expect(!StateSet.all.contains(.boundInactive), "never the bind-table walk unless asked")
        #expect(try StateSet(parsing: "connected") == .connected)
        #expect(!StateSet.connected.contains(.listen) && !StateSet.connected.contains(.timeWait))
        #expect(try StateSet(parsing: "syn-recv").contains(.newSynRecv))
        #expect(throws: FilterError.self) { try StateSet(parsing: "no-such-state") }
    }

    @Test func listeningMeansListenForTCPAndUnconnectedForUDP() {
        #expect(StateSet.listening.restricted(to: .tcp) == [.listen])
        #expect(StateSet.listening.restricted(to: .udp) == [.close])
        #expect(StateSet.connected.restricted(to: .udp) == [.established])
    }
}

@Suite struct BytecodeTests {
    /// Random port filters of every shape: lists, ranges, open-ended ranges, either-end.
    func randomFilter(_ rng: inout SplitMix) -> PortFilter {
        func spec() -> PortSpec {
            let n = Int(rng.next() % 4) + 1
            var ranges: [ClosedRange<UInt16>] = []
            for _ in 0..<n {
                let a = UInt16(truncatingIfNeeded: rng.next() % 2 == 0 ? rng.next() % 64 : rng.next())
                let len = rng.next() % 3 == 0 ? 0 : UInt16(truncatingIfNeeded: rng.next() % 40)
                let b = a > UInt16.max - len ? UInt16.max : a + len
                ranges.append(a...b)
            }
            return PortSpec(ranges: ranges)
        }
        var f = PortFilter()
        switch rng.next() % 5 {
        case 0: f.source = spec()
        case 1: f.destination = spec()
        case 2: f.either = spec()
        case 3: f.source = spec(); f.destination = spec()
        default: f.source = spec(); f.either = spec()
        }
        return f
    }

    @Test func compiledProgramsPassTheKernelAuditAndAgreeWithTheEvaluator() throws {
        var rng = SplitMix(seed: 2024)
        for _ in 0..<400 {
            let f = randomFilter(&rng)
            // No program: the filter passes every port (the kernel is asked for everything).
            guard let code = InetDiagBytecode.plan(f.filterExpression).bytecode else {
                #expect(f.matches(localPort: 0, remotePort: 65535) && f.matches(localPort: 65535, remotePort: 0), "\(f)")
                continue
            }
            #expect(InetDiagBytecode.audit(code), "audit rejects \(f)")
            for _ in 0..<64 {
                // Ports near the filter's edges are the interesting ones.
                let edges = (f.source?.ranges ?? []) + (f.destination?.ranges ?? []) + (f.either?.ranges ?? [])
                func pick() -> UInt16 {
                    if rng.next() % 2 == 0, let r = edges.randomElement(using: &rng) {
                        let base = rng.next() % 2 == 0 ? r.lowerBound : r.upperBound
                        return base &+ UInt16(truncatingIfNeeded: Int(rng.next() % 3) - 1)
                    }
                    return UInt16(truncatingIfNeeded: rng.next())
                }
                let s = pick(), d = pick()
                let want = f.matches(localPort: s, remotePort: d)
                #expect(InetDiagBytecode.run(code, entry: Self.entry(s, d)) == want, "\(f) at \(s)->\(d)")
            }
        }
    }

    /// A socket between two unspecified addresses with these ports, as the kernel's machine sees it.
    static func entry(_ s: UInt16, _ d: UInt16) -> KernelEntry {
        KernelEntry(family: .inet, source: .anyIPv4, destination: .anyIPv4, sourcePort: s, destinationPort: d)
    }

    @Test func notAndNestedCombinationsAreCorrect() throws {
        let f = try FilterParser.parse(["not sport = :22 and ( dport >= :1000 or sport = :80 )"], environment: FilterEnvironment())
        let code = try #require(InetDiagBytecode.plan(f.expression).bytecode)
        #expect(InetDiagBytecode.audit(code))
        for s: UInt16 in [21, 22, 23, 80] {
            for d: UInt16 in [999, 1000, 5000] {
                #expect(InetDiagBytecode.run(code, entry: Self.entry(s, d)) == (s != 22 && (d >= 1000 || s == 80)), "\(s)->\(d)")
            }
        }
    }

    @Test func auditRejectsMalformedPrograms() {
        #expect(!InetDiagBytecode.audit([200, 4, 8, 0]), "unknown op")
        #expect(!InetDiagBytecode.audit([InetDiagBytecode.sEQ, 8, 12, 0]), "comparison without its argument")
        #expect(!InetDiagBytecode.audit([InetDiagBytecode.jmp, 4, 6, 0]), "misaligned jump")
    }

    @Test func userspaceQueryMatchesStatesProtocolsAndPorts() {
        let r = SocketRecord(proto: .udp, family: .inet, state: .close,
                             local: Endpoint(address: IPAddress("127.0.0.1")!, port: 53),
                             remote: Endpoint(address: .anyIPv4, port: 0))
        #expect(Query(states: .listening).matches(r))
        #expect(!Query(states: .connected).matches(r))
        #expect(!Query(protocols: [.tcp], states: .all).matches(r))
        #expect(Query(states: .all, ports: PortFilter(either: PortSpec(ranges: [53...53]))).matches(r))
        #expect(!Query(states: .all, ports: PortFilter(destination: PortSpec(ranges: [53...53]))).matches(r))
    }
}
