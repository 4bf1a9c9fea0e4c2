import Foundation
@testable import SockscopeCollect
import SockscopeModel
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The owner scan against a process that changes under it: a reused pid, a FIFO where a file
/// should be.
@Suite struct OwnerScanRaceTests {
    typealias FakeProc = OwnerScannerTests.FakeProc

    static func stat(pid: Int32, name: String, start: UInt64) -> Data {
        Data("\(pid) (\(name)) S 1 1 1 0 -1 4194304 107 0 0 0 0 0 0 0 20 0 1 0 \(start) 5734400 249 0 0 0 0 0 0\n".utf8)
    }

    /// Case 6: the process exits after its descriptors were read and a newcomer gets its pid. The
    /// scan used to read `PID/stat` and `PID/comm` again by path, and so named the newcomer as the
    /// socket's owner; read through the descriptor of the old directory, the owner stays the old one.
    @Test func aReusedPidDoesNotTakeOverTheSocket() throws {
        let proc = try FakeProc()
        let pid: Int32 = 2_000_000_200
        try proc.process(pid, name: Array("old".utf8), uid: 0, fds: [3: "socket:[8000]"])
        var scanner = OwnerScanner(procRoot: proc.root.path)
        let root = proc.root
        scanner.afterDescriptors = { p in
            // The old process's directory goes (as procfs would make it unreachable), a new one takes the pid.
            let fm = FileManager.default
            let dir = root.appendingPathComponent("\(p)")
            try? fm.moveItem(at: dir, to: root.appendingPathComponent("gone-\(p)"))
            try? fm.createDirectory(at: dir.appendingPathComponent("fd"), withIntermediateDirectories: true)
            try? Self.stat(pid: p, name: "newcomer", start: 9_999_999).write(to: dir.appendingPathComponent("stat"))
            try? Data("newcomer\n".utf8).write(to: dir.appendingPathComponent("comm"))
            try? Data("Uid:\t4242\t4242\t4242\t4242\n".utf8).write(to: dir.appendingPathComponent("status"))
        }
        let index = scanner.scan()
        let owners = index.owners(of: 8000)
        #expect(owners.map(\.pid) == [pid])
        #expect(owners.map(\.rawName) == [Array("old".utf8)], "\(owners.map(\.name))")
        #expect(owners.map(\.uid) == [0])
    }

    /// Case 6: the start time (stat field 22) read after the other files differs from the one read
    /// before the descriptors: another process by then, so the socket is not attributed to either.
    @Test func aChangedStartTimeDropsTheProcess() throws {
        let proc = try FakeProc()
        let pid: Int32 = 2_000_000_201
        try proc.process(pid, name: Array("first".utf8), uid: 0, fds: [3: "socket:[8001]"])
        try proc.process(pid + 1, name: Array("steady".utf8), uid: 0, fds: [3: "socket:[8002]"])
        var scanner = OwnerScanner(procRoot: proc.root.path)
        let root = proc.root
        scanner.afterDescriptors = { p in
            guard p == pid else { return }
            try? Self.stat(pid: p, name: "second", start: 7_777_777).write(to: root.appendingPathComponent("\(p)/stat"))
        }
        let index = scanner.scan()
        #expect(index.owners(of: 8001).isEmpty, "\(index.owners(of: 8001).map(\.name))")
        #expect(index.owners(of: 8002).map(\.rawName) == [Array("steady".utf8)])
        #expect(index.unreadableProcesses == 0)
    }

    /// Case 3: a FIFO as `PID/stat` (or comm, status, cgroup) used to hang the scan in open(2);
    /// now that file is skipped like an unreadable one and the socket keeps its owner.
    @Test func aFIFOInAProcessDirectoryIsSkippedNotWaitedFor() throws {
        let proc = try FakeProc()
        let pid: Int32 = 2_000_000_210
        try proc.process(pid, name: Array("fifo".utf8), uid: 0, fds: [3: "socket:[8100]"])
        let dir = proc.root.appendingPathComponent("\(pid)").path
        for name in ["stat", "cgroup"] {
            unlink(dir + "/" + name)
            #expect(mkfifo(dir + "/" + name, 0o600) == 0)
        }
        let index = OwnerScanner(procRoot: proc.root.path).scan()
        // The name falls back to comm; no cgroup.
        #expect(index.owners(of: 8100).map(\.rawName) == [Array("fifo".utf8)])
        #expect(index.owners(of: 8100).first?.cgroup == nil)
    }

    @Test func runningOutOfDescriptorsIsSaidAsSuch() {
        let index = OwnerIndex(unreadableProcesses: 0, scannedProcesses: 67, ranOutOfDescriptors: true)
        for uid: UInt32 in [0, 1000] {
            #expect(index.notice(effectiveUID: uid) == "some owners could not be read (ran out of file descriptors after 67 processes)")
        }
    }
}
