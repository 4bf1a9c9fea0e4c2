/// Parsers for the per-process /proc files the owner scan reads. Each takes the file's bytes,
/// never a path, so fixtures can drive them; none traps on any input.

/// The fields of `/proc/PID/stat` the owner scan uses.
public struct ProcStat: Sendable, Hashable {
    public var pid: Int32
    /// The command name's raw bytes (`comm`, at most 15 bytes from the kernel, but not trusted to be).
    public var name: [UInt8]
    /// The one-letter state (`R`, `S`, `Z`, …).
    public var state: UInt8
    public var ppid: Int32
    /// Field 20: how many threads the process has.
    public var threads: Int
    /// Field 22: when the process started, in clock ticks after boot; nil when the line stops
    /// before it. A pid and a start time together name one process: a reused pid has a later one.
    public var startTime: UInt64?

    public init(pid: Int32, name: [UInt8], state: UInt8, ppid: Int32, threads: Int, startTime: UInt64? = nil) {
        self.pid = pid; self.name = name; self.state = state; self.ppid = ppid; self.threads = threads
        self.startTime = startTime
    }
}

public enum ProcStatParser {
    /// Parses `pid (name) state ppid … num_threads …`.
    ///
    /// The name is taken between the first `(` and the *last* `)`: a name may itself hold `)`,
    /// spaces, newlines and any other byte, but nothing after it can hold `)`. Nil when the
    /// line is too short or a number is not one.
    public static func parse(_ bytes: some Collection<UInt8>) -> ProcStat? {
        let b = Array(bytes)
        guard let open = b.firstIndex(of: UInt8(ascii: "(")),
              let close = b.lastIndex(of: UInt8(ascii: ")")), close > open,
              let pid = Int32(decimal: b[..<open].filter { $0 != 0x20 }) else { return nil }
        let name = Array(b[(open + 1)..<close])
        let fields = b[(close + 1)...].split(whereSeparator: { $0 == 0x20 || $0 == 0x0A })
        // fields[0] is field 3 (state); field n is fields[n - 3].
        guard fields.count >= 18, fields[0].count == 1, let state = fields[0].first,
              let ppid = Int32(decimal: fields[1]), let threads = Int(decimal: fields[17]) else { return nil }
        let start = fields.count > 19 ? UInt64(decimal: fields[19]) : nil
        return ProcStat(pid: pid, name: name, state: state, ppid: ppid, threads: threads, startTime: start)
    }
}

/// `/proc/PID/schedstat` (and `/proc/PID/task/TID/schedstat`): how long the task has run and how
/// many times it was switched in.
public struct ProcSchedstat: Sendable, Hashable {
    /// Nanoseconds on a CPU, as accounted at the task's last scheduler event.
    public var runtime: UInt64
    /// Times the task was switched in.
    public var switchIns: UInt64

    public init(runtime: UInt64, switchIns: UInt64) { self.runtime = runtime; self.switchIns = switchIns }
}

public enum ProcSchedstatParser {
    /// Parses `runtime wait switchins`. Nil when malformed, and when the runtime is 0: kernels
    /// that keep no such statistics print `0 0 0`, which would say a running task never runs.
    public static func parse(_ bytes: some Collection<UInt8>) -> ProcSchedstat? {
        let fields = Array(bytes).split(whereSeparator: { $0 == 0x20 || $0 == 0x0A })
        guard fields.count >= 3, let runtime = UInt64(decimal: fields[0]), runtime > 0,
              UInt64(decimal: fields[1]) != nil, let switchIns = UInt64(decimal: fields[2]) else { return nil }
        return ProcSchedstat(runtime: runtime, switchIns: switchIns)
    }
}

public enum ProcCommParser {
    /// The name from `/proc/PID/comm`: the kernel appends one `\n`, which is dropped; a newline
    /// that is part of the name itself stays.
    public static func parse(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var b = Array(bytes)
        if b.last == 0x0A { b.removeLast() }
        return b
    }
}

/// The uid lines of `/proc/PID/status`.
public struct ProcStatusUIDs: Sendable, Hashable {
    public var real: UInt32
    public var effective: UInt32
}

public enum ProcStatusParser {
    /// The real and effective uid from the `Uid:` line (`Uid:\treal\teffective\tsaved\tfs`).
    /// Nil when there is no well-formed `Uid:` line.
    public static func uids(_ bytes: some Collection<UInt8>) -> ProcStatusUIDs? {
        let prefix = Array("Uid:".utf8)
        for line in Array(bytes).split(separator: 0x0A, omittingEmptySubsequences: true) where line.starts(with: prefix) {
            let values = line.dropFirst(prefix.count).split(whereSeparator: { $0 == 0x09 || $0 == 0x20 })
            guard values.count >= 2, let real = UInt32(decimal: values[0]), let eff = UInt32(decimal: values[1]) else {
                return nil
            }
            return ProcStatusUIDs(real: real, effective: eff)
        }
        return nil
    }
}

/// What `/proc/PID/cgroup` says about a process.
public struct CgroupInfo: Sendable, Hashable {
    /// The cgroup path: the v2 unified line's, else the v1 `name=systemd` line's, else the first line's.
    public var path: String
    /// The systemd unit holding the process (`ssh.service`, `user@1000.service`, `session-3.scope`,
    /// `docker-<id>.scope`), when the path has one.
    public var unit: String?
    /// A container id (docker, containerd, podman, cri-o), when the path has one.
    public var container: String?

    public init(path: String, unit: String? = nil, container: String? = nil) {
        self.path = path; self.unit = unit; self.container = container
    }
}

public enum CgroupParser {
    /// Parses `/proc/PID/cgroup`: lines `hierarchy-id:controllers:path` (v2: `0::/path`).
    /// Nil when no line is well-formed.
    public static func parse(_ bytes: some Collection<UInt8>) -> CgroupInfo? {
        var v2: ArraySlice<UInt8>?, systemd: ArraySlice<UInt8>?, first: ArraySlice<UInt8>?
        for line in Array(bytes).split(separator: 0x0A, omittingEmptySubsequences: true) {
            // The path is everything after the second colon: it may hold colons itself.
            guard let c1 = line.firstIndex(of: 0x3A),
                  let c2 = line[(c1 + 1)...].firstIndex(of: 0x3A) else { continue }
            let id = line[..<c1], controllers = line[(c1 + 1)..<c2], path = line[(c2 + 1)...]
            guard !path.isEmpty else { continue }
            if first == nil { first = path }
            if id.elementsEqual("0".utf8) && controllers.isEmpty { v2 = path; break }
            if systemd == nil && controllers.elementsEqual("name=systemd".utf8) { systemd = path }
        }
        guard let chosen = v2 ?? systemd ?? first else { return nil }
        let path = String(decoding: chosen, as: UTF8.self)
        let components = path.split(separator: "/").map(String.init)
        return CgroupInfo(path: path, unit: unit(components), container: container(components))
    }

    static let unitSuffixes = [".service", ".scope", ".socket", ".mount", ".swap", ".target", ".timer"]

    /// The system unit: the first component, from the root, that names a unit other than a slice
    /// (as `systemctl status PID` reports it): `user@1000.service` rather than a unit of the user manager.
    static func unit(_ components: [String]) -> String? {
        components.first { c in unitSuffixes.contains { c.hasSuffix($0) && c.count > $0.count } }
    }

    /// Container ids, as the common runtimes name their cgroups:
    /// `docker-<id>.scope`, `/docker/<id>`, `cri-containerd-<id>.scope`, `libpod-<id>.scope`,
    /// `crio-<id>.scope`, and cgroupfs-driver Kubernetes paths `/kubepods/…/<id>`.
    static func container(_ components: [String]) -> String? {
        let prefixes = ["docker-", "cri-containerd-", "libpod-", "crio-"]
        // The innermost match wins: a container nested in a container-managed slice is the process's own.
        for (i, c) in components.enumerated().reversed() {
            for p in prefixes where c.hasPrefix(p) && c.hasSuffix(".scope") {
                let id = String(c.dropFirst(p.count).dropLast(".scope".count))
                if isContainerID(id) { return id }
            }
            if i > 0, isContainerID(c), ["docker", "kubepods", "lxc"].contains(components[i - 1]) || components[0] == "kubepods" {
                return c
            }
        }
        return nil
    }

    /// Runtimes use 64 lowercase hex digits.
    static func isContainerID(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

extension FixedWidthInteger {
    /// A non-negative decimal from ASCII digits only (no sign, no spaces); nil on anything else or overflow.
    init?(decimal digits: some Collection<UInt8>) {
        guard !digits.isEmpty else { return nil }
        var v: Self = 0
        for d in digits {
            guard d >= 0x30 && d <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Self(d - 0x30))
            if o1 || o2 { return nil }
            v = a
        }
        self = v
    }
}
