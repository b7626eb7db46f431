#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include "CTumultSystem.h"

int tumult_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int low)
{
    return posix_spawn_file_actions_addclosefrom_np(actions, low);
}

int tumult_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path)
{
    return posix_spawn_file_actions_addchdir_np(actions, path);
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

#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>

long tumult_ptrace(int request, pid_t pid, void *addr, void *data)
{
    return ptrace((enum __ptrace_request)request, pid, addr, data);
}

#if defined(__x86_64__)
_Static_assert(sizeof(struct tumult_user_regs) == sizeof(struct user_regs_struct),
               "tumult_user_regs must mirror struct user_regs_struct");

int tumult_ptrace_getregs(pid_t tid, struct tumult_user_regs *regs)
{
    struct user_regs_struct native;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &native) < 0) return -1;
    memcpy(regs, &native, sizeof native);
    return 0;
}

int tumult_ptrace_setregs(pid_t tid, const struct tumult_user_regs *regs)
{
    struct user_regs_struct native;
    memcpy(&native, regs, sizeof native);
    return ptrace(PTRACE_SETREGS, tid, NULL, &native) < 0 ? -1 : 0;
}
#else
int tumult_ptrace_getregs(pid_t tid, struct tumult_user_regs *regs)
{
    (void)tid; (void)regs;
    errno = ENOSYS;
    return -1;
}

int tumult_ptrace_setregs(pid_t tid, const struct tumult_user_regs *regs)
{
    (void)tid; (void)regs;
    errno = ENOSYS;
    return -1;
}
#endif

int tumult_tgkill(pid_t tgid, pid_t tid, int signal)
{
    return (int)syscall(SYS_tgkill, tgid, tid, signal);
}

struct socket_in_netns {
    const char *path;
    int domain, type, protocol;
    int fd, error;
};

static void *socket_in_netns_thread(void *argument)
{
    struct socket_in_netns *job = argument;
    int ns = open(job->path, O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
        job->error = errno;
        return NULL;
    }
    if (setns(ns, CLONE_NEWNET) != 0) {
        job->error = errno;
        close(ns);
        return NULL;
    }
    close(ns);
    job->fd = socket(job->domain, job->type | SOCK_CLOEXEC, job->protocol);
    if (job->fd < 0)
        job->error = errno;
    return NULL;
}

int tumult_socket_in_netns(const char *netns_path, int domain, int type, int protocol)
{
    if (netns_path == NULL)
        return socket(domain, type | SOCK_CLOEXEC, protocol);
    struct socket_in_netns job = {netns_path, domain, type, protocol, -1, 0};
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, socket_in_netns_thread, &job);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    pthread_join(thread, NULL);
    if (job.fd < 0)
        errno = job.error;
    return job.fd;
}
