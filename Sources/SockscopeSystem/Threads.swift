#if canImport(Glibc)
import Glibc
#endif

/// Plain POSIX threads, in place of libdispatch: Dispatch creates an epoll descriptor (and an
/// eventfd) the first time a queue runs work, and when none is left (`prlimit --nofile=4`) it
/// traps with SIGILL. A thread needs no descriptor, and a failure to create one is an error the
/// caller can handle.
public enum Threads {
    /// Starts `body` on a new detached thread. False when the thread cannot be created (EAGAIN:
    /// the process or user is at its thread limit); `body` has then not run.
    @discardableResult
    public static func start(_ body: @escaping @Sendable () -> Void) -> Bool {
        let box = Unmanaged.passRetained(Box(body))
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attr, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box.toOpaque())
        if rc != 0 {
            box.release()
            return false
        }
        return true
    }

    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}

/// A counting semaphore on a pthread mutex and condition variable (no descriptor, unlike a
/// pipe; no libdispatch, see `Threads`).
public final class Semaphore: @unchecked Sendable {
    // Heap-allocated: a pthread mutex or condition must not move once initialised.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var count: Int

    public init(value: Int = 0) {
        count = value
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        // Timed waits on the monotonic clock: a wall-clock step must not lengthen or cut one.
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Adds one, waking a waiter.
    public func signal() {
        pthread_mutex_lock(mutex)
        count += 1
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Waits until the count is positive, then takes one.
    public func wait() {
        pthread_mutex_lock(mutex)
        while count <= 0 { pthread_cond_wait(condition, mutex) }
        count -= 1
        pthread_mutex_unlock(mutex)
    }

    /// Waits at most `seconds`; true when one was taken, false on timeout.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let s = max(0, min(seconds, 1e9))
        var deadline = timespec(tv_sec: now.tv_sec + Int(s), tv_nsec: now.tv_nsec + Int((s - s.rounded(.down)) * 1e9))
        if deadline.tv_nsec >= 1_000_000_000 { deadline.tv_sec += 1; deadline.tv_nsec -= 1_000_000_000 }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while count <= 0 {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
        }
        guard count > 0 else { return false }
        count -= 1
        return true
    }
}
