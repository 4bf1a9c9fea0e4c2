import Foundation
import TestSupport
import Testing

/// `-b`: a packet socket's attached classic BPF program, in ss's text and in JSON.
@Suite struct PacketFilterTests {
    /// An AF_PACKET socket (IPv4 only, on no interface) with a four-instruction program attached
    /// through SO_ATTACH_FILTER. Prints `{"inode"}`.
    static let script = #"""
    import ctypes, json, os, signal, socket, struct, sys
    signal.alarm(120)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    prog = [(0x28, 0, 0, 12), (0x15, 0, 1, 0x0800), (0x06, 0, 0, 0xffff), (0x06, 0, 0, 0)]
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
    s.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(prog), ctypes.addressof(code)))  # SO_ATTACH_FILTER
    print(json.dumps({"inode": os.fstat(s.fileno()).st_ino}), flush=True)
    sys.stdin.read()
    """#

    static let line = "\tbpf filter (4):  0x28 0 0 12, 0x15 0 1 2048, 0x06 0 0 65535, 0x06 0 0 0,"

    @Test(.requires(.root, .tool("ss", package: "iproute2")))
    func attachedProgramAsSSPrintsIt() throws {
        let child = try PythonChild(script: Self.script)
        defer { child.stop() }
        let inode = try #require(child.json?["inode"] as? Int, "\(String(decoding: child.firstLine, as: UTF8.self))")
        let r = try Binary.sockscope(["-0be"])
        #expect(r.status == 0, "\(r.stderrText)")
        let lines = r.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let row = try #require(lines.firstIndex { $0.contains(" ino:\(inode) ") || $0.hasSuffix(" ino:\(inode)") }, "\(r.stdoutText)")
        #expect(lines.indices.contains(row + 1) && lines[row + 1] == Self.line, "\(lines[row...].prefix(2))")
        // ss prints the same line for it.
        let ss = try Binary.run("/usr/bin/ss", ["-0b"])
        #expect(ss.stdoutText.split(separator: "\n").contains { $0 == Self.line }, "\(ss.stdoutText)")
        // JSON: the instructions as numbers; without -b, no key.
        let j = try Binary.sockscope(["-0b", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: j.stdout) as? [[String: Any]])
        let mine = try #require(rows.first { $0["inode"] as? Int == inode })
        let program = (mine["bpf"] as? [[String: Int]]) ?? []
        #expect(program == [["code": 0x28, "jt": 0, "jf": 0, "k": 12], ["code": 0x15, "jt": 0, "jf": 1, "k": 0x0800],
                            ["code": 6, "jt": 0, "jf": 0, "k": 0xffff], ["code": 6, "jt": 0, "jf": 0, "k": 0]])
        let plain = try Binary.sockscope(["-0", "--json"])
        #expect(plain.status == 0 && !plain.stdoutText.contains("\"bpf\""))
    }

    @Test func bpfIsForTheListingFromNetlink() throws {
        let a = try Binary.sockscope(["-b", "--map"])
        #expect(a.status == 2 && a.stderrText.contains("-b does not apply to --map"), "\(a.stderrText)")
        let b = try Binary.sockscope(["-0b", "--source", "proc"])
        #expect(b.status == 2 && b.stderrText.contains("-b and --source proc cannot be combined"), "\(b.stderrText)")
    }
}
