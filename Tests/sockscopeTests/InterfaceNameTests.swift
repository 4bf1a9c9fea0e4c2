import Foundation
import TestSupport
import Testing

/// Interface names are the kernel's bytes: any but `/`, `:`, whitespace and NUL, at most 15, not
/// necessarily UTF-8. Real interfaces (a veth pair and a tap device in a private network namespace)
/// named with invalid UTF-8, an escape sequence, a quote, a backslash and a control byte, each with a
/// socket bound to it (SO_BINDTODEVICE): the table shows every byte as a visible escape and cuts a
/// name that escapes past the column cap; JSON stays valid and carries the whole name (its
/// documented rule: invalid UTF-8 as U+FFFD, controls as \u escapes); CSV escapes as the table
/// does, without the cut.
@Suite(.requires(.root, .tool("unshare", package: "util-linux"), .tool("ip", package: "iproute2"), .tool("python3")))
struct InterfaceNameTests {
    static let script = #"""
    set -e
    out=$1; bin=$2
    red=$'\xff\x1b[31m'; quote=$'e\xc3("\\\x01'; long=$'\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe'
    ip link set lo up
    ip link add "$red" type veth peer name "$quote"
    ip tuntap add dev "$long" mode tap
    for d in "$red" "$quote" "$long"; do ip link set dev "$d" up; done
    ip -o link > "$out/links"
    python3 - "$red" "$quote" "$long" "$out" <<'PY' &
    import os, socket, sys, time
    names = [os.fsencode(n) for n in sys.argv[1:4]]
    keep = []
    for port, name in zip((7701, 7702, 7703), names):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, name)
        s.bind(("0.0.0.0", port)); s.listen(); keep.append(s)
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, names[1])
    u.bind(("::", 7704)); keep.append(u)
    open(os.path.join(sys.argv[4], "ready"), "w").close()
    time.sleep(30)
    PY
    helper=$!
    for i in $(seq 300); do [ -e "$out/ready" ] && break; sleep 0.1; done
    "$bin" -tulnH > "$out/table"
    "$bin" -tuln --json > "$out/json"
    "$bin" -tulnH --format csv > "$out/csv"
    # SIGKILL: the test process's blocked signals are inherited, SIGTERM would wait out the sleep.
    kill -9 $helper
    wait $helper 2>/dev/null || true
    """#

    @Test func hostileInterfaceNamesAreEscapedInTheTableAndValidInJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-ifnames-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Binary.run(try Requirement.tool("unshare", package: "util-linux").path(),
                               ["-n", "bash", "-c", Self.script, "script", dir.path, Binary.sockscope], timeout: 120)
        try #require(r.status == 0, "the namespace script failed (\(r.status)): \(r.stderrText)")
        func read(_ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }
        // The kernel took the names byte for byte.
        let links = try read("links")
        for raw in [[0xFF, 0x1B, 0x5B, 0x33, 0x31, 0x6D], [0x65, 0xC3, 0x28, 0x22, 0x5C, 0x01], [UInt8](repeating: 0xFE, count: 15)] as [[UInt8]] {
            #expect(links.range(of: Data(raw)) != nil, "ip link lists \(raw)")
        }

        let table = String(decoding: try read("table"), as: UTF8.self)
        let rows = table.split(separator: "\n").map(String.init)
        #expect(rows.count == 4, "\(table)")
        func row(_ port: Int) -> String? { rows.first { $0.contains(":\(port) ") } }
        #expect(row(7701)?.contains(#"0.0.0.0%\xff\x1b[31m:7701 "#) == true, "\(row(7701) ?? table)")
        #expect(row(7702)?.contains(#"0.0.0.0%e\xc3("\\\x01:7702 "#) == true, "\(row(7702) ?? table)")
        #expect(row(7704)?.contains(#"[::]%e\xc3("\\\x01:7704 "#) == true, "\(row(7704) ?? table)")
        // 15 bytes escape to 60: cut at the 32-byte column cap (seven whole escapes and the marker).
        #expect(row(7703)?.contains("0.0.0.0%" + String(repeating: #"\xfe"#, count: 7) + "…:7703 ") == true, "\(row(7703) ?? table)")
        // Nothing raw: no ESC, no other control byte, no invalid UTF-8 in the table.
        let tableBytes = try read("table")
        #expect(String(validating: Array(tableBytes), as: UTF8.self) != nil, "the table is valid UTF-8")
        #expect(!tableBytes.contains { $0 < 0x20 && $0 != 0x0A }, "no raw control byte in the table")

        // CSV: the table's escapes (it showed invalid UTF-8 as U+FFFD), whole, quoted where RFC 4180 says.
        let csv = String(decoding: try read("csv"), as: UTF8.self).split(separator: "\r\n").map(String.init)
        #expect(csv.count == 4, "\(csv)")
        func csvRow(_ port: Int) -> String? { csv.first { $0.contains(",\(port),") } }
        #expect(csvRow(7701)?.hasSuffix(#",\xff\x1b[31m"#) == true, "\(csvRow(7701) ?? "-")")
        #expect(csvRow(7702)?.hasSuffix(#","e\xc3(""\\\x01""#) == true, "\(csvRow(7702) ?? "-")")
        #expect(csvRow(7703)?.hasSuffix("," + String(repeating: #"\xfe"#, count: 15)) == true, "\(csvRow(7703) ?? "-")")
        #expect(!(try read("csv")).contains { $0 < 0x20 && $0 != 0x0A && $0 != 0x0D }, "no raw control byte in CSV")

        let json = try read("json")
        let rowsJSON = try #require(try JSONSerialization.jsonObject(with: json) as? [[String: Any]], "valid JSON")
        func interface(_ port: Int) -> String? {
            rowsJSON.first { ($0["local"] as? [String: Any])?["port"] as? Int == port }?["interface"] as? String
        }
        #expect(interface(7701) == "\u{FFFD}\u{1B}[31m")
        #expect(interface(7702) == "e\u{FFFD}(\"\\\u{01}")
        #expect(interface(7704) == "e\u{FFFD}(\"\\\u{01}")
        #expect(interface(7703) == String(repeating: "\u{FFFD}", count: 15), "JSON keeps the whole name")
        #expect(!json.contains { $0 < 0x20 && $0 != 0x0A }, "controls are \\u escapes in JSON")
        #expect(String(decoding: json, as: UTF8.self).contains(#""interface":"\ufffd\u001b[31m""#))
    }
}
