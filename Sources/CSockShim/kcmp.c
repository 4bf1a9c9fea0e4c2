// kcmp(2) has no glibc wrapper, and Swift cannot call the variadic syscall(2).
#include "sockscope_shim.h"
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

int sockscope_kcmp_files(int pid1, int pid2) {
#ifdef SYS_kcmp
    return (int)syscall(SYS_kcmp, pid1, pid2, KCMP_FILES, 0, 0);
#else
    (void)pid1; (void)pid2;
    return -1;
#endif
}
