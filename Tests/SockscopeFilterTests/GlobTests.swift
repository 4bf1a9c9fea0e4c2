import SockscopeFilter
import SockscopeModel
import Testing

/// fnmatch(3) as ss applies it to UNIX names (`FNM_CASEFOLD` only), and the family rules that use
/// it, evaluated on records of each family.
@Suite struct GlobTests {
    func m(_ pattern: String, _ name: String) -> Bool { Glob(pattern).matches(Array(name.utf8)) }

    @Test func wildcardsSetsAndEscapes() {
        #expect(m("/run/*.sock", "/run/docker.sock") && m("/run/*.sock", "/run/a/b.sock"), "* crosses /")
        #expect(!m("/run/*.sock", "/run/docker.sockx") && !m("/run/*.sock", "/var/run/x.sock"))
        #expect(m("*", "") && m("*", "anything") && !m("?", "") && m("?", "x") && !m("??", "x"))
        #expect(m("/RUN/X.SOCK", "/run/x.sock") && m("[a-c]x", "Bx"), "case folded")
        #expect(m("[!a-c]x", "dx") && !m("[!a-c]x", "ax") && m("[^a]", "b"))
        #expect(m("[]]", "]") && m("[a-]", "-") && m("x[[:digit:]]", "x7") && !m("x[[:digit:]]", "xa"))
        #expect(m("\\*", "*") && !m("\\*", "x") && m("a\\", "a\\"), "a trailing backslash is itself")
        #expect(m("[ab", "[ab") && !m("[ab", "a"), "an unclosed [ is itself")
        #expect(m("@name*", "@name@\u{1B}"), "bytes, any of them")
        #expect(m("*a*a*a*a*a*a*b", String(repeating: "a", count: 60) + "b"))
        #expect(!m("*a*a*a*a*a*a*b", String(repeating: "a", count: 60)), "no exponential backtracking")
    }

    func unix(_ name: UnixName, peer: UnixName = .unnamed) -> SocketRecord {
        var r = SocketRecord(proto: .unixStream, family: .unix, state: .established,
                             local: .unix(UnixEndpoint(kind: .unnamed, inode: 10)),
                             remote: .unix(UnixEndpoint(kind: .unnamed, inode: 11)), inode: 10)
        r.localUnixName = name
        r.remoteUnixName = peer
        return r
    }

    @Test func unixRulesReadEachEndsNameAsSsShowsIt() throws {
        let p = unix(.path(Array("/run/x.sock".utf8))), c = unix(.unnamed, peer: .path(Array("/run/x.sock".utf8)))
        let a = unix(.abstract([0x6B, 0x00, 0x76]))
        let src = try FilterParser.parse(["src", "unix:/run/*"], environment: testEnvironment).expression
        let dst = try FilterParser.parse(["dst", "unix:/run/*"], environment: testEnvironment).expression
        #expect(src.evaluate(p) && !src.evaluate(c) && dst.evaluate(c) && !dst.evaluate(p))
        let at = try FilterParser.parse(["src", "unix:@k@v"], environment: testEnvironment).expression
        #expect(at.evaluate(a), "an abstract name is @ and its bytes, each NUL as @")
        let any = try FilterParser.parse(["src", "unix:*"], environment: testEnvironment).expression
        #expect(any.evaluate(c), "an unnamed socket is the empty name, which * matches")
        #expect(src.familyRules == [.unixStream, .unixDgram, .unixSeqpacket])
        let auto = try FilterParser.parse(["autobound"], environment: testEnvironment).expression
        #expect(auto.evaluate(c) && auto.evaluate(unix(.abstract(Array("0a1f3".utf8)))) && !auto.evaluate(p) && !auto.evaluate(a))
    }

    @Test func linkAndNetlinkRulesReadTheirEndpoints() throws {
        let pk = SocketRecord(proto: .packetRaw, family: .packet, state: .close,
                              local: .packet(PacketEndpoint(interfaceIndex: 2, protocolNumber: 0x0806)),
                              remote: .packet(PacketEndpoint(interfaceIndex: 0, protocolNumber: 0)))
        func e(_ words: [String]) throws -> FilterExpression { try FilterParser.parse(words, environment: testEnvironment).expression }
        func on(_ r: SocketRecord, _ words: String...) throws -> [Bool] {
            try words.map { try e($0.split(separator: " ").map(String.init)).evaluate(r) }
        }
        #expect(try on(pk, "src link:arp", "src link:ip", "src link:arp:eth0", "src link:*:1") == [true, false, true, false])
        #expect(try e(["src", "link:*"]).familyRules == [.packetRaw, .packetDgram])
        let nl = SocketRecord(proto: .netlink, family: .netlink, state: .close,
                              local: .netlink(NetlinkEndpoint(protocolNumber: 0, portID: 4242)),
                              remote: .netlink(NetlinkEndpoint(protocolNumber: 0, portID: 0)))
        let kernel = SocketRecord(proto: .netlink, family: .netlink, state: .close,
                                  local: .netlink(NetlinkEndpoint(protocolNumber: 9, portID: 0)),
                                  remote: .netlink(NetlinkEndpoint(protocolNumber: 9, portID: 0)))
        #expect(try on(nl, "src netlink:rtnl:4242", "src netlink:rtnl:4243", "src link:*") == [true, false, false])
        #expect(try on(kernel, "src netlink:audit:kernel", "src netlink:rtnl") == [true, false])
        #expect(try on(pk, "src netlink:rtnl") == [false], "each rule its own family")
        let anyNetlink = try e(["src", "netlink:*"]), port = try e(["sport", "=", ":22"])
        #expect(anyNetlink.familyRules == [.netlink] && port.familyRules.isEmpty)
    }
}
