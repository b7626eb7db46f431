#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
#include "CTumultSystem.h"

int tumult_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int low)
{
    return posix_spawn_file_actions_addclosefrom_np(actions, low);
}

int tumult_pipe_cloexec(int fds[2])
{
    return pipe2(fds, O_CLOEXEC);
}

static int ofd_lock(int fd, long long offset, short type, int command)
{
    struct flock lock = {0};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = (off_t)offset;
    lock.l_len = 1;
    lock.l_pid = 0; /* required for OFD locks */
    int result;
    do {
        result = fcntl(fd, command, &lock);
    } while (result < 0 && errno == EINTR);
    return result;
}

int tumult_lock_byte(int fd, long long offset, int exclusive)
{
    return ofd_lock(fd, offset, exclusive ? F_WRLCK : F_RDLCK, F_OFD_SETLKW);
}

int tumult_unlock_byte(int fd, long long offset)
{
    return ofd_lock(fd, offset, F_UNLCK, F_OFD_SETLK);
}
