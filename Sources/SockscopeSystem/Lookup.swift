import Glibc
import SockscopeModel
import SystemPackage

/// Name lookups the filter language needs: host names, interface names, cgroup paths.
public enum Lookup {
    /// Every address of a host name (`getaddrinfo`; A and AAAA unless `family` says one), in the
    /// resolver's order without repeats; empty when the name is unknown.
    public static func addresses(ofHost name: String, family: AddressFamily?) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = family == .inet ? AF_INET : family == .inet6 ? AF_INET6 : AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &res) == 0 else { return [] }
        defer { freeaddrinfo(res) }
        var out: [IPAddress] = []
        var p = res
        while let ai = p {
            if ai.pointee.ai_family == AF_INET, let sa = ai.pointee.ai_addr {
                let v = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
                let a = IPAddress(ipv4: v)
                if !out.contains(a) { out.append(a) }
            } else if ai.pointee.ai_family == AF_INET6, let sa = ai.pointee.ai_addr {
                let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { s in
                    withUnsafeBytes(of: s.pointee.sin6_addr) { Array($0) }
                }
                if let a = IPAddress(bytes: bytes), !out.contains(a) { out.append(a) }
            }
            p = ai.pointee.ai_next
        }
        return out
    }

    /// The index of an interface (`if_nametoindex`), nil when there is none.
    public static func interfaceIndex(name: String) -> UInt32? {
        let i = if_nametoindex(name)
        return i == 0 ? nil : i
    }

    /// Where cgroup v2 is mounted: the first `cgroup2` line of /proc/self/mounts (`/sys/fs/cgroup`, or
    /// `/sys/fs/cgroup/unified` on a hybrid host), else `/sys/fs/cgroup`.
    public static var cgroup2Mount: String {
        guard let bytes = try? Files.readAll("/proc/self/mounts") else { return "/sys/fs/cgroup" }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count >= 3 && f[2] == "cgroup2" { return String(f[1]) }
        }
        return "/sys/fs/cgroup"
    }

    /// The id of a cgroup v2 directory: its inode number on the cgroup2 file system, which is the id
    /// the kernel reports in `INET_DIAG_CGROUP_ID`. A path that does not exist as given is looked up
    /// under the cgroup2 mount, as ss does (`cgroup /system.slice`).
    public static func cgroupID(path: String) -> Result<UInt64, LookupFailure> {
        let cgroup2Mount = cgroup2Mount
        func probe(_ p: String) -> Result<UInt64, LookupFailure> {
            var st = stat()
            guard stat(p, &st) == 0 else { return .failure(LookupFailure(SystemError.message(Errno(rawValue: errno)))) }
            var mount = stat()
            // Same file system as the cgroup2 mount, and a directory: a cgroup, whose inode is its id.
            guard stat(cgroup2Mount, &mount) == 0, mount.st_dev == st.st_dev, st.st_mode & S_IFMT == S_IFDIR else {
                return .failure(LookupFailure("not a cgroup v2 directory (under \(cgroup2Mount))"))
            }
            return .success(UInt64(st.st_ino))
        }
        if case .success(let id) = probe(path) { return .success(id) }
        var rel = Substring(path)
        while rel.first == "/" { rel.removeFirst() }
        return rel.isEmpty ? probe(cgroup2Mount) : probe(cgroup2Mount + "/" + rel)
    }
}

extension Lookup {
    /// Every cgroup v2 directory under the mount by id (its inode number, the id the kernel reports
    /// in `INET_DIAG_CGROUP_ID`), as a path from the mount's root (`/system.slice/ssh.service`).
    /// Bounded: at most `limit` directories and `depth` levels are walked.
    public static func cgroupPaths(limit: Int = 200_000, depth: Int = 32) -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        var st = stat()
        // The first cgroup2 mount that exists here (a mounts line may name a path this mount
        // namespace hides), read once.
        var candidates: [String] = []
        if let bytes = try? Files.readAll("/proc/self/mounts") {
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count >= 3 && f[2] == "cgroup2" { candidates.append(String(f[1])) }
            }
        }
        candidates.append("/sys/fs/cgroup")
        guard let cgroup2Mount = candidates.first(where: { stat($0, &st) == 0 }) else { return out }
        out[UInt64(st.st_ino)] = "/"
        var stack: [(String, Int)] = [("", 0)]
        while let (rel, level) = stack.popLast(), out.count < limit {
            guard let dir = try? Directory(path: cgroup2Mount + rel) else { continue }
            var children: [String] = []
            try? dir.forEachEntry { name, type in
                if type == .directory || type == .unknown { children.append(String(decoding: name, as: UTF8.self)) }
            }
            for c in children {
                let path = rel + "/" + c
                var cs = stat()
                guard stat(cgroup2Mount + path, &cs) == 0, cs.st_mode & S_IFMT == S_IFDIR, cs.st_dev == st.st_dev else { continue }
                out[UInt64(cs.st_ino)] = path
                if level + 1 < depth { stack.append((path, level + 1)) }
            }
        }
        return out
    }
}

/// Why a lookup failed, in words for the user.
public struct LookupFailure: Error, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
