import CSockShim
import Glibc
import SystemPackage

/// Network namespaces, for `--netns` (like `ss -N`).
public enum NetworkNamespace {
    /// The file for a namespace: a name as `ip netns` keeps it (`/run/netns/NAME`), or a path as
    /// given when it holds a `/` (`/proc/PID/ns/net`, a bind mount elsewhere).
    public static func path(for nameOrPath: String) -> String {
        nameOrPath.contains("/") ? nameOrPath : "/run/netns/" + nameOrPath
    }

    /// Moves the calling thread into the namespace (`setns(CLONE_NEWNET)`; needs CAP_SYS_ADMIN).
    ///
    /// Call it on the main thread before any other thread starts: threads created later inherit
    /// it, and `/proc/net` (a link to `/proc/self/net`, which follows the thread group leader)
    /// then shows the namespace's tables. Netlink sockets opened afterwards belong to it.
    /// Process descriptors (`/proc/PID/fd`) are the same in every namespace, and socket inodes
    /// come from the one sockfs superblock, so owners found by inode stay right.
    public static func enter(_ nameOrPath: String) throws(SystemError) {
        let file = path(for: nameOrPath)
        let fd = try retryingEINTR("open", path: file) { open(file, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        if sockscope_setns_net(fd) != 0 {
            let e = currentErrno.rawValue
            throw SystemError(e == EINVAL ? "setns (not a network namespace)" : "setns", path: file,
                              errno: Errno(rawValue: e))
        }
    }
}

extension ProcessSetup {
    /// Opens `/dev/null` on any of descriptors 0, 1 and 2 that is closed (`sockscope >&-`).
    ///
    /// Otherwise the first file or socket sockscope opens would get that number, and the output
    /// meant for stdout would go into it (a netlink socket, a /proc directory) — seen as
    /// "write error: Invalid argument" with `-p >&-`. Output to a closed stdout is discarded
    /// quietly, as for a reader that went away. Returns true when stdout was closed.
    @discardableResult
    public static func reserveStandardDescriptors() -> Bool {
        var stdoutClosed = false
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && currentErrno == .badFileDescriptor {
            if fd == 1 { stdoutClosed = true }
            let null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            // open returns the lowest free number: this one, since the lower ones are taken.
            if null >= 0 && null != fd { dup2(null, fd); close(null) }
        }
        return stdoutClosed
    }
}
