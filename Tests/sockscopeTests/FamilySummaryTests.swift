import Foundation
import TestSupport
import Testing

/// `-s` against the kernel's own counters, in a private network namespace where nothing else opens
/// or closes sockets between the reads.
@Suite struct FamilySummaryTests {
    /// `key value key value …` of the line starting with `prefix` in a sockstat file.
    func counters(_ text: String, _ prefix: String) -> [String: Int] {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix + ":") }) else { return [:] }
        let words = line.split(separator: " ").dropFirst().map(String.init)
        var out: [String: Int] = [:]
        for i in stride(from: 0, to: words.count - 1, by: 2) { out[words[i]] = Int(words[i + 1]) }
        return out
    }

    @Test(.requires(.root, .tool("unshare", package: "util-linux"), .tool("python3"), .tool("ip", package: "iproute2"), .tool("ss", package: "iproute2")))
    func summaryNumbersEqualSockstatReadAtTheSameMomentInAPrivateNetns() throws {
        let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Helpers/sockstat_netns.py").path
        let r = try Binary.run(try Requirement.tool("unshare").path(), ["-n", try Requirement.tool("python3").path(), helper, Binary.sockscope])
        #expect(r.status == 0, "\(r.stderrText)")
        let top = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let before = try #require(top["before"] as? [String: String]), after = try #require(top["after"] as? [String: String])
        // The counters must not have moved around sockscope's run, or the comparison would mean nothing
        // (the helper retries until they hold still).
        #expect(counters(before["sockstat"]!, "TCP") == counters(after["sockstat"]!, "TCP"), "\(top["attempts"] ?? "")")
        #expect(counters(before["sockstat"]!, "sockets") == counters(after["sockstat"]!, "sockets"))
        #expect(top["status"] as? Int == 0, "\(top["stderr"] ?? "")")
        let json = try #require(try JSONSerialization.jsonObject(with: Data((top["stdout"] as! String).utf8)) as? [String: Any])
        let k = try #require(json["sockstat"] as? [String: Any])
        let s4 = before["sockstat"]!, s6 = before["sockstat6"]!
        let tcp = counters(s4, "TCP")
        // `sockets: used` also counts the tools' own netlink sockets, which leave it only when the kernel
        // frees them (after an RCU grace period, not at close): sockscope's reading may differ by those.
        let used = counters(s4, "sockets")["used"]!
        #expect(abs((k["sockets"] as! Int) - used) <= 2, "\(k["sockets"] ?? "") vs \(used)")
        #expect(k["tcp_total"] as? Int == tcp["alloc"]! + tcp["tw"]!)
        #expect(k["tcp_orphaned"] as? Int == tcp["orphan"]!)
        #expect(k["tcp_timewait"] as? Int == tcp["tw"]!)
        #expect(k["tcp_closed"] as? Int == tcp["alloc"]! - (tcp["inuse"]! + counters(s6, "TCP6")["inuse"]! - tcp["tw"]!))
        let estab = before["snmp"]!.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }
        let names = estab[0].split(separator: " "), values = estab[1].split(separator: " ")
        #expect(k["tcp_established"] as? Int == Int(values[names.firstIndex(of: "CurrEstab")!]))
        #expect(k["tcp_established"] as? Int == 6)
        func row(_ key: String) -> [String: Int] { k[key] as! [String: Int] }
        #expect(row("raw") == ["ipv4": counters(s4, "RAW")["inuse"]!, "ipv6": counters(s6, "RAW6")["inuse"]!, "total": 2])
        #expect(row("udp") == ["ipv4": counters(s4, "UDP")["inuse"]!, "ipv6": counters(s6, "UDP6")["inuse"]!, "total": 2])
        #expect(row("tcp") == ["ipv4": tcp["inuse"]!, "ipv6": counters(s6, "TCP6")["inuse"]!, "total": 8])
        #expect(row("inet")["total"] == 12)
        // The UNIX table: the four socketpairs, and nothing else in this namespace.
        let u = try #require(json["unix"] as? [String: Int])
        #expect(u["total"] == 8 && u["stream"] == 8 && u["connected"] == 8)
        // The text's first lines are ss -s's, line for line (Total counts each tool's own sockets too).
        let ours = (top["text"] as! String).split(separator: "\n", omittingEmptySubsequences: false)
        let theirs = (top["ss"] as! String).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(ours.first?.hasPrefix("Total: ") == true && theirs.first?.hasPrefix("Total: ") == true)
        #expect(Array(ours.dropFirst().prefix(8)) == Array(theirs.dropFirst().prefix(8)), "\(ours)\n\(theirs)")
        // The keys -s --json always had are still there.
        for key in ["total", "protocols", "states", "top_listening_ports", "top_peers"] { #expect(json[key] != nil, "\(key)") }
    }
}
