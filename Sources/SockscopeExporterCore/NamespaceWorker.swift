import Dispatch
import SockscopeSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A network namespace the exporter reads: its `netns` label and where to enter it.
public struct NamespaceTarget: Sendable, Hashable {
    /// The `netns` label: `host` for the exporter's own namespace, else the name under /run/netns
    /// (or the path given to `--netns`).
    public var label: String
    /// The namespace file to `setns` into; nil for the exporter's own namespace (no setns).
    public var path: String?

    public init(label: String, path: String?) { self.label = label; self.path = path }

    /// The exporter's own namespace.
    public static let host = NamespaceTarget(label: "host", path: nil)

    /// What to read: `host` alone by default; the `--netns` names; with `--all-netns` the host's and
    /// every entry of `/run/netns` that is a different namespace (by inode), listed afresh on each
    /// collection because namespaces come and go.
    public static func resolve(names: [String], all: Bool, runDirectory: String = "/run/netns") -> [NamespaceTarget] {
        var out: [NamespaceTarget] = []
        var seen = Set<String>()
        func add(_ t: NamespaceTarget) { if seen.insert(t.label).inserted { out.append(t) } }
        if all || names.isEmpty { add(.host) }
        for n in names { add(NamespaceTarget(label: n, path: NetworkNamespace.path(for: n))) }
        if all {
            let hostInode = inode("/proc/self/ns/net")
            var entries: [String] = []
            if let dir = try? Directory(path: runDirectory) {
                try? dir.forEachEntry { name, _ in entries.append(String(decoding: name, as: UTF8.self)) }
            }
            for name in entries.sorted() {
                let path = runDirectory + "/" + name
                // A bind mount of the host's own namespace would duplicate every `host` series.
                guard let ino = inode(path), ino != hostInode else { continue }
                add(NamespaceTarget(label: name, path: path))
            }
        }
        return out
    }

    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_ino) ^ UInt64(st.st_dev) << 48
    }
}

/// A thread that lives in one network namespace and runs jobs there.
///
/// `setns(CLONE_NEWNET)` moves the calling thread only. Every namespace gets its own long-lived
/// thread that enters it once: netlink sockets it opens belong to that namespace, files under
/// `/proc/thread-self/net` and `/proc/sys/net` show that namespace's tables and settings. (`/proc/net`
/// would not: it follows the thread group leader, which stays in the exporter's namespace.) The
/// alternative — setns in and back out around each dump on a shared thread — would leave a thread
/// in the wrong namespace if the way back failed, and costs two syscalls and a file open per dump.
///
/// `@unchecked Sendable`: the job list is a `Mutex`; everything a job touches that belongs to the
/// namespace is owned by the thread (see `NamespaceState`).
public final class NamespaceWorker: @unchecked Sendable {
    public let target: NamespaceTarget
    private let jobs = Mutex<[@Sendable (NamespaceState) -> Void]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// How often the thread wakes without work to fold destroy events into the counters, so that
    /// they never pile up between scrapes.
    let idleFold: Double

    /// Starts the thread and waits until it is in the namespace; throws when it cannot enter it.
    public init(_ target: NamespaceTarget, destroyEvents: Bool, topPorts: Int, idleFold: Double = 2) throws(CollectFailure) {
        self.target = target
        self.idleFold = idleFold
        let box = WorkerStart(worker: self, destroyEvents: destroyEvents, topPorts: topPorts)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        // 512 KiB: a job runs the dump and the analysis, whose deepest frames are small.
        pthread_attr_setstacksize(&attributes, 512 << 10)
        var thread = pthread_t()
        let unmanaged = Unmanaged.passRetained(box)
        let rc = pthread_create(&thread, &attributes, { raw in
            let box = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
            box.worker.run(box)
            return nil
        }, unmanaged.toOpaque())
        pthread_attr_destroy(&attributes)
        if rc != 0 {
            unmanaged.release()
            throw CollectFailure("cannot start a thread for netns \(target.label): \(String(cString: strerror(rc)))")
        }
        pthread_detach(thread)
        box.started.wait()
        if let f = box.failure.withLock({ $0 }) { throw CollectFailure(f) }
    }

    /// Runs `job` on the namespace's thread.
    public func submit(_ job: @escaping @Sendable (NamespaceState) -> Void) {
        jobs.withLock { $0.append(job) }
        wake.signal()
    }

    /// Ends the thread after the jobs already submitted, and waits for it.
    public func stop() {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) { return }
        wake.signal()
        finished.wait()
    }

    private func run(_ start: WorkerStart) {
        if let path = target.path {
            do {
                try NetworkNamespace.enter(path)
            } catch {
                start.failure.withLock { $0 = "cannot enter netns \(target.label): \(error)" }
                start.started.signal()
                finished.signal()
                return
            }
        }
        let state = NamespaceState(label: target.label, destroyEvents: start.destroyEvents, topPorts: start.topPorts)
        start.started.signal()
        while true {
            let woken = wake.wait(timeout: .now() + idleFold) == .success
            let batch = jobs.withLock { j -> [@Sendable (NamespaceState) -> Void] in
                let b = j
                j.removeAll()
                return b
            }
            for job in batch { job(state) }
            if !woken { state.foldDestroyEvents() }
            if stopped.load(ordering: .acquiring) && jobs.withLock({ $0.isEmpty }) { break }
        }
        state.close()
        finished.signal()
    }
}

private final class WorkerStart: @unchecked Sendable {
    let worker: NamespaceWorker
    let started = DispatchSemaphore(value: 0)
    let failure = Mutex<String?>(nil)
    let destroyEvents: Bool
    let topPorts: Int
    init(worker: NamespaceWorker, destroyEvents: Bool, topPorts: Int) {
        self.worker = worker; self.destroyEvents = destroyEvents; self.topPorts = topPorts
    }
}

/// A collection that failed; the message names the namespace.
public struct CollectFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
