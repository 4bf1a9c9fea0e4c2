import Foundation
import SockscopeSystem
import Testing

/// Dropping the executable's code pages: they fault back in (the process runs on), and fewer of
/// them are resident right after the call than before it.
@Suite struct ProcessMemoryTests {
    /// Resident KiB of this executable's r-xp mappings, from /proc/self/smaps.
    static func residentText() throws -> Int {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var inText = false, kib = 0
        for line in try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = f.first, first.contains("-"), !first.hasSuffix(":") {
                inText = f.count >= 6 && f[1] == "r-xp" && f.last.map(String.init) == exe
            } else if inText, f.first == "Rss:", f.count >= 2, let v = Int(f[1]) {
                kib += v
            }
        }
        return kib
    }

    @Test func codePagesAreDroppedAndFaultBackIn() throws {
        let before = try Self.residentText()
        #expect(before > 0)
        ProcessMemory.dropStartupText()
        let after = try Self.residentText()
        #expect(after < before, "\(before) KiB resident before, \(after) KiB after")
        // The code still runs: what was dropped is read back from the file.
        #expect(String(decoding: [0x6F, 0x6B], as: UTF8.self) == "ok")
    }
}
