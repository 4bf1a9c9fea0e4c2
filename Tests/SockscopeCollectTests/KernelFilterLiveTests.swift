import Foundation
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeSystem
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's answer against the userspace evaluator's, on the same live sockets, for every op.
@Suite(.serialized) struct KernelFilterLiveTests {
    struct Load {
        var sockets: [TestSocket] = []
        var inodes: Set<UInt64> { Set(sockets.map(\.inode)) }
        var ports: [UInt16] = []
        var addresses: [String] = []
    }

    static func setInt(_ s: TestSocket, _ option: Int32, _ value: Int32) throws {
        var v = value
        guard setsockopt(s.fd, SOL_SOCKET, option, &v, 4) == 0 else {
            throw LiveSetupError("setsockopt \(option): \(String(cString: strerror(errno)))")
        }
    }

    static func load() throws -> Load {
        var l = Load()
        for host in ["127.0.0.1", "::1"] {
            let lst = try Loopback.tcpListener(host)
            l.sockets.append(lst); l.ports.append(lst.local.port)
            for _ in 0..<2 {
                let (c, a) = try Loopback.tcpPair(lst)
                l.sockets += [c, a]; l.ports.append(c.local.port)
            }
        }
        let dual = try Loopback.tcpListener("::", dualStack: true)
        l.sockets.append(dual); l.ports.append(dual.local.port)
        let c = try Loopback.tcpConnect("127.0.0.1", dual.local.port)
        l.sockets += [c, try Loopback.accept(dual)]
        let first = l.sockets[0]
        let marked = try Loopback.tcpConnect("127.0.0.1", first.local.port)
        try setInt(marked, 36, 0x15)  // SO_MARK
        l.sockets += [marked, try Loopback.accept(first)]
        let bound = try Loopback.tcpConnect("127.0.0.1", first.local.port)
        var dev = Array("lo".utf8CString)
        guard setsockopt(bound.fd, SOL_SOCKET, 25, &dev, socklen_t(dev.count)) == 0 else {  // SO_BINDTODEVICE
            throw LiveSetupError("SO_BINDTODEVICE: \(String(cString: strerror(errno)))")
        }
        l.sockets += [bound, try Loopback.accept(first)]
        l.addresses = ["127.0.0.1", "127.0.0.0/8", "127.0.0.1/31", "[::1]", "[::ffff:127.0.0.1]", "::ffff:127.0.0.0/104", "*"]
        return l
    }

    func inodes(_ e: FilterExpression, kernel: Bool, load: Load) throws -> Set<UInt64> {
        var q = Query(protocols: [.tcp], states: .all)
        q.expression = e
        let options = CollectOptions(source: .netlink, kernelFilter: kernel, userspaceFilter: !kernel)
        let snap = try SocketCollector(options: options).collect(q)
        return Set(snap.records.map(\.inode)).intersection(load.inodes)
    }

    func atoms(_ l: Load, environment env: FilterEnvironment) throws -> [String] {
        var out: [String] = ["autobound", "dev lo", "dev != lo", "fwmark = 0x15", "fwmark = 0x10/0xf0", "fwmark != 0x15",
                             "cgroup /", "cgroup != /"]
        for a in l.addresses {
            out += ["src \(a)", "dst \(a)"]
            if let p = l.ports.first, a != "*" { out += ["src \(a):\(p)", "dst \(a):\(p)"] }
        }
        for p in l.ports.prefix(4) {
            for op in ["=", "!=", "<", ">", "<=", ">="] { out += ["sport \(op) :\(p)", "dport \(op) :\(p)"] }
        }
        return out
    }

    @Test(.requires(.root)) func kernelAndUserspaceAgreeOnEveryOp() throws {
        try Requirement.root.check()  // SO_MARK, SO_BINDTODEVICE and INET_DIAG_MARK need privileges
        let l = try Self.load()
        let env = FilterEnvironment(interfaceIndex: { Lookup.interfaceIndex(name: $0) },
                                    cgroupID: { Lookup.cgroupID(path: $0).mapError { FilterError($0.message) } })
        let atoms = try atoms(l, environment: env)
        var rng = SplitMix(seed: 5)
        var texts = atoms
        for _ in 0..<150 {
            func pick() -> String { atoms[Int(rng.next() % UInt64(atoms.count))] }
            switch rng.next() % 3 {
            case 0: texts.append("( \(pick()) and not ( \(pick()) ) )")
            case 1: texts.append("( \(pick()) or ( \(pick()) and \(pick()) ) )")
            default: texts.append("not ( ( \(pick()) or \(pick()) ) and \(pick()) )")
            }
        }
        var nonEmpty = 0
        for t in texts {
            let e = try FilterParser.parse([t], environment: env).expression
            let k = try inodes(e, kernel: true, load: l), u = try inodes(e, kernel: false, load: l)
            #expect(k == u, "\(t): kernel \(k.count) vs userspace \(u.count)")
            if !k.isEmpty && k != l.inodes { nonEmpty += 1 }
        }
        #expect(nonEmpty > texts.count / 3, "the expressions must split the sockets: \(nonEmpty) of \(texts.count)")
        // Spot checks with known answers.
        let marked = l.sockets[l.sockets.count - 4], bound = l.sockets[l.sockets.count - 2]
        #expect(try inodes(.mark(0x15, mask: .max), kernel: true, load: l) == [marked.inode])
        #expect(try inodes(.device(index: Lookup.interfaceIndex(name: "lo")!, name: "lo"), kernel: true, load: l) == [bound.inode])
        _ = l.sockets
    }

    /// autobound: the kernel knows a port bound explicitly inside the ephemeral range is not
    /// autobound; userspace (the range alone) cannot, which is why the collector trusts the kernel.
    @Test func autoboundTellsAnExplicitBindInsideTheRange() throws {
        // The listener on an explicit port below the range (its accepted sockets share that port).
        var listener: TestSocket?
        for p in stride(from: 20000, to: 30000, by: 211).prefix(40) where listener == nil {
            listener = try? Loopback.tcpListener("127.0.0.1", port: UInt16(p))
        }
        let lst = try #require(listener)
        let auto = try Loopback.tcpConnect("127.0.0.1", lst.local.port)
        let range = EphemeralRangeParser.load() ?? .linuxDefault
        // An explicitly bound client on a free port inside the range.
        var explicit: TestSocket?
        for p in stride(from: Int(range.low) + 1000, to: Int(range.high), by: 97).prefix(50) where explicit == nil {
            explicit = try? Loopback.tcpConnect("127.0.0.1", lst.local.port, from: "127.0.0.1", sourcePort: UInt16(p))
        }
        let e = try #require(explicit)
        let a1 = try Loopback.accept(lst), a2 = try Loopback.accept(lst)
        var q = Query(protocols: [.tcp], states: .all)
        q.expression = .autobound
        q.ephemeral = range
        let mine: Set<UInt64> = [lst.inode, auto.inode, e.inode, a1.inode, a2.inode]
        let kernel = try SocketCollector(options: CollectOptions(source: .netlink)).collect(q)
        #expect(Set(kernel.records.map(\.inode)).intersection(mine) == [auto.inode],
                "only the kernel-chosen client port; not the explicit bind, not the accepted sockets")
        let user = try SocketCollector(options: CollectOptions(source: .netlink, kernelFilter: false)).collect(q)
        #expect(Set(user.records.map(\.inode)).intersection(mine) == [auto.inode, e.inode], "userspace sees the range only")
    }
}

struct LiveSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
