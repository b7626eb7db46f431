#ifndef CTUMULT_SYSTEM_H
#define CTUMULT_SYSTEM_H

#include <spawn.h>
#include <malloc.h>

/// Adds "close every descriptor from `low` up" to a posix_spawn file-action
/// list (glibc's posix_spawn_file_actions_addclosefrom_np, which Swift's
/// Glibc module does not export). Returns 0 or an errno value.
int tumult_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int low);

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

#endif
