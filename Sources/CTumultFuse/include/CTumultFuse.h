#ifndef CTUMULT_FUSE_H
#define CTUMULT_FUSE_H

#define FUSE_USE_VERSION 35
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

/// Linux's values of flags glibc declares only under _GNU_SOURCE, which
/// Swift's Glibc module is built without.
#define TUMULT_O_PATH 010000000
#define TUMULT_AT_EMPTY_PATH 0x1000
#define TUMULT_UTIME_NOW 1073741823
#define TUMULT_UTIME_OMIT 1073741822

/// The /dev/fuse descriptor `tumult io-fs` opened before it entered the
/// target's mount namespace (a container may have no /dev/fuse), or -1.
int tumult_early_fuse_fd(void);

/// 0, or the errno of the early mount-namespace entry that failed.
int tumult_early_namespace_error(void);

/// A descriptor of the host's /proc, opened before entering the target's
/// mount namespace (whose /proc, if any, belongs to a pid namespace this
/// process is not in, so its /proc/self does not resolve), or -1 when
/// TUMULT_MOUNT_NAMESPACE was not set.
int tumult_early_proc_fd(void);

/// A low-level session with no command-line options, serving `ops` with
/// `userdata`; NULL on failure.
struct fuse_session *tumult_session_new(const struct fuse_lowlevel_ops *ops, void *userdata);

/// fuse_session_loop_mt with up to `max_threads` workers, `max_idle` of
/// them kept when idle (the macro picks a versioned symbol Swift cannot name).
int tumult_session_loop(struct fuse_session *session, unsigned int max_threads, unsigned int max_idle);

/// Replies to a read with `size` bytes of `fd` at `offset`, spliced from
/// the file into /dev/fuse when the kernel allows (no copy through user
/// space). Returns what fuse_reply_data returns.
int tumult_reply_fd_data(fuse_req_t request, int fd, size_t size, off_t offset);

/// Sets the caching bits of an open reply (bit-fields of fuse_file_info).
void tumult_file_info_set_caching(struct fuse_file_info *info, int direct_io, int keep_cache);

/// openat with a creation mode (open's mode argument is variadic).
/// Returns the descriptor, or -1 with errno set.
int tumult_openat(int directory, const char *name, int flags, mode_t mode);

/// renameat2 (a _GNU_SOURCE declaration Swift's Glibc module lacks).
int tumult_renameat2(int old_directory, const char *old_name, int new_directory, const char *new_name,
                     unsigned int flags);

/// The extended-attribute calls on `fd` (an O_PATH descriptor), made
/// through the host /proc descriptor `proc` as `self/fd/N` with the *xattrat
/// system calls (Linux 6.13), or through the path /proc/self/fd/N where
/// those are missing. Each returns what its system call returns, -1 with
/// errno set on failure.
ssize_t tumult_getxattr(int proc, int fd, const char *name, void *value, size_t size);
ssize_t tumult_listxattr(int proc, int fd, char *list, size_t size);
int tumult_setxattr(int proc, int fd, const char *name, const void *value, size_t size, int flags);
int tumult_removexattr(int proc, int fd, const char *name);

#endif
