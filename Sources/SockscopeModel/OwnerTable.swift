/// Which processes hold which sockets, kept compact: each process (with `-T`, each thread) once,
/// and one 16-byte entry (inode, process, fd) per socket descriptor, sorted by inode.
///
/// Records point at the table instead of each carrying lists of the owners of itself and of its
/// peer: at 100k UNIX sockets (`-xap`) those lists, the dictionary holding them and a box per record
/// for the peer's were 51 MiB of a 72 MiB peak heap (heaptrack); the table is under 2 MiB.
public final class SocketOwnerTable: Sendable {
    /// One socket descriptor: the socket's inode, its process (an index into `processes`), the fd.
    public struct Entry: Sendable, Hashable {
        public var inode: UInt64
        public var process: UInt32
        public var fd: Int32

        public init(inode: UInt64, process: UInt32, fd: Int32) {
            self.inode = inode; self.process = process; self.fd = fd
        }
    }

    /// Each owning process (or thread) once, its `fd` unused (0).
    public let processes: [SocketOwner]
    /// Sorted by inode, then as `SocketOwner` orders owners (pid, fd, tid).
    public let entries: [Entry]

    /// A table of `processes` and `entries` (in any order: they are sorted here). An entry whose
    /// `process` is out of range is dropped. Pass `entries` with `consume` when it is large: sorting
    /// a shared array copies it first (3 MiB at 100k sockets).
    public init(processes: [SocketOwner], entries: consuming [Entry]) {
        let n = UInt32(processes.count)
        if entries.contains(where: { $0.process >= n }) { entries.removeAll { $0.process >= n } }
        // Descriptors come in pid and fd order and inodes are mostly handed out in that order too:
        // the check saves the sort on a quiet host, and the sort is cheap on long sorted runs.
        func before(_ a: Entry, _ b: Entry) -> Bool {
            if a.inode != b.inode { return a.inode < b.inode }
            let x = processes[Int(a.process)], y = processes[Int(b.process)]
            return (x.pid, a.fd, x.tid ?? 0) < (y.pid, b.fd, y.tid ?? 0)
        }
        var sorted = true
        for i in entries.indices.dropFirst() where !before(entries[i - 1], entries[i]) { sorted = false; break }
        if !sorted { entries.sort(by: before) }
        self.processes = processes
        self.entries = entries
    }

    /// The table of an inode → owners map (each list's owners taken as they are).
    public convenience init(_ owners: [UInt64: [SocketOwner]]) {
        var ids: [SocketOwner: UInt32] = [:]
        var processes: [SocketOwner] = []
        var entries: [Entry] = []
        for (inode, list) in owners {
            for o in list {
                var p = o
                p.fd = 0
                let id = ids[p] ?? {
                    processes.append(p)
                    ids[p] = UInt32(processes.count - 1)
                    return UInt32(processes.count - 1)
                }()
                entries.append(Entry(inode: inode, process: id, fd: o.fd))
            }
        }
        self.init(processes: processes, entries: entries)
    }

    /// The empty table.
    public static let empty = SocketOwnerTable(processes: [], entries: [])

    /// The entries of `inode` (empty for 0: TIME_WAIT and request sockets belong to no file).
    public func range(of inode: UInt64) -> Range<Int> {
        guard inode != 0 else { return 0..<0 }
        var lo = 0, hi = entries.count
        entries.withUnsafeBufferPointer { e in
            while lo < hi {
                let mid = (lo &+ hi) >> 1
                if e[mid].inode < inode { lo = mid &+ 1 } else { hi = mid }
            }
            hi = lo
            while hi < e.count && e[hi].inode == inode { hi &+= 1 }
        }
        return lo..<hi
    }

    /// The owners of a socket, sorted by (pid, fd, tid); none for inode 0.
    public func owners(of inode: UInt64) -> [SocketOwner] {
        let r = range(of: inode)
        if r.isEmpty { return [] }
        return entries[r].map { e in
            var o = processes[Int(e.process)]
            o.fd = e.fd
            return o
        }
    }

    /// Calls `body` with each owner of a socket in order, without building an array of them.
    public func forEachOwner(of inode: UInt64, _ body: (SocketOwner) throws -> Void) rethrows {
        for e in entries[range(of: inode)] {
            var o = processes[Int(e.process)]
            o.fd = e.fd
            try body(o)
        }
    }

    /// Every inode that has owners, ascending, once each.
    public var inodes: [UInt64] {
        var out: [UInt64] = []
        for e in entries where out.last != e.inode { out.append(e.inode) }
        return out
    }

    /// The table as an inode → owners map (for tests and small tables: it builds every list).
    public var dictionary: [UInt64: [SocketOwner]] {
        var out: [UInt64: [SocketOwner]] = [:]
        for inode in inodes { out[inode] = owners(of: inode) }
        return out
    }
}
