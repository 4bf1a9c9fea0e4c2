import SystemPackage
// sockscope is Linux-only (netlink, /proc, libmnl): Glibc is imported unconditionally, with no
// platform guards to pretend otherwise.
import Glibc

// The system-call helpers every wrapper in this module goes through: EINTR is retried here and
// nowhere else, and errno is read into a typed `Errno` at the one place a call failed.

/// The calling thread's errno, typed.
var currentErrno: Errno { Errno(rawValue: Glibc.errno) }

/// Retries a system call while it fails with EINTR, returning its result or the typed error.
@inline(__always)
func retryingEINTR<T: BinaryInteger>(_ op: String, path: String? = nil, _ call: () -> T) throws(SystemError) -> T {
    while true {
        let r = call()
        if r >= 0 { return r }
        let e = currentErrno
        if e == .interrupted { continue }
        throw SystemError(op, path: path, errno: e)
    }
}

/// The same for calls that report failure with a nil pointer.
@inline(__always)
func retryingEINTR<T>(_ op: String, path: String? = nil, _ call: () -> T?) throws(SystemError) -> T {
    while true {
        if let r = call() { return r }
        let e = currentErrno
        if e == .interrupted { continue }
        throw SystemError(op, path: path, errno: e)
    }
}

/// Waits until `fd` is writable (for a descriptor left non-blocking by whoever shares it).
func waitWritable(_ fd: Int32) {
    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
    _ = poll(&p, 1, -1)
}
