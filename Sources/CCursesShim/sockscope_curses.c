#define _GNU_SOURCE
#include "sockscope_curses.h"
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <term.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

const uint32_t sockscope_a_normal = A_NORMAL, sockscope_a_bold = A_BOLD, sockscope_a_dim = A_DIM,
               sockscope_a_reverse = A_REVERSE, sockscope_a_underline = A_UNDERLINE;
uint32_t sockscope_color_pair(int pair) { return (uint32_t)COLOR_PAIR(pair); }

const int sockscope_key_up = KEY_UP, sockscope_key_down = KEY_DOWN, sockscope_key_left = KEY_LEFT,
          sockscope_key_right = KEY_RIGHT, sockscope_key_ppage = KEY_PPAGE, sockscope_key_npage = KEY_NPAGE,
          sockscope_key_home = KEY_HOME, sockscope_key_end = KEY_END, sockscope_key_enter = KEY_ENTER,
          sockscope_key_backspace = KEY_BACKSPACE, sockscope_key_dc = KEY_DC, sockscope_key_resize = KEY_RESIZE;

void *sockscope_stdscr(void) { return stdscr; }
int sockscope_lines(void) { return LINES; }
int sockscope_cols(void) { return COLS; }

int sockscope_terminal_size(int fd, int *rows, int *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}

int sockscope_wait(int input_fd, int wake_fd, int timeout_ms) {
    struct pollfd p[2] = {{.fd = input_fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    int n = poll(p, 2, timeout_ms);
    if (n <= 0) return 0;
    int r = 0;
    if (p[0].revents & POLLIN) r |= 1;
    if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) r |= 2;
    if (p[1].revents & POLLIN) r |= 4;
    return r;
}

int sockscope_drain(int fd, uint8_t *buf, int capacity) {
    ssize_t n = read(fd, buf, (size_t)capacity);
    return n > 0 ? (int)n : 0;
}

int64_t sockscope_thread_cpu_us(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0) return -1;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

// Fatal signals in the live view. The terminal is in raw mode on the alternate screen; a crash
// (or Ctrl-\) must hand it back as it was before anything else runs, or the shell is left raw.
// Only async-signal-safe calls here: tcsetattr, write, sigaction, raise.
static struct termios shell_modes;
static int shell_modes_saved;
// The terminfo strings that leave curses mode, copied while curses is up (the handler must not
// call into curses): attributes off, cursor visible, keypad transmit off, alternate screen off.
static char leave_sequence[512];
static size_t leave_length;
static const int fatal[] = {SIGQUIT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
#define NFATAL (sizeof fatal / sizeof fatal[0])
static struct sigaction fatal_saved[NFATAL];
static int fatal_installed;

int sockscope_terminal_save(int fd) {
    if (tcgetattr(fd, &shell_modes) != 0) return -1;
    shell_modes_saved = 1;
    return 0;
}

static void append_cap(const char *name) {
    char *s = tigetstr((char *)name);
    if (s == NULL || s == (char *)-1) return;
    size_t n = strlen(s);
    if (leave_length + n >= sizeof leave_sequence) return;
    memcpy(leave_sequence + leave_length, s, n);
    leave_length += n;
}

static void restore_terminal(void) {
    if (leave_length > 0) (void)!write(1, leave_sequence, leave_length);
    if (shell_modes_saved) tcsetattr(0, TCSANOW, &shell_modes);
}

static void on_fatal(int signo, siginfo_t *info, void *context) {
    restore_terminal();
    // Hand the signal to whoever had it before (the Swift runtime's backtracer, which prints to
    // the now restored terminal), or to the default action: re-raised, it is delivered as soon
    // as this handler returns (a fault re-faults on return with the default action in place).
    for (size_t i = 0; i < NFATAL; i++) {
        if (fatal[i] != signo) continue;
        struct sigaction prev = fatal_saved[i];
        sigaction(signo, &prev, NULL);
        if (prev.sa_flags & SA_SIGINFO) {
            if (prev.sa_sigaction) prev.sa_sigaction(signo, info, context);
        } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
            prev.sa_handler(signo);
        }
        // The backtracer returns expecting a fault to recur; a signal sent with kill (Ctrl-\)
        // would not, and the process would run on with its terminal gone: end it either way.
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(signo, &dfl, NULL);
        raise(signo);
        return;
    }
}

void sockscope_fatal_install(void) {
    if (fatal_installed) return;
    leave_length = 0;
    append_cap("sgr0");
    append_cap("cnorm");
    append_cap("rmkx");
    append_cap("rmcup");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sigemptyset(&sa.sa_mask);
    // SA_ONSTACK: a stack overflow's SIGSEGV can only be handled on the alternate stack the
    // Swift runtime sets up (when there is none, the flag is ignored).
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    for (size_t i = 0; i < NFATAL; i++) sigaction(fatal[i], &sa, &fatal_saved[i]);
    // SIGQUIT may arrive blocked from the parent (a test runner's thread): unblock it.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    fatal_installed = 1;
}

void sockscope_fatal_uninstall(void) {
    if (!fatal_installed) return;
    for (size_t i = 0; i < NFATAL; i++) sigaction(fatal[i], &fatal_saved[i], NULL);
    fatal_installed = 0;
}

int sockscope_can_position_cursor(void) {
    char *s = tigetstr((char *)"cup");
    return s != NULL && s != (char *)-1;
}
