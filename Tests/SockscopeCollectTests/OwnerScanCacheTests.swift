import Foundation
@testable import SockscopeCollect
import TestSupport
import Testing

/// The incremental owner scan against real processes: a child holds sockets and, on command,
/// closes and opens descriptors between two scans (a closed number is the first one reused);
/// after every scan its owners must be exactly what its own /proc/self/fd says, as a full scan
/// finds them.
@Suite struct OwnerScanCacheTests {
    /// A python child that holds sockets, changes them on command, and after each command prints
    /// its socket descriptors (fd → inode) as it sees them. Between commands it sleeps in a read.
    final class Holder {
        let process = Process()
        let input = Pipe(), output = Pipe()
        var pending = Data()

        static let script = """
        import json, os, signal, socket, sys, threading, time
        signal.alarm(120)
        for _ in range(int(sys.argv[1]) - 1):
            threading.Thread(target=lambda: time.sleep(300), daemon=True).start()
        keep = {}
        def listener():
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); keep[s.fileno()] = s
        def report():
            m = {}
            for fd in os.listdir("/proc/self/fd"):
                try: t = os.readlink("/proc/self/fd/" + fd)
                except OSError: continue
                if t.startswith("socket:["): m[fd] = int(t[8:-1])
            print(json.dumps({"pid": os.getpid(), "fds": m, "own": sorted(keep)}), flush=True)
        for _ in range(3): listener()
        report()
        for line in sys.stdin:
            w = line.split()
            if w[0] == "close": keep.pop(int(w[1])).close()
            elif w[0] == "reopen": keep.pop(int(w[1])).close(); listener()
            elif w[0] == "listener": listener()
            elif w[0] == "pair":
                a, b = socket.socketpair(); keep[a.fileno()] = a; keep[b.fileno()] = b
            report()
        """

        init(threads: Int) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", Self.script, String(threads)]
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        deinit {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }

        /// The next report: the child's pid, every socket it holds by fd (with any it inherited),
        /// and the fds of the sockets it opened itself (which commands may close).
        func report() throws -> (pid: Int32, fds: [Int32: UInt64], own: [Int32]) {
            while !pending.contains(0x0A) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
            }
            let end = try #require(pending.firstIndex(of: 0x0A))
            let line = pending[..<end]
            pending = Data(pending[(end + 1)...])
            let object = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
            let pid = try #require(object["pid"] as? Int)
            let fds = try #require(object["fds"] as? [String: Int])
            let own = try #require(object["own"] as? [Int])
            var out: [Int32: UInt64] = [:]
            for (fd, inode) in fds { out[try #require(Int32(fd))] = UInt64(inode) }
            return (Int32(pid), out, own.map { Int32($0) })
        }

        func send(_ command: String) throws -> (pid: Int32, fds: [Int32: UInt64], own: [Int32]) {
            input.fileHandleForWriting.write(Data((command + "\n").utf8))
            return try report()
        }
    }

    /// The sockets `pid` owns in `index`, by fd.
    static func owned(by pid: Int32, in index: OwnerIndex) -> [Int32: UInt64] {
        var out: [Int32: UInt64] = [:]
        for (inode, owners) in index.owners {
            for o in owners where o.pid == pid { out[o.fd] = inode }
        }
        return out
    }

    /// Scans with the cache until the child is taken from it (it sleeps between commands, but
    /// may still be on its way to the read when a scan comes), checking every scan on the way.
    static func scanUntilReused(_ scanner: OwnerScanner, _ cache: inout OwnerScanCache,
                                pid: Int32, expect: [Int32: UInt64]) -> Bool {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let index = scanner.scan(cache: &cache)
            #expect(owned(by: pid, in: index) == expect)
            if cache.reusedProcesses.contains(pid) { return true }
            usleep(20_000)
        }
        return false
    }

    @Test(arguments: [1, 3])
    func descriptorsClosedAndReopenedBetweenScans(threads: Int) throws {
        let child = try Holder(threads: threads)
        var state = try child.report()
        let pid = state.pid
        #expect(state.own.count == 3 && state.own.allSatisfy { state.fds[$0] != nil })
        let scanner = OwnerScanner(cgroups: false)
        var cache = OwnerScanCache()
        let first = scanner.scan(cache: &cache)
        #expect(Self.owned(by: pid, in: first) == state.fds)
        #expect(Self.scanUntilReused(scanner, &cache, pid: pid, expect: state.fds), "the child was never taken from the cache")

        // The same fd number, another socket: the lowest free number is the one just closed.
        let reopened = try #require(state.own.dropFirst().first)
        let old = state.fds[reopened]
        state = try child.send("reopen \(reopened)")
        #expect(state.fds[reopened] != nil && state.fds[reopened] != old)
        var index = scanner.scan(cache: &cache)
        #expect(Self.owned(by: pid, in: index) == state.fds)
        #expect(!index.owners(of: try #require(old)).contains { $0.pid == pid })
        #expect(Self.scanUntilReused(scanner, &cache, pid: pid, expect: state.fds))

        // Closed: gone from the index. Then two UNIX sockets, the first at the freed number.
        let closed = try #require(state.own.last)
        state = try child.send("close \(closed)")
        index = scanner.scan(cache: &cache)
        #expect(Self.owned(by: pid, in: index) == state.fds)
        #expect(Self.scanUntilReused(scanner, &cache, pid: pid, expect: state.fds))
        state = try child.send("pair")
        #expect(state.fds[closed] != nil)
        index = scanner.scan(cache: &cache)
        #expect(Self.owned(by: pid, in: index) == state.fds)
        #expect(Self.scanUntilReused(scanner, &cache, pid: pid, expect: state.fds))

        // Several changes at once, each at a reused number.
        let numbers = state.own
        _ = try child.send("close \(numbers[0])")
        _ = try child.send("close \(numbers[1])")
        _ = try child.send("listener")
        state = try child.send("listener")
        index = scanner.scan(cache: &cache)
        #expect(Self.owned(by: pid, in: index) == state.fds)
        // And what a full scan says now, for every process that sat still throughout.
        let full = scanner.scan()
        #expect(Self.owned(by: pid, in: full) == state.fds)
    }

    /// The owners taken from the cache are the owners a full scan finds, name, uid and all.
    @Test func reusedOwnersMatchAFullScan() throws {
        let child = try Holder(threads: 1)
        let state = try child.report()
        let scanner = OwnerScanner()
        var cache = OwnerScanCache()
        _ = scanner.scan(cache: &cache)
        #expect(Self.scanUntilReused(scanner, &cache, pid: state.pid, expect: state.fds))
        let incremental = scanner.scan(cache: &cache)
        let full = scanner.scan()
        for inode in state.fds.values {
            #expect(incremental.owners(of: inode) == full.owners(of: inode))
            #expect(incremental.owners(of: inode).first?.rawName == Array("python3".utf8))
        }
    }

    @Test func schedstatParser() {
        #expect(ProcSchedstatParser.parse(Array("12930443 8824569 4\n".utf8)) == ProcSchedstat(runtime: 12930443, switchIns: 4))
        // Kernels without the statistics print zeros: no marks, so no reuse.
        #expect(ProcSchedstatParser.parse(Array("0 0 0\n".utf8)) == nil)
        #expect(ProcSchedstatParser.parse(Array("1 2\n".utf8)) == nil)
        #expect(ProcSchedstatParser.parse(Array("1 x 3\n".utf8)) == nil)
        #expect(ProcSchedstatParser.parse([]) == nil)
    }
}
