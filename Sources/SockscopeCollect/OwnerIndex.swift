import SockscopeFilter
import SockscopeModel
import SockscopeSystem
import Synchronization
import SystemPackage

/// Which processes hold which sockets: socket inode → owners, from one scan of `/proc/*/fd`.
public struct OwnerIndex: Sendable {
    /// Owners by socket inode, each socket's sorted by (pid, fd). Holds every socket the scan saw
    /// (unix and netlink sockets too), not only the ones a snapshot lists.
    public var table: SocketOwnerTable
    /// Processes whose descriptors could not be read (EACCES: another user's process when not
    /// root, or any other failure that is not the process simply having exited).
    public var unreadableProcesses: Int
    /// The first few processes that refused (pid and name), so the notice can say which.
    public var unreadableSample: [UnreadableProcess] = []
    /// Processes whose descriptors were read.
    public var scannedProcesses: Int
    /// The scan stopped early because this process had no file descriptor left (EMFILE, or
    /// ENFILE for the whole system): the processes after `scannedProcesses` were not read.
    public var ranOutOfDescriptors: Bool

    public init(table: SocketOwnerTable = .empty, unreadableProcesses: Int = 0, scannedProcesses: Int = 0,
                ranOutOfDescriptors: Bool = false) {
        self.table = table; self.unreadableProcesses = unreadableProcesses; self.scannedProcesses = scannedProcesses
        self.ranOutOfDescriptors = ranOutOfDescriptors
    }

    /// An index of an inode → owners map.
    public init(owners: [UInt64: [SocketOwner]], unreadableProcesses: Int = 0, scannedProcesses: Int = 0,
                ranOutOfDescriptors: Bool = false) {
        self.init(table: SocketOwnerTable(owners), unreadableProcesses: unreadableProcesses,
                  scannedProcesses: scannedProcesses, ranOutOfDescriptors: ranOutOfDescriptors)
    }

    /// Owners by socket inode, every list built (for tests and small indexes; `owners(of:)` looks one up).
    public var owners: [UInt64: [SocketOwner]] { table.dictionary }

    /// True when some owners may be missing because a process could not be read.
    public var isIncomplete: Bool { unreadableProcesses > 0 || ranOutOfDescriptors }

    /// The notice printed once when the index is incomplete.
    public static let incompleteNotice = "some owners could not be read (not root?)"

    /// The notice for this index, nil when it is complete. As root the hint would mislead (a
    /// process can still refuse root, e.g. one in another user namespace): say how many refused.
    /// Running out of descriptors is said as such whoever runs it: it is no permission problem.
    public func notice(effectiveUID: UInt32) -> String? {
        guard isIncomplete else { return nil }
        if ranOutOfDescriptors {
            let n = scannedProcesses
            return "some owners could not be read (ran out of file descriptors after \(n) process\(n == 1 ? "" : "es"))"
        }
        // As root, a refusal is rare and worth naming (a process in another user namespace).
        var which = ""
        if !unreadableSample.isEmpty {
            which = ": " + unreadableSample.map(\.label).joined(separator: ", ")
            if unreadableProcesses > unreadableSample.count { which += ", …" }
        }
        // Not root: most processes are someone else's, so naming a few says nothing.
        if effectiveUID != 0 { return Self.incompleteNotice }
        return "some owners could not be read (\(unreadableProcesses) process\(unreadableProcesses == 1 ? "" : "es") refused access\(which))"
    }

    /// The owners of a socket; none for inode 0 (TIME_WAIT and request sockets belong to no file).
    public func owners(of inode: UInt64) -> [SocketOwner] { table.owners(of: inode) }
}

/// Builds an `OwnerIndex` by reading `/proc/PID/fd/*` links of the form `socket:[INODE]`.
///
/// Every read is relative to a directory already open, and every per-process or per-fd failure
/// is expected: processes and descriptors come and go during the scan (ENOENT, ESRCH), other
/// users' processes are closed to us (EACCES), names can be odd (ENAMETOOLONG). Such an entry is
/// skipped and the scan goes on; only permission-like failures count as "unreadable". EMFILE and
/// ENFILE stop the scan: every further open would fail the same way.
///
/// PID reuse: each process is read through one descriptor of its `/proc/PID` directory (`fd/`,
/// `stat`, `comm`, `status`, `cgroup` are opened relative to it), which stays bound to the process
/// it was opened for: once that process exits, reads through it fail rather than reach a newcomer
/// given the same pid. The start time (`stat` field 22) is read before the descriptors and again
/// after the other files: a different one means the directory named another process by then, and
/// the process is dropped.
///
/// Threads: a thread created with its own descriptor table (`clone` without `CLONE_FILES`, or
/// `unshare(CLONE_FILES)`) holds sockets that `/proc/PID/fd` does not show. For a process with
/// several threads, each thread whose table `kcmp(KCMP_FILES)` says differs from the process's
/// is scanned through `/proc/PID/task/TID/fd` as well; its sockets are attributed to the process
/// (pid = the thread group id), with the fd number in that thread's table. Without kcmp, a thread
/// table is scanned only when its fd numbers differ from the process's (see `scanThreads`).
public struct OwnerScanner: Sendable {
    /// Where procfs is mounted (tests point this at a tree of their own).
    public var procRoot: String
    /// Read `/proc/PID/cgroup` for each owning process.
    public var cgroups: Bool
    /// `-T`: one owner entry per thread holding the descriptor (its task id and thread name), as
    /// `ss -T` lists them, instead of one per process.
    public var threads = false
    /// Called with each pid after its descriptors were read and before its other files are: lets
    /// a test replace the process in between, as an exit and a reused pid would.
    var afterDescriptors: (@Sendable (Int32) -> Void)?

    public init(procRoot: String = "/proc", cgroups: Bool = true) {
        self.procRoot = procRoot; self.cgroups = cgroups
    }

    /// Scans every process. Never fails: what cannot be read is counted in `unreadableProcesses`.
    public func scan() -> OwnerIndex {
        var none: OwnerScanCache?
        return scan(cache: &none)
    }

    /// Scans every process like `scan()`, but takes the sockets of a process from `cache` when
    /// the process provably has not run since it was read, and leaves in `cache` what this scan
    /// learnt for the next one. The live view refreshes this way: a refresh then reads the
    /// descriptors only of the processes that ran, instead of a `readlink` per descriptor of every one.
    public func scan(cache: inout OwnerScanCache) -> OwnerIndex {
        var some: OwnerScanCache? = cache
        defer { cache = some ?? OwnerScanCache() }
        return scan(cache: &some)
    }

    func scan(cache: inout OwnerScanCache?) -> OwnerIndex {
        var index = OwnerIndex()
        // -T lists threads by name and table, which the cache does not keep: always read afresh.
        let incremental = cache != nil && !threads
        let previous = cache?.processes ?? [:]
        var kept: [Int32: OwnerScanCache.Process] = [:]
        var reused: Set<Int32> = []
        defer { if incremental { cache?.processes = kept; cache?.reusedProcesses = reused } }
        let proc: Directory
        do {
            proc = try Directory(path: procRoot)
        } catch {
            if Self.isExhausted(error.errno) { index.ranOutOfDescriptors = true } else { index.unreadableProcesses = 1 }
            return index
        }
        var pids: [Int32] = []
        do {
            try proc.forEachEntry { name, type in
                if type == .directory || type == .unknown, let pid = Int32(decimal: name), pid > 0 { pids.append(pid) }
            }
        } catch {
            index.unreadableProcesses += 1
        }
        // /proc lists pids in ascending order, but nothing promises it; the table is built in that order.
        if zip(pids, pids.dropFirst()).contains(where: { $0 >= $1 }) { pids.sort() }
        let users = UserNames()
        var processes: [SocketOwner] = []
        var entries: [SocketOwnerTable.Entry] = []
        // About as many sockets as last time: growing step by step cost a fifth of an incremental
        // scan at 100k sockets.
        entries.reserveCapacity(previous.values.reduce(0) { $0 + $1.sockets.count })
        var found: [FDSocket] = []
        let linkBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { linkBuffer.deallocate() }
        var exhausted = false
        // A file of the process, nil when it cannot be read; running out of descriptors is noted.
        func file(_ dir: Directory, _ name: String, _ limit: ReadLimit) -> [UInt8]? {
            do {
                return try dir.readFile(name, limit: limit)
            } catch {
                if Self.isExhausted(error.errno) { exhausted = true }
                return nil
            }
        }
        for pid in pids {
            if exhausted { break }
            found.removeAll(keepingCapacity: true)
            let dir: Directory
            do {
                dir = try Directory(at: proc, String(pid))
            } catch {
                if Self.isExhausted(error.errno) { exhausted = true; break }
                if !Self.isGone(error.errno) { index.unreadableProcesses += 1 }
                continue
            }
            // The run marks before the state (`stat`): see `OwnerScanCache`.
            let run = incremental ? file(dir, "schedstat", .small).flatMap(ProcSchedstatParser.parse) : nil
            let stat = file(dir, "stat", .small).flatMap { ProcStatParser.parse($0) }
            if exhausted { break }
            var marks: [OwnerScanCache.TaskMark]?
            if let run, let stat, stat.startTime != nil {
                if stat.threads == 1 {
                    if stat.state != UInt8(ascii: "R") { marks = [.init(tid: pid, run: run)] }
                } else if stat.threads <= OwnerScanCache.maxThreads {
                    marks = Self.taskMarks(dir)
                }
            }
            if let marks, let stat, let c = previous[pid], c.startTime == stat.startTime, c.marks == marks {
                // Not run since it was read: its descriptor table is as it was then. The name
                // and cgroup can change without the process running (a write to /proc/PID/comm
                // from its own threads aside, a move to another cgroup): those are read afresh.
                kept[pid] = c
                reused.insert(pid)
                index.scannedProcesses += 1
                if c.sockets.isEmpty { continue }
                let cgroup = cgroups ? file(dir, "cgroup", .cgroup).flatMap(CgroupParser.parse) : nil
                if exhausted { break }
                let owner = SocketOwner(pid: pid, rawName: stat.name, uid: c.uid, user: users.name(of: c.uid), fd: 0,
                                        cgroup: cgroup?.path, unit: cgroup?.unit, container: cgroup?.container)
                processes.append(owner)
                let id = UInt32(processes.count - 1)
                for s in c.sockets { entries.append(.init(inode: s.inode, process: id, fd: s.fd)) }
                continue
            }
            // What to keep of this process once read: only when every task was off a CPU when
            // its marks were read, and no other process shares its descriptor table.
            func keep(_ sockets: [FDSocket], uid: UInt32) {
                guard let marks, let start = stat?.startTime, let ppid = stat?.ppid, ppid > 0,
                      previous[pid]?.startTime == start || Tasks.shareFileTable(ppid, pid) == false else { return }
                kept[pid] = .init(startTime: start, marks: marks, sockets: sockets, uid: uid)
            }
            var unreadable = false
            switch Self.scanFDs(dir, "fd", linkBuffer: linkBuffer, into: &found) {
            case .gone: continue
            case .exhausted: exhausted = true
            case .unreadable:
                // Keep whatever was read before a descriptor was refused (normally nothing).
                unreadable = true
                index.unreadableProcesses += 1
                if index.unreadableSample.count < 3 {
                    let name = stat?.name ?? file(dir, "comm", .small).map(ProcCommParser.parse) ?? []
                    index.unreadableSample.append(UnreadableProcess(pid: pid, name: name))
                }
                if found.isEmpty { continue }
            case .read: index.scannedProcesses += 1
            }
            if exhausted { break }
            let processTable = found.count
            if let stat, stat.threads > 1 { scanThreads(dir, pid, linkBuffer: linkBuffer, into: &found) }
            if found.isEmpty {
                if !unreadable { keep([], uid: 0) }
                continue
            }
            afterDescriptors?(pid)

            // The name from stat, raw (comm is the same bytes plus a newline; it is the fallback).
            let name = stat?.name ?? file(dir, "comm", .small).map(ProcCommParser.parse) ?? []
            // The real uid from status; the /proc/PID directory's owner (the effective uid) if that fails.
            // Neither readable: the process has exited since its fds were read.
            guard let uid = file(dir, "status", .status).flatMap(ProcStatusParser.uids)?.real ?? (try? dir.ownerUID())
            else { continue }
            let cgroup = cgroups ? file(dir, "cgroup", .cgroup).flatMap(CgroupParser.parse) : nil
            if exhausted { break }
            // Still the process whose descriptors were read? (An exited one reads as nil: what was
            // read before it exited was true then, and stays.)
            if let before = stat?.startTime, let now = file(dir, "stat", .small).flatMap(ProcStatParser.parse),
               now.startTime != before {
                continue
            }
            let owner = SocketOwner(pid: pid, rawName: name, uid: uid, user: users.name(of: uid), fd: 0,
                                    cgroup: cgroup?.path, unit: cgroup?.unit, container: cgroup?.container)
            if threads {
                for task in taskTables(dir, pid, processTable: Array(found[..<processTable]), linkBuffer: linkBuffer) {
                    var o = owner
                    o.tid = task.tid; o.rawName = task.name ?? name
                    processes.append(o)
                    let id = UInt32(processes.count - 1)
                    for s in task.sockets { entries.append(.init(inode: s.inode, process: id, fd: s.fd)) }
                }
                continue
            }
            processes.append(owner)
            let id = UInt32(processes.count - 1)
            for s in found { entries.append(.init(inode: s.inode, process: id, fd: s.fd)) }
            if !unreadable { keep(found, uid: uid) }
        }
        index.ranOutOfDescriptors = exhausted
        index.table = SocketOwnerTable(processes: processes, entries: consume entries)
        return index
    }

    struct FDSocket: Hashable {
        var fd: Int32
        var inode: UInt64
    }

    enum FDScan { case read, gone, unreadable, exhausted }

    /// Reads one descriptor table (`fd` or `task/TID/fd` under a process directory), appending its sockets.
    static func scanFDs(_ parent: Directory, _ path: String, linkBuffer: UnsafeMutableRawBufferPointer,
                        into found: inout [FDSocket]) -> FDScan {
        let dir: Directory
        do {
            dir = try Directory(at: parent, path)
        } catch {
            if isExhausted(error.errno) { return .exhausted }
            return isGone(error.errno) ? .gone : .unreadable
        }
        var denied = false
        do throws(SystemError) {
            try dir.forEachEntry { name, _ in
                guard let fd = Int32(decimal: name), let base = name.baseAddress else { return }
                // readdir's names are NUL-terminated in place: pass the name to readlinkat as is.
                let cName = UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self)
                let n: Int
                do throws(SystemError) {
                    n = try dir.readLink(cName, into: linkBuffer)
                } catch {
                    if !isGone(error.errno) { denied = true }
                    return
                }
                if let inode = socketInode(UnsafeRawBufferPointer(rebasing: linkBuffer[0..<n]), capacity: linkBuffer.count) {
                    found.append(FDSocket(fd: fd, inode: inode))
                }
            }
        } catch {
            // The process exited mid-listing: what was read before stays (it was true then).
            if !isGone(error.errno) { return .unreadable }
        }
        return denied ? .unreadable : .read
    }

    /// Scans the descriptor tables of threads that do not (or may not) share the process's.
    func scanThreads(_ process: Directory, _ pid: Int32, linkBuffer: UnsafeMutableRawBufferPointer,
                     into found: inout [FDSocket]) {
        let task: Directory
        do { task = try Directory(at: process, "task") } catch { return }
        var tids: [Int32] = []
        try? task.forEachEntry { name, _ in
            if let tid = Int32(decimal: name), tid != pid { tids.append(tid) }
        }
        var extra = false
        var processFDs: Set<Int32>?
        for tid in tids {
            switch Tasks.shareFileTable(pid, tid) {
            case true?:
                continue
            case false?:
                break
            case nil:
                // No kcmp (kernel without it, or refused): a table holding other fd numbers than the
                // process's is its own. One holding the same numbers is taken as shared — the limit of
                // this fallback — rather than reading every link of every thread (threads × fds).
                if processFDs == nil { processFDs = Self.fdNumbers(process, "fd") }
                if Self.fdNumbers(process, "task/\(tid)/fd") == processFDs { continue }
            }
            _ = Self.scanFDs(process, "task/\(tid)/fd", linkBuffer: linkBuffer, into: &found)
            extra = true
        }
        // A thread that shares the table after all (kcmp could not tell) repeats the process's fds.
        if extra {
            var seen = Set<FDSocket>()
            found = found.filter { seen.insert($0).inserted }
        }
    }

    /// For `-T`: every thread of the process with its name and the sockets in its descriptor
    /// table, which is the process's (`processTable`) unless kcmp says the thread has its own.
    func taskTables(_ process: Directory, _ pid: Int32, processTable: [FDSocket],
                    linkBuffer: UnsafeMutableRawBufferPointer) -> [(tid: Int32, name: [UInt8]?, sockets: [FDSocket])] {
        var tids: [Int32] = []
        if let task = try? Directory(at: process, "task") {
            try? task.forEachEntry { name, _ in
                if let tid = Int32(decimal: name), tid > 0 { tids.append(tid) }
            }
        }
        // A thread that exited between the two listings simply is not there; the process itself
        // always is (its main thread may have exited while others run: then it is not listed).
        if tids.isEmpty { tids = [pid] }
        tids.sort()
        var out: [(tid: Int32, name: [UInt8]?, sockets: [FDSocket])] = []
        for tid in tids {
            let name = (try? process.readFile("task/\(tid)/comm", limit: .small)).map(ProcCommParser.parse)
            if tid == pid || Tasks.shareFileTable(pid, tid) != false {
                out.append((tid, name, processTable))
                continue
            }
            var own: [FDSocket] = []
            if case .read = Self.scanFDs(process, "task/\(tid)/fd", linkBuffer: linkBuffer, into: &own) {
                out.append((tid, name, own))
            }
        }
        return out
    }

    /// The run marks of every task of a multi-threaded process, each read before that task's
    /// state; nil when one is on a CPU or runnable, or cannot be read (see `OwnerScanCache`).
    static func taskMarks(_ process: Directory) -> [OwnerScanCache.TaskMark]? {
        guard let task = try? Directory(at: process, "task") else { return nil }
        var tids: [Int32] = []
        try? task.forEachEntry { name, _ in
            if let tid = Int32(decimal: name), tid > 0 { tids.append(tid) }
        }
        guard !tids.isEmpty, tids.count <= OwnerScanCache.maxThreads else { return nil }
        tids.sort()
        var marks: [OwnerScanCache.TaskMark] = []
        marks.reserveCapacity(tids.count)
        for tid in tids {
            guard let run = (try? task.readFile("\(tid)/schedstat", limit: .small)).flatMap(ProcSchedstatParser.parse),
                  let stat = (try? task.readFile("\(tid)/stat", limit: .small)).flatMap({ ProcStatParser.parse($0) }),
                  stat.state != UInt8(ascii: "R") else { return nil }
            marks.append(.init(tid: tid, run: run))
        }
        return marks
    }

    /// The fd numbers in a descriptor table (names only: no link is read).
    static func fdNumbers(_ proc: Directory, _ path: String) -> Set<Int32> {
        var out = Set<Int32>()
        guard let dir = try? Directory(at: proc, path) else { return out }
        try? dir.forEachEntry { name, _ in if let fd = Int32(decimal: name) { out.insert(fd) } }
        return out
    }

    /// `socket:[12345]` → 12345. A target that filled the buffer may have been cut: not a socket link.
    static func socketInode(_ target: UnsafeRawBufferPointer, capacity: Int) -> UInt64? {
        let prefix: StaticString = "socket:["
        let plen = prefix.utf8CodeUnitCount
        guard target.count < capacity, target.count > plen + 1, target[target.count - 1] == UInt8(ascii: "]") else {
            return nil
        }
        for i in 0..<plen where target[i] != prefix.utf8Start[i] { return nil }
        return UInt64(decimal: target[plen..<(target.count - 1)])
    }

    /// No descriptor left: for this process (EMFILE) or the whole system (ENFILE).
    static func isExhausted(_ e: Errno) -> Bool { e == .tooManyOpenFiles || e == .tooManyOpenFilesInSystem }

    /// The process or descriptor no longer exists (or never did): a normal race, not a failure.
    static func isGone(_ e: Errno) -> Bool {
        e == .noSuchFileOrDirectory || e == .noSuchProcess || e == .notDirectory || e == .fileNameTooLong
    }
}

/// What one owner scan learnt, for the next to reuse: per process, its sockets and the marks
/// that say whether it has run since.
///
/// Why this is safe: a descriptor table changes only when a task using it runs (open, close,
/// dup, accept, receiving descriptors, exec and exit all run in the task itself; io_uring's
/// workers are threads of the process). Each task's `schedstat` gives the time it has run
/// and how many times it was switched in; the time is brought up to date whenever the task
/// leaves a CPU. So when the marks were read before the task's state said it was off a CPU,
/// and the descriptors after both, equal marks later mean it has not executed since: any
/// switch-in counts one more, and a task that was still finishing its way off the CPU does no
/// descriptor work on that way. A runnable task, a kernel without these statistics (`0 0 0`),
/// too many threads, or a table shared with the parent process (`clone(CLONE_FILES)`, so
/// another process could change it; told by `kcmp`, and not kept when kcmp cannot say) are
/// read afresh every time. A pid is one process only with its start time.
///
/// Not covered: a table shared with a process that is not the parent (`CLONE_PARENT` with
/// `CLONE_FILES`, or a parent that exited before the first scan).
///
/// Unlike re-reading the fd names and reading links only for new numbers, this cannot keep an
/// old socket for a number that was closed and reopened between two scans (the lowest free
/// number is reused first, so that is the common case).
public struct OwnerScanCache: Sendable {
    /// One task's run marks.
    struct TaskMark: Sendable, Hashable {
        var tid: Int32
        var run: ProcSchedstat
    }

    /// A process as read: start time, the marks of every task, its sockets and real uid.
    struct Process: Sendable {
        var startTime: UInt64
        var marks: [TaskMark]
        var sockets: [OwnerScanner.FDSocket]
        var uid: UInt32
    }

    /// Processes with more threads are always read afresh: checking each thread costs two reads.
    static let maxThreads = 64

    var processes: [Int32: Process] = [:]
    /// The processes the last scan took from the cache instead of reading their descriptors.
    var reusedProcesses: Set<Int32> = []
    /// How many processes the last scan took from the cache.
    public var reused: Int { reusedProcesses.count }

    public init() {}

    /// How many processes the cache vouches for (those the next scan may not need to read).
    public var count: Int { processes.count }
}

/// An `OwnerScanCache` that the live view's collector keeps from one refresh to the next.
public final class OwnerScanMemory: Sendable {
    let cache = Mutex(OwnerScanCache())

    public init() {}

    /// Scans with the cache kept here (one scan at a time: the cache is held for its duration).
    public func scan(_ scanner: OwnerScanner) -> OwnerIndex {
        cache.withLock { scanner.scan(cache: &$0) }
    }
}

extension SocketCollector {
    /// Collects like `collect(_:)`, and when `owners` is true or the query selects by owner, scans
    /// /proc for the processes holding each socket: every record gets `processes` (empty when no
    /// process could be found, as for TIME_WAIT), the query's owner conditions are applied, and one
    /// notice is added if some processes could not be read.
    ///
    /// The scan runs on a second thread while the sockets are dumped on this one: the two are
    /// independent reads of the kernel, and on a machine with many sockets each costs about as
    /// much as the other.
    ///
    /// With `memory`, the scan reuses what the previous scans through it read, for processes
    /// that have not run since (see `OwnerScanCache`).
    public func collect(_ query: Query, owners: Bool, memory: OwnerScanMemory? = nil) throws(CollectError) -> Snapshot {
        guard owners || query.needsOwners else { return try collect(query) }
        var scanner = OwnerScanner(procRoot: options.procRoot)
        scanner.threads = options.threads
        let job = BackgroundJob { [scanner] in memory.map { $0.scan(scanner) } ?? scanner.scan() }
        var snapshot = try collect(query)
        let index = job.wait()
        Self.attach(index, to: &snapshot, query: query)
        return snapshot
    }

    /// Fills in `processes` from `index`, drops records failing the owner conditions, adds the notice.
    public static func attach(_ index: OwnerIndex, to snapshot: inout Snapshot, query: Query,
                              effectiveUID: UInt32 = Identity.effectiveUID) {
        // In place: a second array of the records was 10 MiB at 100k sockets. Both ends of a UNIX
        // connection are on this host: the peer's owners are in the same table.
        let table = index.table
        for i in snapshot.records.indices { snapshot.records[i].attachOwners(table) }
        if query.needsOwners { snapshot.records.removeAll { !query.matchesOwner($0) } }
        if let n = index.notice(effectiveUID: effectiveUID) { snapshot.notices.append(n) }
    }
}

/// A process whose descriptors could not be read, as a notice names it.
public struct UnreadableProcess: Sendable, Hashable {
    public var pid: Int32
    public var name: [UInt8]

    public init(pid: Int32, name: [UInt8]) { self.pid = pid; self.name = name }

    /// `812/sshd`; bytes other than printable ASCII become `?` (the notice is plain text on a
    /// terminal, and collection has no renderer's escaping).
    public var label: String {
        String(pid) + "/" + String(decoding: name.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }
}
