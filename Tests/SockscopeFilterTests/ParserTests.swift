import SockscopeFilter
import SockscopeModel
import TestSupport
import Testing

/// A fixed system for parsing: services, hosts, interfaces and cgroups the tests name.
let testEnvironment = FilterEnvironment(
    services: { ["https": [443], "ssh": [22], "http": [80], "split": [1000, 1001]][$0] ?? [] },
    resolveHost: { name, family in
        let all: [String: [IPAddress]] = [
            "multi.test": [IPAddress("10.0.0.1")!, IPAddress("10.0.0.2")!, IPAddress("fd00::1")!],
            "localhost": [IPAddress("127.0.0.1")!, IPAddress("::1")!],
        ]
        return (all[name] ?? []).filter { family == nil || ($0.isIPv6 ? AddressFamily.inet6 : .inet) == family }
    },
    interfaceIndex: { ["lo": 1, "eth0": 2][$0] },
    cgroupID: { $0 == "/test.slice" || $0 == "test.slice" ? .success(4242) : .failure(FilterError("No such file or directory")) })

func parse(_ words: String...) throws(FilterError) -> ParsedFilter {
    try FilterParser.parse(words, environment: testEnvironment)
}

func expr(_ text: String) throws -> FilterExpression { try parse(text).expression }

func v4(_ s: String, _ plen: UInt8? = nil, port: UInt16? = nil) -> HostCondition {
    HostCondition(address: IPAddress(s)!, prefixLength: plen, port: port)
}

@Suite struct FilterTokenizerTests {
    @Test func wordsSplitOnBlanksAndParenthesesComeOff() {
        let t = FilterParser.tokenize(["(dport = :443)", "or", "( sport", "=", ":22 ))"]).map(\.text)
        #expect(t == ["(", "dport", "=", ":443", ")", "or", "(", "sport", "=", ":22", ")", ")"])
        let positions = FilterParser.tokenize(["a b", "c"]).map(\.word)
        #expect(positions == [1, 2, 3])
        #expect(FilterParser.tokenize(["cgroup", "/a\\ b"]).map(\.text) == ["cgroup", "/a b"], "backslash escapes a blank")
        #expect(FilterParser.tokenize(["src", "unix:/x\\)"]).map(\.text) == ["src", "unix:/x)"], "an escaped ')' stays")
        let odd = FilterExpression.unixPath(.source, pattern: "/run/a (b)\\c")
        #expect((try? FilterParser.parse([odd.text]))?.expression == odd, "\(odd.text)")
    }

    @Test func filterFilesDropComments() {
        let words = FilterParser.words(ofFile: "# a comment\nsport = :22 # trailing\n  or dport = :80\n")
        #expect(FilterParser.tokenize(words).map(\.text) == ["sport", "=", ":22", "or", "dport", "=", ":80"])
    }
}

@Suite struct FilterParserTests {
    @Test func statesComeFirstAndUseSsNamesAndGroups() throws {
        #expect(try parse("state", "established").states == [.established])
        #expect(try parse("state", "established", "state", "syn-sent").states == [.established, .synSent])
        #expect(try parse("exclude", "listening").states == StateSet.all.subtracting([.listen]))
        #expect(try parse("excl", "time-wait", "exclude", "closed").states == StateSet.all.subtracting([.timeWait, .close]))
        for (name, set) in [("all", StateSet.all), ("connected", .connected), ("synchronized", .synchronized),
                            ("bucket", .bucket), ("big", .big), ("fin-wait-1", [.finWait1]), ("fin-wait-2", [.finWait2]),
                            ("time-wait", [.timeWait]), ("closed", [.close]), ("close-wait", [.closeWait]),
                            ("last-ack", [.lastAck]), ("closing", [.closing]), ("syn-recv", [.synRecv, .newSynRecv])] {
            #expect(try parse("state", name).states == set, "\(name)")
        }
        let f = try parse("state", "established", "dport", "=", ":443")
        #expect(f.states == [.established] && f.expression == .port(.destination, .equal, 443))
        #expect(throws: FilterError.self) { try parse("sport = :22", "state", "established") }
    }

    @Test func hostForms() throws {
        #expect(try expr("dst 10.1.2.3") == .host(.destination, v4("10.1.2.3")))
        #expect(try expr("dst = 10.1.2.3") == .host(.destination, v4("10.1.2.3")))
        #expect(try expr("src 10.0.0.0/8") == .host(.source, v4("10.0.0.0", 8)))
        #expect(try expr("src 10.9.9.9/8") == .host(.source, v4("10.0.0.0", 8)), "host bits are masked off")
        #expect(try expr("src 127.0.0/24") == .host(.source, v4("127.0.0.0", 24)), "ss's short form")
        #expect(try expr("src 127/8") == .host(.source, v4("127.0.0.0", 8)))
        #expect(try expr("src 10.0.0.0/255.255.0.0") == .host(.source, v4("10.0.0.0", 16)), "dotted netmask")
        #expect(try expr("src 10.1.2.3:22") == .host(.source, v4("10.1.2.3", port: 22)))
        #expect(try expr("src 10.0.0.0/8:ssh") == .host(.source, v4("10.0.0.0", 8, port: 22)), "service name as port")
        #expect(try expr("src *:22") == .host(.source, HostCondition(port: 22)))
        #expect(try expr("src :22") == .host(.source, HostCondition(port: 22)))
        #expect(try expr("src *") == .host(.source, HostCondition()))
        #expect(try expr("src inet:*:22") == .host(.source, HostCondition(family: .inet, port: 22)))
        #expect(try expr("src inet6:*") == .host(.source, HostCondition(family: .inet6)))
        #expect(try expr("src [::1]:22") == .host(.source, HostCondition(address: IPAddress("::1")!, port: 22)))
        #expect(try expr("src [::1]") == .host(.source, HostCondition(address: IPAddress("::1")!)))
        #expect(try expr("src fd00::/8") == .host(.source, HostCondition(address: IPAddress("fd00::")!, prefixLength: 8)))
        #expect(try expr("src fd00::/64:443") == .host(.source, HostCondition(address: IPAddress("fd00::")!, prefixLength: 64, port: 443)))
        #expect(try expr("src ::ffff:127.0.0.1") == .host(.source, HostCondition(address: IPAddress("::ffff:127.0.0.1")!)))
        #expect(try expr("dst inet:10.1.2.3") == .host(.destination, v4("10.1.2.3")))
        #expect(try expr("dst any") == .host(.destination, HostCondition()))
        #expect(try expr("dst 0x0a.0.0.1") == .host(.destination, v4("10.0.0.1")), "parts in C notation, as ss reads them")
    }

    @Test func hostNamesResolveToEveryAddressORed() throws {
        let e = try expr("dst multi.test:443")
        #expect(e == .or(.or(.host(.destination, v4("10.0.0.1", port: 443)), .host(.destination, v4("10.0.0.2", port: 443))),
                         .host(.destination, HostCondition(address: IPAddress("fd00::1")!, port: 443))))
        let only4 = try FilterParser.parse(["dst", "multi.test"], environment: {
            var env = testEnvironment; env.family = .inet; return env
        }())
        #expect(only4.expression == .or(.host(.destination, v4("10.0.0.1")), .host(.destination, v4("10.0.0.2"))))
    }

    @Test func otherFamiliesHaveRoom() throws {
        #expect(try expr("src unix:/run/*.sock") == .unixPath(.source, pattern: "/run/*.sock"))
        #expect(try expr("dst link:ip:eth0") == .link(.destination, protocolNumber: 0x0800, interface: 2))
        #expect(try expr("src netlink:rtnl:kernel") == .netlink(.source, protocolNumber: 0, portID: 0))
        let r = SocketRecord(proto: .tcp, family: .inet, state: .established, local: Endpoint(address: IPAddress("127.0.0.1")!, port: 1),
                             remote: Endpoint(address: IPAddress("127.0.0.1")!, port: 2))
        #expect(!(try expr("src unix:/run/*.sock")).evaluate(r), "a UNIX rule never matches a TCP socket")
        #expect(try expr("not src unix:/run/*.sock").evaluate(r))
        #expect(throws: FilterError.self) { try expr("src vsock:1:2") }
        // A listing of one other family reads bare host words in it, as ss does after -x, -0, --netlink.
        func bare(_ f: AddressFamily, _ text: String) throws -> FilterExpression {
            try FilterParser.parse(FilterParser.words(ofFile: text), environment: testEnvironment.withBareHosts(f)).expression
        }
        #expect(try bare(.unix, "src /run/*.sock") == .unixPath(.source, pattern: "/run/*.sock"))
        #expect(try bare(.unix, "dst unix:@x") == .unixPath(.destination, pattern: "@x"))
        #expect(try bare(.packet, "src arp:eth0") == .link(.source, protocolNumber: 0x0806, interface: 2))
        #expect(try bare(.netlink, "src rtnl:kernel") == .netlink(.source, protocolNumber: 0, portID: 0))
    }

    @Test func everyPortComparisonSpelling() throws {
        let spellings: [(String, PortComparison)] = [
            ("=", .equal), ("==", .equal), ("eq", .equal), ("!=", .notEqual), ("ne", .notEqual), ("neq", .notEqual),
            ("<", .less), ("lt", .less), (">", .greater), ("gt", .greater), ("<=", .lessOrEqual), ("le", .lessOrEqual),
            ("leq", .lessOrEqual), (">=", .greaterOrEqual), ("ge", .greaterOrEqual), ("geq", .greaterOrEqual),
        ]
        for (word, op) in spellings {
            #expect(try expr("sport \(word) :22") == .port(.source, op, 22), "\(word)")
            #expect(try expr("dport \(word) 22") == .port(.destination, op, 22), "\(word)")
        }
        #expect(try expr("sport :https") == .port(.source, .equal, 443), "the = is optional")
        #expect(try expr("dport = 0x50") == .port(.destination, .equal, 80))
        #expect(try expr("sport = *") == .host(.source, HostCondition()))
    }

    @Test func devMarkCgroupAutobound() throws {
        #expect(try expr("dev lo") == .device(index: 1, name: "lo"))
        #expect(try expr("dev = eth0") == .device(index: 2, name: "eth0"))
        #expect(try expr("dev 7") == .device(index: 7, name: nil))
        #expect(try expr("dev != lo") == .not(.device(index: 1, name: "lo")))
        #expect(try expr("fwmark = 0x10/0xff") == .mark(0x10, mask: 0xFF))
        #expect(try expr("fwmark 5") == .mark(5, mask: .max))
        #expect(try expr("fwmark != 5") == .not(.mark(5, mask: .max)))
        #expect(try expr("cgroup /test.slice") == .cgroup(id: 4242, path: "/test.slice"))
        #expect(try expr("cgroup != test.slice") == .not(.cgroup(id: 4242, path: "test.slice")))
        #expect(try expr("autobound") == .autobound)
    }

    @Test func booleanSpellingsAndJuxtaposition() throws {
        let a = FilterExpression.port(.source, .equal, 1), b = FilterExpression.port(.source, .equal, 2)
        for w in ["and", "&&", "&"] { #expect(try expr("sport = :1 \(w) sport = :2") == .and(a, b)) }
        for w in ["or", "||", "|"] { #expect(try expr("sport = :1 \(w) sport = :2") == .or(a, b)) }
        for w in ["not", "!"] { #expect(try expr("\(w) sport = :1") == .not(a)) }
        #expect(try expr("sport = :1 sport = :2") == .and(a, b), "juxtaposition is and")
        #expect(try expr("( sport = :1 )") == a)
        #expect(try expr("(sport = :1)") == a)
        #expect(try expr("not ( sport = :1 or sport = :2 )") == .not(.or(a, b)))
    }

    @Test func precedenceIsNotThenAndThenOrWithANoticeWhereSsDiffers() throws {
        let a = FilterExpression.port(.source, .equal, 1), b = FilterExpression.port(.source, .equal, 2)
        let c = FilterExpression.port(.source, .equal, 3)
        let f = try parse("sport = :1 or sport = :2 and sport = :3")
        #expect(f.expression == .or(a, .and(b, c)))
        #expect(f.notices.count == 1)
        #expect(f.notices.first?.contains("( sport = :1 or sport = :2 ) and sport = :3") == true, "names ss's reading")
        let same = try parse("sport = :1 and sport = :2 or sport = :3")
        #expect(same.expression == .or(.and(a, b), c))
        #expect(same.notices.isEmpty, "both readings agree")
        #expect(try parse("sport = :1 or ( sport = :2 and sport = :3 )").notices.isEmpty)
        #expect(try parse("not sport = :1 and sport = :2").expression == .and(.not(a), b), "not binds tightest")
        #expect(try parse("sport = :1 or sport = :2 sport = :3").notices.count == 1, "juxtaposition counts as and")
    }

    @Test func errorsNameTheTokenAndItsPosition() {
        func message(_ words: String...) -> String {
            do { _ = try FilterParser.parse(words, environment: testEnvironment); return "" } catch { return error.message }
        }
        #expect(message("sport", "=", "foo") == "expected a port after 'sport =' (word 3: 'foo')")
        #expect(message("sport", "=") == "expected a port after 'sport =' (at the end)")
        #expect(message("dport", ">", ":70000").hasPrefix("port 70000 is out of range"))
        #expect(message("dst", "nosuch.invalid") == "expected an address or a known host name after 'dst' (word 2: 'nosuch.invalid')")
        #expect(message("(", "sport", "=", ":1") == "expected ')' to close '(' of word 1 (at the end)")
        #expect(message("sport", "=", ":1", ")") == "unbalanced ')' (word 4: ')')")
        #expect(message("frobnicate").hasSuffix("(word 1: 'frobnicate')"))
        #expect(message("state", "nonsense").contains("(word 2: 'nonsense')"))
        #expect(message("sport", "=", ":1", "and") == "expected a condition after 'and' (at the end)")
        #expect(message("dst", "!=", "10.0.0.1").contains("write 'not dst ADDRESS'"))
        #expect(message("dev", "nosuchdev") == "no such device after 'dev' (word 2: 'nosuchdev')")
        #expect(message("fwmark", "x/y").contains("(word 2: 'x/y')"))
        #expect(message("cgroup", "/missing").contains("No such file or directory"))
        #expect(message("sport", "=", "split").contains("ambiguous port"))
        #expect(message("dst", "10.0.0.0/33").contains("prefix length"))
        #expect(message("dst", "inet6:10.0.0.1").contains("not an inet6 address"))
        #expect(message("dst", "bad\u{1}name").contains("\\x01"), "control characters are shown escaped")
    }

    @Test func portOptionsAreSugarForTheSameTree() {
        let f = PortFilter(source: PortSpec(ranges: [22...22]), destination: PortSpec(ranges: [8000...8100]))
        #expect(f.filterExpression == .and(.port(.source, .equal, 22),
                                           .and(.port(.destination, .greaterOrEqual, 8000), .port(.destination, .lessOrEqual, 8100))))
    }
}

/// Random expressions of every kind the parser produces.
struct ExpressionGenerator {
    var rng: SplitMix

    mutating func n(_ k: UInt64) -> UInt64 { rng.next() % k }

    mutating func host() -> HostCondition {
        let port: UInt16? = n(3) == 0 ? UInt16(n(65536)) : nil
        switch n(5) {
        case 0: return HostCondition(port: port ?? 1)
        case 1: return HostCondition(family: n(2) == 0 ? .inet : .inet6, port: port)
        case 2:
            let plen = UInt8(n(33))
            let raw = UInt32(truncatingIfNeeded: rng.next())
            let masked = plen == 0 ? 0 : raw & (UInt32.max << UInt32(32 - plen))
            return HostCondition(address: IPAddress(ipv4: masked), prefixLength: plen == 0 ? 32 : plen, port: port)
        default:
            let plen = UInt8(n(129))
            var a = IPAddress(ipv6High: rng.next(), low: rng.next())
            let bits = Int(plen == 0 ? 128 : plen)
            a.high = bits >= 64 ? a.high : bits == 0 ? 0 : a.high & (UInt64.max << UInt64(64 - bits))
            a.low = bits >= 128 ? a.low : bits <= 64 ? 0 : a.low & (UInt64.max << UInt64(128 - bits))
            return HostCondition(address: a, prefixLength: UInt8(bits), port: port)
        }
    }

    mutating func leaf() -> FilterExpression {
        let side: PortSide = n(2) == 0 ? .source : .destination
        switch n(8) {
        case 0, 1: return .host(side, host())
        case 2, 3: return .port(side, PortComparison.allCases[Int(n(6))], UInt16(n(65536)))
        case 4: return n(2) == 0 ? .device(index: UInt32(n(4)), name: nil) : .device(index: 1, name: "lo")
        case 5: return .mark(UInt32(n(8)), mask: n(2) == 0 ? .max : UInt32(n(16)))
        case 6: return .cgroup(id: 4242, path: "/test.slice")
        default: return .autobound
        }
    }

    mutating func expression(depth: Int) -> FilterExpression {
        if depth == 0 || n(3) == 0 { return leaf() }
        switch n(3) {
        case 0: return .and(expression(depth: depth - 1), expression(depth: depth - 1))
        case 1: return .or(expression(depth: depth - 1), expression(depth: depth - 1))
        default: return .not(expression(depth: depth - 1))
        }
    }
}

@Suite struct FilterRoundTripTests {
    @Test func canonicalTextParsesBackToTheSameTree() throws {
        var g = ExpressionGenerator(rng: SplitMix(seed: 12))
        for _ in 0..<2000 {
            let e = g.expression(depth: 4)
            let text = e.text
            let back = try FilterParser.parse([text], environment: testEnvironment)
            #expect(back.expression == e, "\(text)")
            #expect(back.notices.isEmpty, "canonical text is unambiguous: \(text)")
        }
    }

    @Test func statesPrintBack() throws {
        for s: StateSet in [[.established], .all, .connected, [.listen, .timeWait], .bucket] {
            let f = ParsedFilter(states: s, expression: .port(.source, .equal, 22))
            let back = try FilterParser.parse([f.text], environment: testEnvironment)
            #expect(back.states == s && back.expression == f.expression, "\(f.text)")
        }
    }
}

@Suite struct FilterLimitsTests {
    @Test func hugeInputsAreErrorsOrShallowTreesNeverACrash() throws {
        let deep = [String](repeating: "not", count: 100_000) + ["autobound"]
        #expect(throws: FilterError.self) { try FilterParser.parse(deep) }
        let parens = [String](repeating: "(", count: 50_000).joined() + "autobound"
        #expect(throws: FilterError.self) { try FilterParser.parse([parens]) }
        // 30,000 separate ports through the option sugar: a balanced tree, evaluated and compiled.
        let spec = PortSpec(ranges: stride(from: 0, to: 60_000, by: 2).map { UInt16($0)...UInt16($0) })
        let e = PortFilter(either: spec).filterExpression
        let r = SocketRecord(proto: .tcp, family: .inet, state: .established, local: Endpoint(address: .anyIPv4, port: 4),
                             remote: Endpoint(address: .anyIPv4, port: 7))
        #expect(e.evaluate(r))
        let plan = InetDiagBytecode.plan(e)
        #expect(plan.bytecode == nil && !plan.exact, "too long for one attribute: filtered in userspace")
    }
}
