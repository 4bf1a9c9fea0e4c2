import Foundation
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import TestSupport
import Testing

/// The owner scan, over a fake /proc tree (symlinks named like fds) and over the real one.
@Suite struct OwnerScannerTests {
    /// A temporary /proc look-alike, removed at the end of the test.
    final class FakeProc {
        let root: URL
        let fm = FileManager.default

        init() throws {
            root = fm.temporaryDirectory.appendingPathComponent("sockscope-fakeproc-\(UUID().uuidString)")
            try fm.createDirectory(at: root, withIntermediateDirectories: true)
        }

        deinit { try? fm.removeItem(at: root) }

        func process(_ pid: Int32, name: [UInt8], uid: UInt32, threads: Int = 1, cgroup: String = "0::/system.slice/test.service\n",
                     fds: [Int32: String]) throws {
            let dir = root.appendingPathComponent("\(pid)")
            try fm.createDirectory(at: dir.appendingPathComponent("fd"), withIntermediateDirectories: true)
            try Data(OwnerParsersTests.statLine(pid: pid, name: name, threads: threads)).write(to: dir.appendingPathComponent("stat"))
            try Data(name + [0x0A]).write(to: dir.appendingPathComponent("comm"))
            try Data("Name:\tx\nUid:\t\(uid)\t\(uid)\t\(uid)\t\(uid)\n".utf8).write(to: dir.appendingPathComponent("status"))
            try Data(cgroup.utf8).write(to: dir.appendingPathComponent("cgroup"))
            try links(dir.appendingPathComponent("fd"), fds)
        }

        func thread(_ pid: Int32, _ tid: Int32, fds: [Int32: String]) throws {
            let dir = root.appendingPathComponent("\(pid)/task/\(tid)/fd")
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            try links(dir, fds)
        }

        func links(_ dir: URL, _ fds: [Int32: String]) throws {
            for (fd, target) in fds {
                try fm.createSymbolicLink(atPath: dir.appendingPathComponent("\(fd)").path, withDestinationPath: target)
            }
        }
    }

    @Test func fakeTree() throws {
        let proc = try FakeProc()
        try proc.process(2_000_000_100, name: Array("a) b".utf8), uid: 0,
                         fds: [0: "/dev/null", 3: "socket:[5000]", 4: "socket:[5001]", 5: "pipe:[77]", 6: "anon_inode:[eventfd]",
                               7: "socket:[]", 8: "socket:[12x]", 9: "socket:[99999999999999999999999]", 10: "socket:[5000"])
        // A fork of the first: shares socket 5000 under another fd.
        try proc.process(2_000_000_101, name: [0xFF, 0x1B], uid: 65534, cgroup: "0::/system.slice/docker-\(OwnerParsersTests.hex64).scope\n",
                         fds: [9: "socket:[5000]"])
        // A process with a thread that has its own fd table (kcmp cannot vouch for fake pids): its
        // sockets count; the thread's copy of the shared fd 3 is not listed twice.
        try proc.process(2_000_000_102, name: Array("threads".utf8), uid: 0, threads: 2, fds: [3: "socket:[6000]"])
        try proc.thread(2_000_000_102, 2_000_000_102, fds: [3: "socket:[6000]"])
        try proc.thread(2_000_000_102, 2_000_000_103, fds: [3: "socket:[6000]", 4: "socket:[6001]"])
        // Without kcmp, a thread table with the same fd numbers as the process's is taken as shared
        // (the documented limit of the fallback): its socket 7001 is not read.
        try proc.process(2_000_000_105, name: Array("same".utf8), uid: 0, threads: 2, fds: [3: "socket:[7000]"])
        try proc.thread(2_000_000_105, 2_000_000_106, fds: [3: "socket:[7001]"])
        // Not processes: ignored.
        try FileManager.default.createDirectory(at: proc.root.appendingPathComponent("net"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: proc.root.appendingPathComponent("uptime"))
        // A process whose fd directory is missing (exited between listing and reading): skipped, not "unreadable".
        try FileManager.default.createDirectory(at: proc.root.appendingPathComponent("2000000104"), withIntermediateDirectories: true)

        let index = OwnerScanner(procRoot: proc.root.path).scan()
        #expect(index.unreadableProcesses == 0)
        #expect(index.scannedProcesses == 4)
        #expect(Set(index.owners.keys) == [5000, 5001, 6000, 6001, 7000])

        let shared = index.owners(of: 5000)
        #expect(shared.map(\.pid) == [2_000_000_100, 2_000_000_101])
        #expect(shared.map(\.fd) == [3, 9])
        #expect(shared[0].rawName == Array("a) b".utf8))
        #expect(shared[0].uid == 0)
        #expect(shared[0].user == "root")
        #expect(shared[0].cgroup == "/system.slice/test.service")
        #expect(shared[0].unit == "test.service")
        #expect(shared[1].rawName == [0xFF, 0x1B])
        #expect(shared[1].uid == 65534)
        #expect(shared[1].container == OwnerParsersTests.hex64)
        #expect(index.owners(of: 5001).map(\.fd) == [4])
        #expect(index.owners(of: 6000).map { [$0.pid, $0.fd] } == [[2_000_000_102, 3]])
        #expect(index.owners(of: 6001).map { [$0.pid, $0.fd] } == [[2_000_000_102, 4]])
        #expect(index.owners(of: 0).isEmpty)
    }

    @Test func missingRootIsIncomplete() {
        let index = OwnerScanner(procRoot: "/nonexistent-sockscope-proc").scan()
        #expect(index.isIncomplete)
        #expect(index.owners.isEmpty)
    }

    /// The real /proc: this test process's own sockets are found with their fds.
    @Test func ownSocketsInRealProc() throws {
        let listener = try Loopback.tcpListener()
        let (client, server) = try Loopback.tcpPair(listener)
        let index = OwnerScanner().scan()
        let me = getpid()
        for s in [listener, client, server] {
            let owners = index.owners(of: s.inode)
            #expect(owners.contains { $0.pid == me && $0.fd == s.fd }, "inode \(s.inode): \(owners)")
            #expect(owners.allSatisfy { $0.uid == getuid() })
        }
        #expect(index.scannedProcesses > 1)
    }

    /// A thread with its own fd table (unshare(CLONE_FILES)): its socket is attributed to the process.
    @Test func threadWithUnsharedFileTable() throws {
        let result = ThreadBox()
        let ready = DispatchSemaphore(value: 0), finish = DispatchSemaphore(value: 0)
        let thread = Thread {
            guard unshareFileTable() == 0 else { result.set(-1, 0); ready.signal(); return }
            let s = try? Loopback.tcpListener()
            result.set(s?.fd ?? -1, s?.inode ?? 0)
            ready.signal()
            finish.wait()
            _ = s  // closed when the thread ends, in its own table
        }
        thread.start()
        defer { finish.signal() }
        #expect(ready.wait(timeout: .now() + 10) == .success)
        let (fd, inode) = result.get()
        try #require(fd >= 0 && inode != 0)
        let index = OwnerScanner().scan()
        #expect(index.owners(of: inode).contains { $0.pid == getpid() && $0.fd == fd })
    }

    /// collect(_:owners:) on live sockets: every record has `processes`, and --pid filters by owner.
    @Test func collectAttachesAndFilters() throws {
        let listener = try Loopback.tcpListener()
        let c = SocketCollector(options: CollectOptions(source: .netlink))
        let q = Query(protocols: [.tcp], states: .all,
                      ports: PortFilter(source: try PortSpec(parsing: String(listener.local.port))))
        let s = try c.collect(q, owners: true)
        let row = try #require(s.records.first { $0.inode == listener.inode })
        #expect(row.processes?.contains { $0.pid == getpid() && $0.fd == listener.fd } == true)
        #expect(s.records.allSatisfy { $0.processes != nil })

        var byPid = q
        byPid.pid = getpid()
        #expect(try c.collect(byPid, owners: false).records.map(\.inode) == [listener.inode])
        byPid.pid = Int32.max
        #expect(try c.collect(byPid, owners: false).records.isEmpty)
    }

    @Test func attachMarksIncompleteOnce() {
        var snap = Snapshot(records: [], source: .netlink)
        SocketCollector.attach(OwnerIndex(unreadableProcesses: 3), to: &snap, query: Query(), effectiveUID: 1000)
        #expect(snap.notices == [OwnerIndex.incompleteNotice])
        var root = Snapshot(records: [], source: .netlink)
        SocketCollector.attach(OwnerIndex(unreadableProcesses: 1), to: &root, query: Query(), effectiveUID: 0)
        #expect(root.notices == ["some owners could not be read (1 process refused access)"])
        // As root the notice names the first few that refused, printable ASCII only.
        var named = OwnerIndex(unreadableProcesses: 4)
        named.unreadableSample = [UnreadableProcess(pid: 812, name: Array("ss\u{1b}hd".utf8)),
                                  UnreadableProcess(pid: 950, name: Array("pg\u{e9}".utf8))]
        #expect(named.notice(effectiveUID: 0) == "some owners could not be read (4 processes refused access: 812/ss?hd, 950/pg??, …)")
        #expect(named.notice(effectiveUID: 1000) == OwnerIndex.incompleteNotice)
        for uid: UInt32 in [0, 1000] {
            var clean = Snapshot(records: [], source: .netlink)
            SocketCollector.attach(OwnerIndex(), to: &clean, query: Query(), effectiveUID: uid)
            #expect(clean.notices.isEmpty)
        }
    }
}

/// A result handed from a test thread, under a lock.
final class ThreadBox: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32 = -1, inode: UInt64 = 0
    func set(_ f: Int32, _ i: UInt64) { lock.lock(); fd = f; inode = i; lock.unlock() }
    func get() -> (Int32, UInt64) { lock.lock(); defer { lock.unlock() }; return (fd, inode) }
}

/// unshare(CLONE_FILES) for the calling thread. Glibc's Swift module does not export unshare
/// (it is behind _GNU_SOURCE), so the test looks it up in libc itself.
func unshareFileTable() -> Int32 {
    typealias Unshare = @convention(c) (Int32) -> Int32
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "unshare") else { return -1 }
    let cloneFiles: Int32 = 0x400  // CLONE_FILES in <linux/sched.h>
    return unsafeBitCast(sym, to: Unshare.self)(cloneFiles)
}
