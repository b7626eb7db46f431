#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "CTumultFuse.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static int early_fuse_fd = -1;
static int early_error = 0;
static int early_proc_fd = -1;

/* Runs before the constructor below (a lower priority number runs first):
 * the host's /proc, while this process still sees it. */
__attribute__((constructor(101))) static void tumult_open_host_proc(void) {
    const char *path = getenv("TUMULT_MOUNT_NAMESPACE");
    if (path == NULL || path[0] == '\0') return;
    early_proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* setns(CLONE_NEWNS) fails once a process has a second thread sharing its
 * file-system information, and the Swift runtime may start threads before
 * `main`. So the IO fault's file-system helper enters its target's mount
 * namespace here, before any Swift code runs, when the injector asks for it
 * with TUMULT_MOUNT_NAMESPACE=/proc/PID/ns/mnt (as runc's nsexec does before
 * Go starts). /dev/fuse is opened first: the target may not have one. */
__attribute__((constructor)) static void tumult_enter_mount_namespace(void) {
    const char *path = getenv("TUMULT_MOUNT_NAMESPACE");
    if (path == NULL || path[0] == '\0') return;
    early_fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (early_fuse_fd < 0) { early_error = errno; return; }
    int namespace = open(path, O_RDONLY | O_CLOEXEC);
    if (namespace < 0) { early_error = errno; return; }
    if (setns(namespace, CLONE_NEWNS) != 0) early_error = errno;
    close(namespace);
    if (early_error == 0 && chdir("/") != 0) early_error = errno;
}

int tumult_early_fuse_fd(void) { return early_fuse_fd; }
int tumult_early_namespace_error(void) { return early_error; }
int tumult_early_proc_fd(void) { return early_proc_fd; }

struct fuse_session *tumult_session_new(const struct fuse_lowlevel_ops *ops, void *userdata) {
    char *argv[] = { "tumult-io-fs", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(1, argv);
    struct fuse_session *session = fuse_session_new(&args, ops, sizeof(*ops), userdata);
    fuse_opt_free_args(&args);
    return session;
}

/* FUSE_USE_VERSION 35 maps fuse_session_loop_mt to the 3.2 symbol, which
 * reads its config as the old two-field struct: max_idle_threads then comes
 * out as garbage and a thread is made and destroyed for every request. The
 * 3.12 symbol takes the config fuse_loop_cfg_create makes. */
int fuse_session_loop_mt_312(struct fuse_session *se, struct fuse_loop_config *config);

int tumult_session_loop(struct fuse_session *session, unsigned int max_threads, unsigned int max_idle) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (config == NULL) return -ENOMEM;
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_idle_threads(config, max_idle);
    int result = fuse_session_loop_mt_312(session, config);
    fuse_loop_cfg_destroy(config);
    return result;
}

int tumult_reply_fd_data(fuse_req_t request, int fd, size_t size, off_t offset) {
    struct fuse_bufvec buffer = FUSE_BUFVEC_INIT(size);
    buffer.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    buffer.buf[0].fd = fd;
    buffer.buf[0].pos = offset;
    return fuse_reply_data(request, &buffer, FUSE_BUF_SPLICE_MOVE);
}

void tumult_file_info_set_caching(struct fuse_file_info *info, int direct_io, int keep_cache) {
    info->direct_io = direct_io ? 1 : 0;
    info->keep_cache = keep_cache ? 1 : 0;
}

int tumult_openat(int directory, const char *name, int flags, mode_t mode) {
    return openat(directory, name, flags, mode);
}

int tumult_renameat2(int old_directory, const char *old_name, int new_directory, const char *new_name,
                     unsigned int flags) {
    return renameat2(old_directory, old_name, new_directory, new_name, flags);
}

/* Linux 6.13's *xattrat calls (not yet in this libc's headers). */
#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#endif
#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif
#ifndef SYS_removexattrat
#define SYS_removexattrat 466
#endif

struct tumult_xattr_args {
    uint64_t value;
    uint32_t size;
    uint32_t flags;
};

/* 1 once an *xattrat call has answered ENOSYS: use the /proc path from then on. */
static int xattrat_missing = 0;

static void fd_name(char *out, size_t capacity, const char *prefix, int fd) {
    snprintf(out, capacity, "%sself/fd/%d", prefix, fd);
}

ssize_t tumult_getxattr(int proc, int fd, const char *name, void *value, size_t size) {
    char path[64];
    if (proc >= 0 && !__atomic_load_n(&xattrat_missing, __ATOMIC_RELAXED)) {
        fd_name(path, sizeof(path), "", fd);
        struct tumult_xattr_args args = { (uint64_t)(uintptr_t)value, (uint32_t)size, 0 };
        long result = syscall(SYS_getxattrat, proc, path, 0, name, &args, sizeof(args));
        if (result >= 0 || errno != ENOSYS) return result;
        __atomic_store_n(&xattrat_missing, 1, __ATOMIC_RELAXED);
    }
    fd_name(path, sizeof(path), "/proc/", fd);
    return getxattr(path, name, value, size);
}

ssize_t tumult_listxattr(int proc, int fd, char *list, size_t size) {
    char path[64];
    if (proc >= 0 && !__atomic_load_n(&xattrat_missing, __ATOMIC_RELAXED)) {
        fd_name(path, sizeof(path), "", fd);
        long result = syscall(SYS_listxattrat, proc, path, 0, list, size);
        if (result >= 0 || errno != ENOSYS) return result;
        __atomic_store_n(&xattrat_missing, 1, __ATOMIC_RELAXED);
    }
    fd_name(path, sizeof(path), "/proc/", fd);
    return listxattr(path, list, size);
}

int tumult_setxattr(int proc, int fd, const char *name, const void *value, size_t size, int flags) {
    char path[64];
    if (proc >= 0 && !__atomic_load_n(&xattrat_missing, __ATOMIC_RELAXED)) {
        fd_name(path, sizeof(path), "", fd);
        struct tumult_xattr_args args = { (uint64_t)(uintptr_t)value, (uint32_t)size, (uint32_t)flags };
        long result = syscall(SYS_setxattrat, proc, path, 0, name, &args, sizeof(args));
        if (result >= 0 || errno != ENOSYS) return (int)result;
        __atomic_store_n(&xattrat_missing, 1, __ATOMIC_RELAXED);
    }
    fd_name(path, sizeof(path), "/proc/", fd);
    return setxattr(path, name, value, size, flags);
}

int tumult_removexattr(int proc, int fd, const char *name) {
    char path[64];
    if (proc >= 0 && !__atomic_load_n(&xattrat_missing, __ATOMIC_RELAXED)) {
        fd_name(path, sizeof(path), "", fd);
        long result = syscall(SYS_removexattrat, proc, path, 0, name);
        if (result >= 0 || errno != ENOSYS) return (int)result;
        __atomic_store_n(&xattrat_missing, 1, __ATOMIC_RELAXED);
    }
    fd_name(path, sizeof(path), "/proc/", fd);
    return removexattr(path, name);
}
