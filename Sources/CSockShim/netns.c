// setns(2) for --netns: declared by <sched.h> only under _GNU_SOURCE.
#define _GNU_SOURCE
#include "sockscope_shim.h"
#include <sched.h>

int sockscope_setns_net(int fd) {
    return setns(fd, CLONE_NEWNET);
}
