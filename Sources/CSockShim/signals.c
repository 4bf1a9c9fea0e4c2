#define _GNU_SOURCE
// The one signal mechanism: handlers that write the signal number as a byte to a self-pipe,
// which the live view's loop and the streams wait on with poll(2).
#include "sockscope_shim.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define MAX_HANDLED 8
static int pipe_fds[2] = {-1, -1};
static int handled[MAX_HANDLED];
static int nhandled = 0;
static struct sigaction saved[MAX_HANDLED];

static void on_signal(int signo) {
    int saved_errno = errno;  // write may change errno under the interrupted code's feet
    unsigned char b = (unsigned char)signo;
    if (pipe_fds[1] >= 0) (void)!write(pipe_fds[1], &b, 1);  // a full pipe already holds a wake-up
    errno = saved_errno;
}

static int arm(int signo, struct sigaction *old) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // other threads' blocking reads should not see EINTR
    return sigaction(signo, &sa, old);
}

int sockscope_signals_install(const int *signals, int count) {
    if (pipe_fds[0] >= 0) return pipe_fds[0];
    if (count < 0 || count > MAX_HANDLED) { errno = EINVAL; return -1; }
    if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    sigset_t set;
    sigemptyset(&set);
    nhandled = count;
    for (int i = 0; i < count; i++) {
        handled[i] = signals[i];
        arm(signals[i], &saved[i]);
        sigaddset(&set, signals[i]);
    }
    // A blocked mask is inherited across exec (a supervisor, a test runner's thread): unblock
    // these, or the handler would never run and Ctrl-C would not end the program.
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return pipe_fds[0];
}

void sockscope_signals_uninstall(void) {
    if (pipe_fds[0] < 0) return;
    for (int i = 0; i < nhandled; i++) sigaction(handled[i], &saved[i], NULL);
    nhandled = 0;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    pipe_fds[0] = pipe_fds[1] = -1;
}

void sockscope_signals_wake(void) {
    unsigned char b = 0;
    if (pipe_fds[1] >= 0) (void)!write(pipe_fds[1], &b, 1);
}

void sockscope_signals_stop_self(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGTSTP, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTSTP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), SIGTSTP);  // the whole process stops here until SIGCONT
    arm(SIGTSTP, NULL);
}
