import Glibc

/// Settings of this process's memory that have no Swift API.
public enum ProcessMemory {
    /// `mallopt(M_MMAP_THRESHOLD, bytes)`. <malloc.h> is not in Swift's Glibc module, so the
    /// function is looked up by name (it is glibc's own; nothing happens where it is absent).
    public static func fixMmapThreshold(_ bytes: Int32) {
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD in <malloc.h>
        guard let f = dlsym(nil, "mallopt") else { return }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        _ = unsafeBitCast(f, to: Mallopt.self)(mmapThreshold, bytes)
    }

    /// Unmaps the executable's code pages once start-up is over (`MADV_DONTNEED` on its
    /// read-only, executable file mappings); the ones the process then runs fault back in.
    ///
    /// Why: the kernel maps 64 KiB around each file-backed page fault (fault-around), so the
    /// ~200 text faults of start-up (the runtime's initialisers, the argument parser, TLS set-up)
    /// leave megabytes of this large static binary resident that never run again. Measured with
    /// /proc/PID/smaps and pagemap on static release builds: the idle exporter held 25–26 MiB, of
    /// it 17.8 MiB its r-xp mapping (12.9 MiB `.text`, 2.7 MiB `.rela.dyn`), and 8–9 MiB after
    /// this call; `sockscope --version` holds 11.5 MiB, 5.4 MiB of it `.text` (a hundredth of
    /// which runs); with this call `-tan` at 100k sockets peaks at 15.7 MiB instead of 17.3.
    ///
    /// Safe only for mappings that are never written: a private file mapping's pages are read
    /// back from the file, so a written (copy-on-write) page would lose its contents. Executable,
    /// non-writable mappings of this binary hold none (no text relocations; the relocated data —
    /// RELRO, `.data` — is in the writable and read-only non-executable mappings, left alone).
    /// Nothing is freed from the page cache: the pages stay cached and refault without I/O.
    ///
    /// Not under a debugger (`TracerPid` non-zero): its breakpoints are written into these pages,
    /// and dropping them would silently undo every breakpoint set before the call.
    public static func dropStartupText() {
        guard let status = try? Files.readAll("/proc/self/status", limit: 64 << 10),
              let line = status.split(separator: UInt8(ascii: "\n")).first(where: { $0.starts(with: Array("TracerPid:".utf8)) }),
              line.dropFirst(10).allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == UInt8(ascii: "0") }) else { return }
        var link = [CChar](repeating: 0, count: 4097)
        let n = readlink("/proc/self/exe", &link, 4096)
        guard n > 0, let maps = try? Files.readAll("/proc/self/maps", limit: 4 << 20) else { return }
        let exe = String(decoding: link[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for line in maps.split(separator: UInt8(ascii: "\n")) {
            // "start-end perms offset dev inode path"
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, Array(fields[1]) == Array("r-xp".utf8),
                  String(decoding: fields[5].drop { $0 == 0x20 }, as: UTF8.self) == exe else { continue }
            let range = fields[0].split(separator: UInt8(ascii: "-"))
            guard range.count == 2, let start = UInt(String(decoding: range[0], as: UTF8.self), radix: 16),
                  let end = UInt(String(decoding: range[1], as: UTF8.self), radix: 16), end > start,
                  let p = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            _ = madvise(p, Int(end - start), MADV_DONTNEED)
        }
    }
}
