import Dispatch

/// Work started on another thread now, whose result is collected later with `wait()`:
/// used to scan /proc while the netlink dump runs on the calling thread.
///
/// `@unchecked Sendable`: `value` is written once by the worker before it signals `done`, and
/// read only after `wait()` has seen that signal; the semaphore orders the two accesses.
public final class BackgroundJob<Value: Sendable>: @unchecked Sendable {
    private var value: Value?
    private let done = DispatchSemaphore(value: 0)

    /// Starts `body` on a global concurrent queue.
    public init(_ body: @escaping @Sendable () -> Value) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.value = body()
            self.done.signal()
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
