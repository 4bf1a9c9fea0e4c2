import SockscopeCollect
import Testing

/// Fixtures for the per-process /proc parsers: the bytes as the kernel writes them.
@Suite struct OwnerParsersTests {
    /// A stat line with `name` in the comm field; fields after it as a real `sleep` process has them.
    static func statLine(pid: Int32, name: [UInt8], threads: Int = 1) -> [UInt8] {
        Array("\(pid) (".utf8) + name
            + Array(") S 4021 4021 3975 34816 4021 4194304 107 0 0 0 0 0 0 0 20 0 \(threads) 0 1873262 5734400 249 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n".utf8)
    }

    @Test(arguments: [
        Array("sleep".utf8),
        Array("a) b (c".utf8),            // `)` and spaces: only the last `)` ends the name
        Array(") ) )".utf8),
        Array("x\ny".utf8),               // a newline inside the name
        [0x1B, 0x5B, 0x33, 0x31, 0x6D, 0x72, 0x65, 0x64, 0x0A],  // ESC [31m red \n
        [0xFF, 0xFE, 0x28, 0x29, 0xC3],   // invalid UTF-8, and `()` in the name
        [],
    ])
    func statNameUpToLastParen(name: [UInt8]) throws {
        let s = try #require(ProcStatParser.parse(Self.statLine(pid: 4242, name: name, threads: 3)))
        #expect(s.pid == 4242)
        #expect(s.name == name)
        #expect(s.state == UInt8(ascii: "S"))
        #expect(s.ppid == 4021)
        #expect(s.threads == 3)
    }

    @Test func statRejectsMalformed() {
        let bad: [[UInt8]] = [
            [], Array("1 (x".utf8), Array("1 x) S 1".utf8), Array("(x) S 1 2 3".utf8),
            Array("1 (x) S".utf8), Array("12a (x) S 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1".utf8),
            Array("1 (x) S 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 99999999999999999999999".utf8),
            [0x29, 0x28, 0x29],
        ]
        for b in bad { #expect(ProcStatParser.parse(b) == nil, "\(b)") }
    }

    @Test func commDropsOnlyTheKernelsNewline() {
        #expect(ProcCommParser.parse(Array("sshd\n".utf8)) == Array("sshd".utf8))
        #expect(ProcCommParser.parse(Array("a\nb\n\n".utf8)) == Array("a\nb\n".utf8))
        #expect(ProcCommParser.parse([0xFF, 0x0A]) == [0xFF])
        #expect(ProcCommParser.parse([]) == [])
    }

    @Test func statusUid() throws {
        let status = """
        Name:\tpython3
        Umask:\t0022
        State:\tS (sleeping)
        Tgid:\t812
        Pid:\t812
        PPid:\t1
        Uid:\t1000\t65534\t65534\t65534
        Gid:\t1000\t1000\t1000\t1000

        """
        let u = try #require(ProcStatusParser.uids(Array(status.utf8)))
        #expect(u.real == 1000)
        #expect(u.effective == 65534)
        // A process named "Uid:" shows in the Name line, escaped by the kernel, not as a Uid line.
        #expect(ProcStatusParser.uids(Array("Name:\tUid:\nUid:\t0\t0\t0\t0\n".utf8))?.real == 0)
        #expect(ProcStatusParser.uids(Array("Name:\tx\nGid:\t0\t0\t0\t0\n".utf8)) == nil)
        #expect(ProcStatusParser.uids(Array("Uid:\tabc\t0\n".utf8)) == nil)
        #expect(ProcStatusParser.uids(Array("Uid:\t1\n".utf8)) == nil)
    }

    static let hex64 = "3f4e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"

    @Test(arguments: [
        // cgroup v2: one line.
        ("0::/system.slice/ssh.service\n", "/system.slice/ssh.service", "ssh.service", nil),
        ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service\n",
         "/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service", "user@1000.service", nil),
        ("0::/user.slice/user-1000.slice/session-3.scope\n", "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", nil),
        ("0::/init.scope\n", "/init.scope", "init.scope", nil),
        ("0::/\n", "/", nil, nil),
        ("0::/system.slice\n", "/system.slice", nil, nil),
        // Containers: docker (systemd and cgroupfs drivers), containerd, podman, cri-o.
        ("0::/system.slice/docker-\(hex64).scope\n", "/system.slice/docker-\(hex64).scope", "docker-\(hex64).scope", hex64),
        ("0::/docker/\(hex64)\n", "/docker/\(hex64)", nil, hex64),
        ("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/cri-containerd-\(hex64).scope\n",
         "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/cri-containerd-\(hex64).scope",
         "cri-containerd-\(hex64).scope", hex64),
        ("0::/machine.slice/libpod-\(hex64).scope/container\n", "/machine.slice/libpod-\(hex64).scope/container",
         "libpod-\(hex64).scope", hex64),
        ("0::/kubepods.slice/crio-\(hex64).scope\n", "/kubepods.slice/crio-\(hex64).scope", "crio-\(hex64).scope", hex64),
        ("0::/kubepods/burstable/pod1a2b/\(hex64)\n", "/kubepods/burstable/pod1a2b/\(hex64)", nil, hex64),
        // Not container ids: too short, not hex.
        ("0::/system.slice/docker-abc.scope\n", "/system.slice/docker-abc.scope", "docker-abc.scope", nil),
        ("0::/docker/\(hex64.uppercased())\n", "/docker/\(hex64.uppercased())", nil, nil),
        // cgroup v1: the name=systemd hierarchy's path, whatever order the lines come in.
        ("""
        12:pids:/user.slice/user-0.slice/session-1.scope
        11:cpu,cpuacct:/user.slice
        1:name=systemd:/user.slice/user-0.slice/session-1.scope
        0::/user.slice/user-0.slice/session-1.scope

        """, "/user.slice/user-0.slice/session-1.scope", "session-1.scope", nil),
        ("""
        5:memory:/docker/\(hex64)
        3:cpu,cpuacct:/docker/\(hex64)
        1:name=systemd:/docker/\(hex64)

        """, "/docker/\(hex64)", nil, hex64),
        // v1 without name=systemd: the first line. A path with colons stays whole.
        ("4:cpu:/a:b/c.service\n2:memory:/x\n", "/a:b/c.service", "c.service", nil),
        // No trailing newline.
        ("0::/system.slice/cron.service", "/system.slice/cron.service", "cron.service", nil),
    ] as [(String, String, String?, String?)])
    func cgroup(_ input: String, path: String, unit: String?, container: String?) throws {
        let info = try #require(CgroupParser.parse(Array(input.utf8)))
        #expect(info.path == path)
        #expect(info.unit == unit)
        #expect(info.container == container)
    }

    @Test func cgroupMalformedAndOddBytes() {
        #expect(CgroupParser.parse([]) == nil)
        #expect(CgroupParser.parse(Array("garbage\n\n".utf8)) == nil)
        #expect(CgroupParser.parse(Array("0::\n".utf8)) == nil)
        // Invalid UTF-8 and control bytes in a path: kept (decoded lossily), never a trap.
        let odd: [UInt8] = Array("0::/system.slice/".utf8) + [0xFF, 0x1B, 0x5B] + Array(".service\n".utf8)
        let info = CgroupParser.parse(odd)
        #expect(info?.path.hasPrefix("/system.slice/") == true)
        #expect(info?.unit?.hasSuffix(".service") == true)
    }

    /// Bad input never traps: random bytes and every prefix of real files parse or return nil.
    @Test func parsersNeverTrapOnArbitraryBytes() {
        var rng = SystemRandomNumberGenerator()
        var inputs: [[UInt8]] = []
        let real = Self.statLine(pid: 7, name: Array("a) (b".utf8))
        for i in 0...real.count { inputs.append(Array(real.prefix(i))) }
        for _ in 0..<500 {
            inputs.append((0..<Int.random(in: 0..<120, using: &rng)).map { _ in
                [UInt8(ascii: "("), UInt8(ascii: ")"), 0x20, 0x0A, 0x3A, 0x30, 0x39, UInt8.random(in: 0...255, using: &rng)]
                    .randomElement(using: &rng) ?? 0
            })
        }
        var parsed = 0
        for b in inputs {
            if let s = ProcStatParser.parse(b) { parsed += 1; #expect(s.threads >= 0) }
            _ = ProcStatusParser.uids(b)
            _ = CgroupParser.parse(b)
            _ = ProcCommParser.parse(b)
        }
        // The whole real line is among the inputs and must parse.
        #expect(parsed >= 1)
    }
}
