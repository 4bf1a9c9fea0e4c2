import Foundation
import SockscopeModel
@testable import SockscopeRender
import Testing

/// One escaping rule: a name cannot forge syntax around it, invalid UTF-8 shows as `\xNN`, and a
/// huge name cannot widen a table column (JSON keeps it whole).
@Suite struct QuotingTests {
    static func record(owners: [SocketOwner] = [], port: UInt16 = 5999) -> SocketRecord {
        var r = SocketRecord(proto: .tcp, family: .inet, state: .listen,
                             local: Endpoint(address: IPAddress("127.0.0.1")!, port: port),
                             remote: Endpoint(address: IPAddress("0.0.0.0")!, port: 0), uid: 0, inode: 1)
        r.processes = owners
        return r
    }

    static func table(_ records: [SocketRecord], services: ServiceTable = ServiceTable(), numeric: Bool = true) -> String {
        var out: [UInt8] = []
        TableRenderer(options: TableOptions(header: false, numeric: numeric, services: services, processes: true))
            .render(records, into: &out, flush: { _ in })
        return String(decoding: out, as: UTF8.self)
    }

    /// The entries of a `users:((…),(…))` field as a reader splits them: at `),(` outside quotes,
    /// `\` escaping the next character inside them.
    static func entries(_ field: Substring) -> [String] {
        var out: [String] = [], current = "", quoted = false, escaped = false
        for c in field.dropFirst("users:((".count).dropLast(2) {
            current.append(c)
            if escaped { escaped = false; continue }
            if c == "\\" && quoted { escaped = true; continue }
            if c == "\"" { quoted.toggle(); continue }
            if !quoted && current.hasSuffix("),(") { out.append(String(current.dropLast(3))); current = "" }
        }
        out.append(current)
        return out
    }

    /// Case 7: a process named `",pid=1,fd=3),(` showed up as two owners; now as one, its quote escaped.
    @Test func aQuoteInANameCannotForgeAnOwner() throws {
        let forged = Array("\",pid=1,fd=3),(".utf8)
        let text = Self.table([Self.record(owners: [SocketOwner(pid: 42, rawName: forged, uid: 0, fd: 5)])])
        let field = try #require(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("users:(") })
        #expect(field == #"users:(("\",pid=1,fd=3),(",pid=42,fd=5))"#)
        #expect(Self.entries(field) == [#""\",pid=1,fd=3),(",pid=42,fd=5"#])
    }

    /// Every hostile name, a backslash before a quote included, is one entry whose quoted text
    /// decodes back to the terminal escaping of the name.
    @Test(arguments: [Array(#"\"#.utf8), Array(#"\""#.utf8), Array(#"a\\",pid=9,fd=9),("#.utf8), Array("\"\"".utf8),
                      Array(#"x",pid=1),("y"#.utf8)] + [[UInt8(ascii: "\\"), 0x22, 0xFF, 0x0A]])
    func anyNameIsOneEntry(name: [UInt8]) throws {
        let owners = [SocketOwner(pid: 7, rawName: name, uid: 0, fd: 3), SocketOwner(pid: 8, rawName: Array("ok".utf8), uid: 0, fd: 4)]
        let text = Self.table([Self.record(owners: owners)])
        #expect(text.split(separator: "\n").count == 1)
        let start = try #require(text.range(of: "users:("))
        let field = text[start.lowerBound...].dropLast()  // the newline
        let e = Self.entries(field)
        #expect(e.count == 2, "\(field)")
        #expect(e.last == #""ok",pid=8,fd=4"#)
        #expect(e.first?.hasSuffix(",pid=7,fd=3") == true)
    }

    /// The `1234/name` form (insight tables, live view, --watch-port lines): a name with that
    /// syntax in it is quoted, so `x+5` is not a count and `a 9/b` is not another owner.
    @Test func bareNamesAreQuotedWhenTheyHoldSyntax() {
        func owner(_ name: String) -> String {
            var r = Self.record(owners: [SocketOwner(pid: 1, rawName: Array(name.utf8), uid: 0, fd: 3)])
            r.processes?.append(SocketOwner(pid: 2, rawName: Array("b".utf8), uid: 0, fd: 3))
            return InsightText.owner(r)
        }
        #expect(owner("sshd") == "1/sshd+1")
        #expect(owner("x+5") == #"1/"x+5"+1"#)
        #expect(owner("a 9/b") == #"1/"a 9/b"+1"#)
        #expect(owner("q\"") == #"1/"q\""+1"#)
    }

    /// Invalid UTF-8 in a service or interface name shows as `\xNN`, not U+FFFD.
    @Test func invalidUTF8InServiceAndInterfaceNamesIsEscaped() {
        var services = ServiceTable()
        let raw = Array("bad".utf8) + [0xFF, 0xFE]
        services.add(name: String(decoding: raw, as: UTF8.self), raw: raw, port: 5999, proto: .tcp)
        var r = Self.record(port: 5999)
        r.interfaceIndex = 7
        r.rawInterface = [0x65, 0xFF, 0x1B]
        let text = Self.table([r], services: services, numeric: false)
        #expect(text.contains(#"127.0.0.1%e\xff\x1b:bad\xff\xfe"#), "\(text)")
        #expect(!text.contains("\u{FFFD}"))
        let ctx = PortContext(services: services)
        #expect(InsightText.port(5999, .tcp, ctx) == #"bad\xff\xfe"#)
    }

    /// A 200 KB service name is cut in the table (every row would be padded to it) and whole in JSON.
    @Test func aHugeServiceNameIsCutInTheTableAndWholeInJSON() throws {
        let long = String(repeating: "s", count: 200_000)
        var services = ServiceTable()
        services.add(name: long, port: 5999, proto: .tcp)
        services.add(name: "ssh", port: 22, proto: .tcp)
        let rows = [Self.record(port: 5999), Self.record(port: 22)]
        let lines = Self.table(rows, services: services, numeric: false).split(separator: "\n")
        #expect(lines.count == 2)
        let cut = String(repeating: "s", count: Escape.cellLimit - 3) + "…"   // "…" is 3 bytes
        #expect(lines[0].contains("127.0.0.1:\(cut) "), "\(lines[0].prefix(120))")
        #expect(lines.allSatisfy { $0.utf8.count < 200 }, "\(lines.map(\.utf8.count))")
        var json: [UInt8] = []
        JSONRenderer(ports: PortContext(services: services)).appendObject(Self.record(port: 5999), to: &json)
        #expect(String(decoding: json, as: UTF8.self).contains("\"service\":\"\(long)\""))
        #expect(InsightText.port(5999, .tcp, PortContext(services: services)) == cut)
    }
}
