#ifndef SOCKSCOPE_CURSES_H
#define SOCKSCOPE_CURSES_H
// What the live view needs from curses.h and the kernel that Swift 6 cannot use directly:
// attribute and key macros, the stdscr/LINES/COLS globals, variadic ioctl, and a poll over the
// terminal and the signal pipe (which SockscopeSystem's `SignalPipe` owns). Deliberately no curses.h here: CNcursesw owns it, and a header included by
// two Clang modules would give Swift two copies of each type.
#include <stdint.h>

// Attribute bits (A_*) and colour pairs, as plain values.
extern const uint32_t sockscope_a_normal, sockscope_a_bold, sockscope_a_dim, sockscope_a_reverse,
    sockscope_a_underline;
uint32_t sockscope_color_pair(int pair);

// Key codes returned by getch (KEY_*).
extern const int sockscope_key_up, sockscope_key_down, sockscope_key_left, sockscope_key_right,
    sockscope_key_ppage, sockscope_key_npage, sockscope_key_home, sockscope_key_end,
    sockscope_key_enter, sockscope_key_backspace, sockscope_key_dc, sockscope_key_resize;

/// `stdscr`, as an untyped pointer (Swift rebinds it to WINDOW).
void *sockscope_stdscr(void);
/// `LINES` and `COLS`.
int sockscope_lines(void);
int sockscope_cols(void);

/// The terminal size of `fd` from TIOCGWINSZ; 0 on success, -1 on error.
int sockscope_terminal_size(int fd, int *rows, int *cols);

/// Waits up to `timeout_ms` for input on `input_fd` or a byte on `wake_fd`. Returns a bit set:
/// 1 input readable, 2 input hung up or in error, 4 wake pipe readable; 0 on timeout or EINTR.
int sockscope_wait(int input_fd, int wake_fd, int timeout_ms);
/// Reads what is in the (non-blocking) pipe into `buf`; returns the byte count (0 when empty).
int sockscope_drain(int fd, uint8_t *buf, int capacity);

/// Saves the terminal modes of `fd` (before curses changes them), for `sockscope_fatal_install`.
int sockscope_terminal_save(int fd);
/// While curses is up: on SIGQUIT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT or SIGTRAP, first
/// leave the alternate screen and restore the saved modes, then pass the signal to the handler
/// installed before (the Swift runtime's backtracer) or to the default action.
void sockscope_fatal_install(void);
/// Whether the terminal (as curses set it up) can move the cursor to a position (`cup`).
int sockscope_can_position_cursor(void);
/// Puts the previous handlers of those signals back.
void sockscope_fatal_uninstall(void);

/// CPU time (user + system) used by the calling thread, in microseconds; -1 on error.
int64_t sockscope_thread_cpu_us(void);

#endif
