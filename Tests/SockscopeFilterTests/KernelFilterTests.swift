import SockscopeFilter
import SockscopeModel
import TestSupport
import Testing

/// The compiler against the model of the kernel's filter machine and auditor, over every op.
@Suite struct KernelFilterTests {
    /// A socket and the same socket as the kernel's entry; the record's fields are the ones the
    /// userspace evaluator reads, so both sides judge the same facts.
    struct Case { var record: SocketRecord; var entry: KernelEntry }

    static let ephemeral = EphemeralRange(low: 32768, high: 60999)!

    func randomCase(_ rng: inout SplitMix, near e: FilterExpression) -> Case {
        // Addresses and ports drawn from the expression's own constants (and neighbours), or at random.
        var hosts: [HostCondition] = [], ports: [UInt16] = []
        func collect(_ x: FilterExpression) {
            switch x {
            case .host(_, let c): hosts.append(c); if let p = c.port { ports.append(p) }
            case .port(_, _, let p): ports.append(p)
            case .and(let a, let b), .or(let a, let b): collect(a); collect(b)
            case .not(let a): collect(a)
            default: break
            }
        }
        collect(e)
        let family: AddressFamily = rng.next() % 2 == 0 ? .inet : .inet6
        func address() -> IPAddress {
            if rng.next() % 3 != 0, let c = hosts.randomElement(using: &rng), let a = c.address {
                var b = a
                // Flip a bit just inside or outside the prefix, sometimes.
                if rng.next() % 2 == 0 {
                    let bit = Int(c.prefixLength) + Int(rng.next() % 3) - 2
                    if a.isIPv6, (0..<128).contains(bit) {
                        if bit < 64 { b.high ^= 1 << UInt64(63 - bit) } else { b.low ^= 1 << UInt64(127 - bit) }
                    } else if !a.isIPv6, (0..<32).contains(bit) {
                        b.low ^= 1 << UInt64(31 - bit)
                    }
                }
                if family == .inet6 && !b.isIPv6 { return IPAddress(ipv6High: 0, low: 0xFFFF_0000_0000 | b.low) }
                if family == .inet && b.isIPv6 { return IPAddress(ipv4: UInt32(truncatingIfNeeded: rng.next())) }
                return b
            }
            if family == .inet { return IPAddress(ipv4: UInt32(truncatingIfNeeded: rng.next())) }
            return rng.next() % 3 == 0 ? IPAddress(ipv6High: 0, low: 0xFFFF_0000_0000 | (rng.next() & 0xFFFF_FFFF))
                : IPAddress(ipv6High: rng.next(), low: rng.next())
        }
        func port() -> UInt16 {
            if rng.next() % 2 == 0, let p = ports.randomElement(using: &rng) { return p &+ UInt16(truncatingIfNeeded: Int(rng.next() % 3) - 1) }
            return UInt16(truncatingIfNeeded: rng.next())
        }
        let sa = address(), da = address(), sp = port(), dp = port()
        let ifindex = UInt32(rng.next() % 4), mark = UInt32(rng.next() % 16), cgroup: UInt64 = rng.next() % 2 == 0 ? 4242 : 7
        var r = SocketRecord(proto: .tcp, family: family, state: .established, local: Endpoint(address: sa, port: sp),
                             remote: Endpoint(address: da, port: dp), interfaceIndex: ifindex)
        r.mark = mark
        r.cgroupID = cgroup
        // The kernel's autobound flag is made to agree with the range the evaluator uses.
        let inRange = sp >= Self.ephemeral.low && sp <= Self.ephemeral.high
        let entry = KernelEntry(family: family, source: sa, destination: da, sourcePort: sp, destinationPort: dp,
                                interfaceIndex: ifindex, mark: mark, cgroupID: cgroup, portBoundExplicitly: !inRange)
        return Case(record: r, entry: entry)
    }

    @Test func everyOpCompilesToAnAuditedProgramThatAgreesWithTheEvaluator() throws {
        var g = ExpressionGenerator(rng: SplitMix(seed: 77))
        var rng = SplitMix(seed: 78)
        var opsSeen = Set<UInt8>()
        for _ in 0..<1500 {
            let e = g.expression(depth: 4)
            let plan = InetDiagBytecode.plan(e, ephemeral: Self.ephemeral)
            #expect(plan.exact)
            guard let code = plan.bytecode else { continue }
            #expect(InetDiagBytecode.audit(code, netAdmin: true) == .accepted, "audit rejects \(e.text)")
            #expect(InetDiagBytecode.audit(code, netAdmin: false) == (plan.usesMark ? .notPermitted : .accepted))
            var pc = 0
            while pc + 4 <= code.count { opsSeen.insert(code[pc]); pc += Int(code[pc + 1]) }
            for _ in 0..<40 {
                let c = randomCase(&rng, near: e)
                let want = e.evaluate(c.record, ephemeral: Self.ephemeral)
                #expect(InetDiagBytecode.run(code, entry: c.entry) == want, "\(e.text) on \(c.entry)")
            }
        }
        let all: Set<UInt8> = [InetDiagBytecode.jmp, InetDiagBytecode.sGE, InetDiagBytecode.sLE, InetDiagBytecode.dGE,
                               InetDiagBytecode.dLE, InetDiagBytecode.auto, InetDiagBytecode.sCond, InetDiagBytecode.dCond,
                               InetDiagBytecode.devCond, InetDiagBytecode.markCond, InetDiagBytecode.sEQ, InetDiagBytecode.dEQ,
                               InetDiagBytecode.cgroupCond]
        #expect(all.subtracting(opsSeen).isEmpty, "ops never generated: \(all.subtracting(opsSeen))")
    }

    @Test func withoutMarkTheProgramIsASupersetAndUserspaceNarrowsIt() throws {
        var g = ExpressionGenerator(rng: SplitMix(seed: 79))
        var rng = SplitMix(seed: 80)
        var relaxed = 0
        for _ in 0..<1500 {
            let e = g.expression(depth: 4)
            let plan = InetDiagBytecode.plan(e, allowMark: false, ephemeral: Self.ephemeral)
            #expect(!plan.usesMark)
            if !e.usesMark { #expect(plan.exact); continue }
            relaxed += 1
            #expect(!plan.exact)
            guard let code = plan.bytecode else { continue }
            #expect(InetDiagBytecode.audit(code, netAdmin: false) == .accepted)
            for _ in 0..<40 {
                let c = randomCase(&rng, near: e)
                if e.evaluate(c.record, ephemeral: Self.ephemeral) {
                    #expect(InetDiagBytecode.run(code, entry: c.entry), "the relaxed program drops a match of \(e.text)")
                }
            }
        }
        #expect(relaxed > 100)
    }

    @Test func hostConditionsFollowTheKernelIncludingV4Mapped() throws {
        let rule = try FilterParser.parse(["src", "127.0.0.0/8"]).expression
        let code = try #require(InetDiagBytecode.plan(rule).bytecode)
        func entry(_ f: AddressFamily, _ a: String) -> KernelEntry {
            KernelEntry(family: f, source: IPAddress(a)!, destination: .anyIPv4, sourcePort: 1, destinationPort: 2)
        }
        #expect(InetDiagBytecode.run(code, entry: entry(.inet, "127.0.0.5")))
        #expect(InetDiagBytecode.run(code, entry: entry(.inet6, "::ffff:127.0.0.5")), "a v4 rule matches a v4-mapped socket")
        #expect(!InetDiagBytecode.run(code, entry: entry(.inet6, "::1")))
        #expect(!InetDiagBytecode.run(code, entry: entry(.inet, "10.0.0.1")))
        let six = try #require(InetDiagBytecode.plan(try FilterParser.parse(["src", "[::ffff:127.0.0.5]"]).expression).bytecode)
        #expect(!InetDiagBytecode.run(six, entry: entry(.inet, "127.0.0.5")), "a v4-mapped rule does not match a v4 socket")
    }

    @Test func autoboundNeedsTheKernelFlagAndTheRange() throws {
        let code = try #require(InetDiagBytecode.plan(.autobound, ephemeral: Self.ephemeral).bytecode)
        #expect(InetDiagBytecode.audit(code, netAdmin: false) == .accepted)
        func run(_ port: UInt16, explicit: Bool) -> Bool {
            InetDiagBytecode.run(code, entry: KernelEntry(family: .inet, source: .anyIPv4, destination: .anyIPv4,
                                                          sourcePort: port, destinationPort: 1, portBoundExplicitly: explicit))
        }
        #expect(run(40000, explicit: false))
        #expect(!run(40000, explicit: true), "bound explicitly, even inside the range")
        #expect(!run(20001, explicit: false), "an accepted socket: no bind lock, but the listener's port")
    }

    @Test func auditRejectsMalformedConditions() {
        let b = InetDiagBytecode.self
        #expect(b.audit([b.sCond, 12, 16, 0, 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF], netAdmin: true) == .invalid, "v4 without its address")
        #expect(b.audit([b.sCond, 12, 16, 0, 0, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF], netAdmin: true) == .invalid, "prefix on AF_UNSPEC")
        #expect(b.audit([b.sCond, 12, 16, 0, 7, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF], netAdmin: true) == .invalid, "unknown family")
        #expect(b.audit([b.devCond, 4, 8, 0], netAdmin: true) == .invalid, "dev without its index")
        #expect(b.audit([b.cgroupCond, 8, 12, 0, 1, 0, 0, 0], netAdmin: true) == .invalid, "cgroup id cut short")
        #expect(b.audit([b.markCond, 12, 16, 0, 1, 0, 0, 0, 1, 0, 0, 0], netAdmin: false) == .notPermitted)
        #expect(b.audit([b.auto, 4, 8, 0], netAdmin: false) == .accepted)
    }
}
