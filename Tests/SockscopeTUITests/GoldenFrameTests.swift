import Foundation
@testable import SockscopeTUI
import Testing

/// Rendered frames of the fixed synthetic table, compared with the text files under `Golden/`
/// (the frame's text, then `--`, then one attribute letter per cell: see `CellAttribute`).
///
/// To regenerate after an intended change, run with `SOCKSCOPE_UPDATE_GOLDEN=1`:
///
///     SOCKSCOPE_UPDATE_GOLDEN=1 swift test --filter GoldenFrameTests
///
/// and review the diff of `Tests/SockscopeTUITests/Golden/` before committing it.
@Suite struct GoldenFrameTests {
    static func check(_ name: String, _ frame: Frame, file: String = #filePath) throws {
        let url = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("Golden/\(name).txt")
        let actual = frame.dump
        if ProcessInfo.processInfo.environment["SOCKSCOPE_UPDATE_GOLDEN"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let firstDiff = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(actual == expected, """
            \(name) differs from Golden/\(name).txt\
            \(firstDiff.map { " at line \($0.offset + 1):\n  got:      \($0.element.0)\n  expected: \($0.element.1)" } ?? "")
            (regenerate with SOCKSCOPE_UPDATE_GOLDEN=1 if the change is intended)
            """)
    }

    @Test func connections120x30() throws {
        var m = Synthetic.model()
        try Self.check("connections-120x30", m.render(width: 120, height: 30))
    }

    @Test func connections80x24() throws {
        var m = Synthetic.model()
        try Self.check("connections-80x24", m.render(width: 80, height: 24))
    }

    @Test func listeners120x30() throws {
        var m = Synthetic.model()
        m.handle(.char("L"))
        try Self.check("listeners-120x30", m.render(width: 120, height: 30))
    }

    @Test func detailAndPrompt120x30() throws {
        var m = Synthetic.model()
        m.handle(.char("e"))
        while m.selectedSocket?.record.cookie != 10 && m.selected < m.rows.count - 1 { m.handle(.down) }
        m.handle(.enter)
        m.handle(.char("/"))
        m.type("22,44")
        try Self.check("detail-prompt-120x30", m.render(width: 120, height: 30))
    }

    @Test func numericPausedHelp80x24() throws {
        var m = Synthetic.model(numeric: true)
        m.handle(.char(" "))
        m.lastRefreshCost = (0.0042, 13)
        m.handle(.char("?"))
        try Self.check("help-paused-80x24", m.render(width: 80, height: 24))
    }

    @Test func tiny10x3() throws {
        var m = Synthetic.model()
        try Self.check("tiny-10x3", m.render(width: 10, height: 3))
    }
}
