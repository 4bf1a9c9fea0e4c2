/// How a cell is drawn. The terminal layer maps these to curses attributes and colours.
public enum CellAttribute: Character, Sendable, Hashable, CaseIterable {
    case normal = " "
    /// Column headings, the sorted column, labels.
    case bold = "B"
    /// The title bar.
    case title = "T"
    /// A socket that appeared in the last refresh.
    case new = "N"
    /// A socket that has closed and is kept for a few seconds.
    case dim = "D"
    /// The selected row.
    case selected = "S"
    /// Errors and the paused marker.
    case warning = "W"
}

/// One terminal cell. A double-width character takes two cells: itself, then a continuation cell
/// whose `text` is empty.
public struct Cell: Sendable, Hashable {
    public var text: String
    public var attribute: CellAttribute

    public init(_ text: String, _ attribute: CellAttribute) {
        self.text = text; self.attribute = attribute
    }
}

/// A rendered screen: exactly `height` lines of exactly `width` cells. This is what the terminal
/// layer draws and what the snapshot tests compare.
public struct Frame: Sendable, Hashable {
    public let width: Int
    public let height: Int
    public private(set) var lines: [[Cell]]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        lines = Array(repeating: Array(repeating: Cell(" ", .normal), count: self.width), count: self.height)
    }

    /// Writes `text` on line `y` from column `x`, clipped to the frame. Returns the column after it.
    /// The text must already be terminal-safe (see `Escape.terminal`); a double-width character
    /// that does not fit whole is replaced by a space.
    @discardableResult
    public mutating func put(_ text: String, y: Int, x: Int, _ attribute: CellAttribute) -> Int {
        guard y >= 0, y < height else { return x }
        var col = x
        for ch in text {
            let w = TextWidth.of(ch)
            if w == 0 {
                // A lone zero-width character joins the previous cell.
                if col > 0 && col - 1 < width && col - 1 >= 0 { lines[y][col - 1].text.append(ch) }
                continue
            }
            if col >= width { break }
            if col >= 0 {
                if w == 2 && col + 1 >= width {
                    lines[y][col] = Cell(" ", attribute)
                } else {
                    lines[y][col] = Cell(String(ch), attribute)
                    if w == 2 { lines[y][col + 1] = Cell("", attribute) }
                }
            }
            col += w
        }
        return col
    }

    /// Sets the attribute of a whole line (used for the selected row and the title bar).
    public mutating func fill(y: Int, _ attribute: CellAttribute) {
        guard y >= 0, y < height else { return }
        for x in 0..<width { lines[y][x].attribute = attribute }
    }

    /// The text of line `y`, trailing spaces kept.
    public func text(_ y: Int) -> String {
        guard y >= 0, y < height else { return "" }
        return lines[y].map(\.text).joined()
    }

    /// The whole frame as text, one line each, trailing spaces removed; then, after a `--` line,
    /// each line's attributes as one letter per cell (see `CellAttribute`). The golden file format.
    public var dump: String {
        var out = ""
        for y in 0..<height {
            var t = text(y)
            while t.last == " " { t.removeLast() }
            out += t + "\n"
        }
        out += "--\n"
        for y in 0..<height {
            var a = String(lines[y].map(\.attribute.rawValue))
            while a.last == " " { a.removeLast() }
            out += a + "\n"
        }
        return out
    }
}

/// Display width of characters, as a terminal lays them out.
///
/// Text reaching here is already escaped (no control characters). East Asian wide and emoji
/// ranges take two columns, combining marks none; everything else one.
public enum TextWidth {
    public static func of(_ ch: Character) -> Int {
        guard let s = ch.unicodeScalars.first?.value else { return 0 }
        if s < 0x300 { return 1 }
        if (0x300...0x36F).contains(s) || (0x1AB0...0x1AFF).contains(s) || (0x1DC0...0x1DFF).contains(s)
            || (0x20D0...0x20FF).contains(s) || (0xFE20...0xFE2F).contains(s) || s == 0x200B || s == 0x200D {
            return 0
        }
        if (0x1100...0x115F).contains(s) || (0x2E80...0x303E).contains(s) || (0x3041...0x33FF).contains(s)
            || (0x3400...0x4DBF).contains(s) || (0x4E00...0x9FFF).contains(s) || (0xA000...0xA4CF).contains(s)
            || (0xAC00...0xD7A3).contains(s) || (0xF900...0xFAFF).contains(s) || (0xFE30...0xFE4F).contains(s)
            || (0xFF00...0xFF60).contains(s) || (0xFFE0...0xFFE6).contains(s) || (0x1F300...0x1F64F).contains(s)
            || (0x1F900...0x1F9FF).contains(s) || (0x20000...0x3FFFD).contains(s) {
            return 2
        }
        return 1
    }

    public static func of(_ s: String) -> Int { s.reduce(0) { $0 + of($1) } }

    /// `s` cut to at most `width` columns; a cut ends in `~` to show it (ASCII, so it draws in any locale).
    public static func truncate(_ s: String, to width: Int) -> String {
        guard width > 0 else { return "" }
        if of(s) <= width { return s }
        var out = "", used = 0
        for ch in s {
            let w = of(ch)
            if used + w > width - 1 { break }
            out.append(ch)
            used += w
        }
        return out + "~"
    }

    /// `s` cut in the middle so that what follows its last `:` (a port) stays visible:
    /// `[2001:db8::42]:40003` in 16 columns is `[2001:db8:~:40003`.
    public static func truncateKeepingPort(_ s: String, to width: Int) -> String {
        guard width > 0 else { return "" }
        if of(s) <= width { return s }
        guard let colon = s.lastIndex(of: ":") else { return truncate(s, to: width) }
        let tail = String(s[colon...])
        let room = width - of(tail) - 1
        guard room >= 2 else { return truncate(s, to: width) }
        var head = "", used = 0
        for ch in s[..<colon] {
            let w = of(ch)
            if used + w > room { break }
            head.append(ch)
            used += w
        }
        return head + "~" + tail
    }

    /// `s` padded with spaces (or cut) to exactly `width` columns, left- or right-aligned.
    public static func pad(_ s: String, to width: Int, right: Bool = false, keepPort: Bool = false) -> String {
        let t = keepPort ? truncateKeepingPort(s, to: width) : truncate(s, to: width)
        let gap = String(repeating: " ", count: max(0, width - of(t)))
        return right ? gap + t : t + gap
    }
}
