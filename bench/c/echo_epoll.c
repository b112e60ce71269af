/* Reference: a minimal single-threaded epoll echo server in C, the floor of what this machine can do.
 * Level-triggered, one read per event, write back immediately (queue the rest if the socket is full).
 * usage: echo_epoll PORT */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define BUF 65536

struct conn { int fd; char *pending; size_t plen; };

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static void close_conn(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: echo_epoll PORT\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0}; sa.sa_handler = on_signal; sigaction(SIGTERM, &sa, NULL); sigaction(SIGINT, &sa, NULL);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET; addr.sin_port = htons(atoi(argv[1])); addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4096)) { perror("bind/listen"); return 1; }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    printf("echo_epoll listening on 127.0.0.1:%s\n", argv[1]); fflush(stdout);
    static char buf[BUF];
    struct epoll_event events[MAX_EVENTS];
    while (!stop) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                for (int k = 0; k < 64; k++) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc); nc->fd = fd;
                    struct epoll_event cev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if ((events[i].events & EPOLLOUT) && c->plen) {
                ssize_t w = send(c->fd, c->pending, c->plen, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) { close_conn(ep, c); continue; }
                if (w > 0) { memmove(c->pending, c->pending + w, c->plen - w); c->plen -= w; }
                if (!c->plen) { struct epoll_event m = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c }; epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &m); }
                continue;
            }
            if (c->plen) continue; /* back-pressure: not reading while output is pending */
            ssize_t r = recv(c->fd, buf, BUF, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN)) { close_conn(ep, c); continue; }
            if (r < 0) continue;
            ssize_t w = send(c->fd, buf, r, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN) { close_conn(ep, c); continue; }
            if (w < 0) w = 0;
            if (w < r) {
                c->pending = realloc(c->pending, r - w); memcpy(c->pending, buf + w, r - w); c->plen = r - w;
                struct epoll_event m = { .events = EPOLLOUT, .data.ptr = c }; epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &m);
            }
        }
    }
    return 0;
}
