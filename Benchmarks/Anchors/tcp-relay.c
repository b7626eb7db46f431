#define _GNU_SOURCE
/*
 * The cheapest userspace TCP relay: the floor `tumult-bench proxy` sets
 * Tumult's transparent proxy against. One thread, one epoll set, one
 * read() and one write() per message, TCP_NODELAY both ways, no buffering
 * beyond the one read; nothing a proxy that holds or rewrites data could
 * do with less. Not a product: writes block, errors close both sides.
 *
 *   tcp-relay LISTEN_PORT UPSTREAM_PORT     (upstream is 127.0.0.1)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int peer[65536];

static void drop(int fd) {
    int other = peer[fd];
    close(fd);
    close(other);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s LISTEN_PORT UPSTREAM_PORT\n", argv[0]);
        return 2;
    }
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    if (bind(listener, (struct sockaddr *)&local, sizeof local) < 0 || listen(listener, 1024) < 0) {
        perror("listen");
        return 1;
    }
    struct sockaddr_in upstream = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, "127.0.0.1", &upstream.sin_addr);
    int set = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(set, EPOLL_CTL_ADD, listener, &event);
    printf("ready\n");
    fflush(stdout);

    static char buffer[65536];
    struct epoll_event ready[64];
    for (;;) {
        int count = epoll_wait(set, ready, 64, -1);
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
                if (client < 0) continue;
                int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (client >= 65536 || server >= 65536 ||
                    connect(server, (struct sockaddr *)&upstream, sizeof upstream) < 0) {
                    close(client);
                    close(server);
                    continue;
                }
                setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                peer[client] = server;
                peer[server] = client;
                event.data.fd = client;
                epoll_ctl(set, EPOLL_CTL_ADD, client, &event);
                event.data.fd = server;
                epoll_ctl(set, EPOLL_CTL_ADD, server, &event);
                continue;
            }
            ssize_t got = read(fd, buffer, sizeof buffer);
            if (got <= 0) {
                drop(fd);
                continue;
            }
            for (ssize_t sent = 0; sent < got;) {
                ssize_t wrote = write(peer[fd], buffer + sent, got - sent);
                if (wrote <= 0) {
                    drop(fd);
                    break;
                }
                sent += wrote;
            }
        }
    }
}
