#define _GNU_SOURCE
#include "sockscope_curses.h"
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
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
