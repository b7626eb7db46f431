#ifndef CTUMULT_SYSTEM_H
#define CTUMULT_SYSTEM_H

#include <spawn.h>
#include <malloc.h>

/// Adds "close every descriptor from `low` up" to a posix_spawn file-action
/// list (glibc's posix_spawn_file_actions_addclosefrom_np, which Swift's
/// Glibc module does not export). Returns 0 or an errno value.
int tumult_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int low);
/// posix_spawn_file_actions_addchdir_np (glibc 2.29): the child starts in `path`.
int tumult_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// pipe2(fds, O_CLOEXEC): a pipe that no child started meanwhile by
/// another thread can inherit (pipe2 needs _GNU_SOURCE, which Swift's Glibc
/// module is not built with). Returns 0, or -1 with errno set.
int tumult_pipe_cloexec(int fds[2]);

/// Takes (waiting for it) or releases an open-file-description lock on one
/// byte of `fd` (F_OFD_SETLKW): unlike classic record locks, two threads of
/// one process holding different descriptors exclude each other too.
/// Returns 0, or -1 with errno set.
int tumult_lock_byte(int fd, long long offset, int exclusive);
int tumult_unlock_byte(int fd, long long offset);

/// ptrace(2) for Swift, which cannot call the variadic glibc function.
/// Returns what ptrace returns (-1 with errno set on failure).
long tumult_ptrace(int request, pid_t pid, void *addr, void *data);

/// x86_64 general registers, laid out exactly as the kernel's
/// `struct user_regs_struct` (<sys/user.h>), declared here so the header
/// does not pull <sys/user.h>'s PAGE_SIZE and friends into every module
/// that imports this one.
struct tumult_user_regs {
    unsigned long long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
    unsigned long long rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
    unsigned long long fs_base, gs_base, ds, es, fs, gs;
};

/// PTRACE_GETREGS / PTRACE_SETREGS on a stopped tracee thread. Return 0,
/// or -1 with errno set (ENOSYS on architectures other than x86_64).
int tumult_ptrace_getregs(pid_t tid, struct tumult_user_regs *regs);
int tumult_ptrace_setregs(pid_t tid, const struct tumult_user_regs *regs);

/// tgkill(2): sends `signal` to thread `tid` of process `tgid` (used to give
/// a tracee back a signal it received while it was held stopped).
int tumult_tgkill(pid_t tgid, pid_t tid, int signal);

/// A socket(domain, type | SOCK_CLOEXEC, protocol) created inside the
/// network namespace at `netns_path` (NULL: the caller's). setns() moves
/// only the calling thread, so a short-lived thread of its own enters the
/// namespace, opens the socket and exits: the socket stays bound to that
/// namespace, and no Swift concurrency thread ever changes namespace.
/// Returns the descriptor, or -1 with errno set.
int tumult_socket_in_netns(const char *netns_path, int domain, int type, int protocol);

#endif
