/// Work started on another thread now, whose result is collected later with `wait()`:
/// used to scan /proc while the netlink dump runs on the calling thread.
///
/// `@unchecked Sendable`: `value` is written once by the worker before it signals `done`, and
/// read only after `wait()` has seen that signal; the semaphore orders the two accesses.
public final class BackgroundJob<Value: Sendable>: @unchecked Sendable {
    private var value: Value?
    private let done = Semaphore(value: 0)

    /// Starts `body` on a thread of its own (see `Threads`); when no thread can be created, runs
    /// it here and now instead: slower, never wrong.
    public init(_ body: @escaping @Sendable () -> Value) {
        let started = Threads.start {
            self.value = body()
            self.done.signal()
        }
        if !started {
            value = body()
            done.signal()
        }
    }

    /// Blocks until `body` has returned, and returns its result (any number of times).
    public func wait() -> Value {
        done.wait()
        defer { done.signal() }
        guard let v = value else { preconditionFailure("BackgroundJob signalled without a value") }
        return v
    }
}
