#if canImport(Glibc)
import Glibc
#endif

/// Calls `body` with `posix_spawn` attributes that give the child an empty signal mask and every
/// signal's default action.
///
/// The test process blocks most signals on its threads and a spawned child inherits the mask:
/// without this a child never sees SIGHUP/SIGTERM/SIGALRM (a tmux server outlives kill-server,
/// a measurer's alarm never fires).
public func withSignalsReset<R>(_ body: (inout posix_spawnattr_t) throws -> R) rethrows -> R {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var empty = sigset_t(), all = sigset_t()
    sigemptyset(&empty)
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attr, &empty)
    posix_spawnattr_setsigdefault(&attr, &all)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    return try body(&attr)
}
