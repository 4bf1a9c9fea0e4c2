// sockscope-floor: the physical limit sockscope-bench compares against. It does exactly the
// kernel work sockscope asks for and nothing else: no decoding, no formatting, no output but a
// count. Not installed; benchmark use only.
//
//   sockscope-floor netlink STATES EXT   one legacy TCPDIAG_GETSOCK walk (both families), the
//                                        given idiag_states mask and idiag_ext bits, 64 KiB
//                                        receives into one buffer, 1 MiB SO_RCVBUF (as sockscope)
//   sockscope-floor proc ROOT            read ROOT/net/tcp and tcp6 in 1 MiB chunks, count lines
//   sockscope-floor fdscan ROOT          readlink every ROOT/*/fd/*, count "socket:[" links
//   sockscope-floor netlink+fdscan STATES EXT ROOT   the walk, then the scan (the -p floor)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what) {
    fprintf(stderr, "sockscope-floor: %s: %s\n", what, strerror(errno));
    return 1;
}

static int netlink_walk(unsigned states, unsigned ext) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return fail("socket");
    int size = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req req;
    } msg;
    memset(&msg, 0, sizeof msg);
    msg.nlh.nlmsg_len = sizeof msg;
    msg.nlh.nlmsg_type = TCPDIAG_GETSOCK;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.nlh.nlmsg_seq = 1;
    msg.req.idiag_family = AF_UNSPEC;
    msg.req.idiag_states = states;
    msg.req.idiag_ext = (unsigned char)ext;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return fail("sendto");
    static char buf[64 * 1024];
    long count = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail("recv");
        }
        if (n == 0) break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE) goto done;
            if (h->nlmsg_type == NLMSG_ERROR) {
                errno = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
                return fail("dump");
            }
            count++;
        }
    }
done:
    printf("%ld\n", count);
    return 0;
}

static long count_lines(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    long lines = 0;
    for (;;) {
        ssize_t n = read(fd, buf, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
    }
    close(fd);
    return lines;
}

static int proc_lines(const char *root) {
    static char buf[1 << 20];
    char path[4096];
    long total = 0;
    const char *names[] = {"tcp", "tcp6"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/net/%s", root, names[i]);
        long n = count_lines(path, buf, sizeof buf);
        if (n < 0) return fail(path);
        total += n;
    }
    printf("%ld\n", total);
    return 0;
}

static int fd_scan(const char *root) {
    DIR *procs = opendir(root);
    if (!procs) return fail(root);
    long sockets = 0;
    struct dirent *p;
    char path[4096], link[256];
    while ((p = readdir(procs))) {
        if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "%s/%s/fd", root, p->d_name);
        DIR *fds = opendir(path);
        if (!fds) continue;
        int dfd = dirfd(fds);
        struct dirent *f;
        while ((f = readdir(fds))) {
            if (f->d_name[0] == '.') continue;
            ssize_t n = readlinkat(dfd, f->d_name, link, sizeof link - 1);
            if (n > 8 && memcmp(link, "socket:[", 8) == 0) sockets++;
        }
        closedir(fds);
    }
    closedir(procs);
    printf("%ld\n", sockets);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "netlink") == 0)
        return netlink_walk((unsigned)strtoul(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0));
    if (argc == 3 && strcmp(argv[1], "proc") == 0) return proc_lines(argv[2]);
    if (argc == 3 && strcmp(argv[1], "fdscan") == 0) return fd_scan(argv[2]);
    if (argc == 5 && strcmp(argv[1], "netlink+fdscan") == 0)
        return netlink_walk((unsigned)strtoul(argv[2], NULL, 0), (unsigned)strtoul(argv[3], NULL, 0)) || fd_scan(argv[4]);
    fprintf(stderr, "usage: sockscope-floor netlink STATES EXT | proc ROOT | fdscan ROOT | netlink+fdscan STATES EXT ROOT\n");
    return 2;
}
