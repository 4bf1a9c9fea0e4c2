import Glibc
import SockscopeModel
import Synchronization

/// Reverse lookups (`getnameinfo`: /etc/hosts, then DNS, as nsswitch orders them) for `-r`, with
/// a cache for the life of the resolver, lookups in parallel, and a deadline per lookup.
///
/// `getnameinfo` cannot be cancelled and has no timeout of its own, so each lookup runs on a
/// worker thread and a lookup past its deadline is given up (the address stays numeric): its
/// worker is abandoned to finish in the background and a fresh one takes its place, up to a
/// bound on threads, so one dead DNS server costs one timeout for the batch, not one per peer.
public final class NameResolver: @unchecked Sendable {
    /// How one address fared.
    public enum Outcome: Sendable, Hashable {
        /// Still being looked up.
        case pending
        /// The resolver's name for it.
        case name(String)
        /// No name (or only the numeric form back), or the deadline passed.
        case none
    }

    private struct State {
        var results: [IPAddress: Outcome] = [:]
        var queue: [IPAddress] = []
        var queueHead = 0
        /// What each busy worker looks up, and since when (by worker id).
        var busy: [Int: (address: IPAddress, since: Double)] = [:]
        /// Workers running and not given up on.
        var activeWorkers = 0
        var startedWorkers = 0
        var nextWorkerID = 0
        /// Workers given up on: they exit when their lookup returns.
        var abandoned: Set<Int> = []

        var waiting: Int { queue.count - queueHead }
    }

    private let state = Mutex(State())
    private let progress = Semaphore()
    /// Seconds a single lookup may take.
    public let timeout: Double
    private let concurrency: Int
    private let threadBudget: Int
    private let onResult: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - timeout: seconds one lookup may take before its address is left numeric.
    ///   - concurrency: lookups in flight at once (a DNS server sees at most this many queries).
    ///   - onResult: called on a worker thread after each lookup that found a name (the live
    ///     view redraws then).
    public init(timeout: Double, concurrency: Int = 32, onResult: (@Sendable () -> Void)? = nil) {
        self.onResult = onResult
        self.timeout = max(0.001, timeout)
        self.concurrency = max(1, concurrency)
        // Replacements for stuck workers are bounded too: past this, what is left stays numeric.
        self.threadBudget = max(1, concurrency) * 8
    }

    /// What is known of `address` now; `.pending` while its lookup runs, `.none` when it was
    /// never requested.
    public func outcome(of address: IPAddress) -> Outcome {
        state.withLock { $0.results[address] ?? .none }
    }

    /// The name of `address`, when one has arrived.
    public func name(of address: IPAddress) -> String? {
        if case .name(let n) = outcome(of: address) { return n }
        return nil
    }

    /// Starts lookups for the addresses not asked before; returns at once. Unspecified
    /// addresses are never looked up (they are shown as `*`).
    public func request<S: Sequence>(_ addresses: S) where S.Element == IPAddress {
        let spawn: Int = state.withLock { s in
            for a in addresses where s.results[a] == nil {
                if a.isUnspecified { s.results[a] = Outcome.none; continue }
                s.results[a] = .pending
                s.queue.append(a)
            }
            return workersToStart(&s)
        }
        for _ in 0..<spawn { startWorker() }
    }

    /// Looks up every address and waits until each has a name, has none, or passed its
    /// deadline. Returns the names found.
    public func resolve<S: Sequence>(_ addresses: S) -> [IPAddress: String] where S.Element == IPAddress {
        let wanted = Array(addresses)
        request(wanted)
        while reapOverdue() > 0 {
            // Woken by each finished lookup; at least every 50 ms to reap overdue ones.
            progress.wait(seconds: min(0.05, timeout / 4))
        }
        return state.withLock { s in
            var out: [IPAddress: String] = [:]
            for a in wanted { if case .name(let n)? = s.results[a] { out[a] = n } }
            return out
        }
    }

    /// Gives up on lookups past their deadline (their addresses get `.none`), starts workers in
    /// place of the stuck ones, and returns how many lookups are still pending.
    @discardableResult
    public func reapOverdue() -> Int {
        let now = Clock.monotonic()
        var spawn = 0
        let pending: Int = state.withLock { s in
            for (id, job) in s.busy where now - job.since > timeout && !s.abandoned.contains(id) {
                s.abandoned.insert(id)
                s.activeWorkers -= 1
                if s.results[job.address] == .pending { s.results[job.address] = Outcome.none }
            }
            spawn = workersToStart(&s)
            if s.activeWorkers + spawn == 0 && s.waiting > 0 {
                // No thread left to take the rest (budget spent on stuck lookups, or none could
                // be created): they stay numeric rather than wait forever.
                for a in s.queue[s.queueHead...] where s.results[a] == .pending { s.results[a] = Outcome.none }
                s.queueHead = s.queue.count
            }
            return s.waiting + s.busy.keys.filter { !s.abandoned.contains($0) }.count
        }
        for _ in 0..<spawn { startWorker() }
        return pending
    }

    /// How many workers to start for the queue now (called under the lock; counts them as
    /// started).
    private func workersToStart(_ s: inout State) -> Int {
        let want = min(concurrency, s.activeWorkers + s.waiting) - s.activeWorkers
        let n = max(0, min(want, threadBudget - s.startedWorkers))
        s.activeWorkers += n
        s.startedWorkers += n
        return n
    }

    private func startWorker() {
        let id: Int = state.withLock { s in
            defer { s.nextWorkerID += 1 }
            return s.nextWorkerID
        }
        if !Threads.start({ [self] in self.workerLoop(id: id) }) {
            state.withLock { $0.activeWorkers -= 1 }
            progress.signal()
        }
    }

    /// Takes addresses off the queue until it is empty (then exits: a resolver keeps no idle
    /// threads), or until this worker was given up on.
    private func workerLoop(id: Int) {
        while true {
            let next: IPAddress? = state.withLock { s in
                guard s.queueHead < s.queue.count else {
                    s.activeWorkers -= 1
                    return nil
                }
                let a = s.queue[s.queueHead]
                s.queueHead += 1
                if s.queueHead > 4096 && s.queueHead * 2 > s.queue.count {
                    s.queue.removeFirst(s.queueHead); s.queueHead = 0
                }
                s.busy[id] = (a, Clock.monotonic())
                return a
            }
            guard let address = next else { progress.signal(); return }
            let found = Self.lookup(address)
            let keepGoing: Bool = state.withLock { s in
                s.busy[id] = nil
                if s.results[address] == .pending { s.results[address] = found.map { .name($0) } ?? Outcome.none }
                return s.abandoned.remove(id) == nil
            }
            progress.signal()
            if found != nil { onResult?() }
            if !keepGoing { return }
        }
    }

    /// One `getnameinfo` with `NI_NAMEREQD`: nil when there is no name.
    public static func lookup(_ address: IPAddress) -> String? {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let rc: Int32
        if let v4 = address.ipv4Value {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_addr.s_addr = v4.bigEndian
            rc = withUnsafePointer(to: &sa) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    getnameinfo($0, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NAMEREQD)
                }
            }
        } else {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &sa.sin6_addr) { dst in
                for (i, b) in address.bytes.prefix(16).enumerated() { dst[i] = b }
            }
            rc = withUnsafePointer(to: &sa) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    getnameinfo($0, socklen_t(MemoryLayout<sockaddr_in6>.size), &host, socklen_t(host.count), nil, 0, NI_NAMEREQD)
                }
            }
        }
        guard rc == 0 else { return nil }
        let name = host.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return name.isEmpty ? nil : name
    }
}
