import CCursesShim
import CNcursesw
import Glibc
import SockscopeTUI

/// Why the terminal could not be used.
public struct TerminalError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The ncurses screen: draws frames and reads keys. Nothing else in sockscope touches curses.
/// Used from one thread only (the UI loop).
final class CursesScreen {
    private let window: UnsafeMutablePointer<WINDOW>
    private let style: TerminalStyle
    private var colorPairs = false
    private var ended = false

    /// Enters curses mode on the process's terminal (fd 0 in, fd 1 out).
    init(style: TerminalStyle) throws(TerminalError) {
        setlocale(LC_ALL, "")
        // newterm, not initscr: initscr exits the process on an unusable terminal.
        guard let output = fdopen(1, "w"), let input = fdopen(0, "r") else {
            throw TerminalError("cannot open the terminal streams")
        }
        guard newterm(nil, output, input) != nil, let raw = sockscope_stdscr() else {
            let term = getenv("TERM").map { String(cString: $0) } ?? "unset"
            throw TerminalError("cannot use terminal type '\(term)'")
        }
        window = raw.assumingMemoryBound(to: WINDOW.self)
        self.style = style
        cbreak()          // keys arrive at once; Ctrl-C and Ctrl-Z still raise signals
        noecho()
        nonl()
        intrflush(window, false)
        keypad(window, true)
        nodelay(window, true)  // the loop waits in poll(), never in getch
        set_escdelay(25)
        curs_set(0)
        if style.colors && has_colors() {
            start_color()
            use_default_colors()
            init_pair(1, Int16(COLOR_GREEN), -1)
            init_pair(2, Int16(COLOR_RED), -1)
            colorPairs = true
        }
    }

    deinit { end() }

    /// Leaves curses mode and restores the terminal. Safe to call more than once.
    func end() {
        guard !ended else { return }
        ended = true
        curs_set(1)
        endwin()
    }

    /// The terminal's size as curses knows it.
    var size: (rows: Int, cols: Int) { (Int(sockscope_lines()), Int(sockscope_cols())) }

    /// Adopts the terminal's new size after SIGWINCH.
    func resize() {
        var rows: Int32 = 0, cols: Int32 = 0
        guard sockscope_terminal_size(1, &rows, &cols) == 0, rows > 0, cols > 0 else { return }
        resizeterm(rows, cols)
        clearok(window, true)
    }

    /// Stops the process for SIGTSTP with the terminal restored, and takes it back on SIGCONT.
    func suspend() {
        endwin()
        sockscope_stop_self()
        repaint()
    }

    /// Forces a full repaint on the next draw (after SIGCONT, or another program wrote on the screen).
    func repaint() {
        clearok(window, true)
        resize()
    }

    func attributes(_ a: CellAttribute) -> UInt32 {
        guard style.attributes else { return sockscope_a_normal }
        switch a {
        case .normal: return sockscope_a_normal
        case .bold: return sockscope_a_bold
        case .title: return sockscope_a_reverse | sockscope_a_bold
        case .new: return sockscope_a_bold | (colorPairs ? sockscope_color_pair(1) : 0)
        case .dim: return sockscope_a_dim
        case .selected: return sockscope_a_reverse
        case .warning: return sockscope_a_bold | (colorPairs ? sockscope_color_pair(2) : 0)
        }
    }

    /// Draws a frame: each run of cells with one attribute is one string.
    func draw(_ frame: Frame) {
        let (rows, cols) = size
        for y in 0..<min(frame.height, rows) {
            wmove(window, Int32(y), 0)
            var run = "", runAttr = CellAttribute.normal, x = 0
            func flush() {
                guard !run.isEmpty else { return }
                wattrset(window, Int32(bitPattern: attributes(runAttr)))
                // The bottom-right cell makes addstr return ERR (the cursor cannot advance): harmless.
                _ = waddstr(window, run)
                run = ""
            }
            for cell in frame.lines[y] where x < cols {
                if cell.attribute != runAttr { flush(); runAttr = cell.attribute }
                run += cell.text
                x += 1
            }
            flush()
            wattrset(window, Int32(bitPattern: sockscope_a_normal))
            if x < cols { wclrtoeol(window) }
        }
        wnoutrefresh(window)
        doupdate()
    }

    /// The next key, if one is waiting; nil when none (or on a read error / end of input).
    func readKey() -> Key?? {
        let c = wgetch(window)
        if c == ERR { return nil }
        switch c {
        case sockscope_key_up: return .some(.up)
        case sockscope_key_down: return .some(.down)
        case sockscope_key_ppage: return .some(.pageUp)
        case sockscope_key_npage: return .some(.pageDown)
        case sockscope_key_home: return .some(.home)
        case sockscope_key_end: return .some(.end)
        case sockscope_key_enter, 10, 13: return .some(.enter)
        case sockscope_key_backspace, 127, 8, sockscope_key_dc: return .some(.backspace)
        case 27: return .some(.escape)
        case 32...126: return .some(.char(Character(Unicode.Scalar(UInt8(c)))))
        default: return .some(nil)  // a key the view has no use for (resize, function keys, UTF-8 bytes)
        }
    }
}
