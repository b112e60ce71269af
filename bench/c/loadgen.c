/* Load generator: C connections over loopback, each ping-ponging SIZE-byte messages (send, wait for the whole
 * echo, send again) for DURATION seconds after WARMUP seconds. With -W DEPTH each connection keeps DEPTH messages
 * in flight instead of one (streaming: -s 16384 -W 8 keeps 128 KB moving per connection); a request is one
 * message echoed back, its latency from its own send. Prints one JSON line: requests per second,
 * p50/p99 round trip, and (with -P PID) the server's CPU seconds (utime+stime from /proc/PID/stat) over the
 * measured window. Bounded: stops after warmup+duration no matter what.
 *
 * Idle mode (-i): opens C connections, does one round trip on each (so the server has accepted and served it),
 * prints "READY" and holds them until stdin closes or HOLD seconds pass.
 *
 * usage: loadgen -p PORT -c CONNS [-d SECONDS] [-w WARMUP] [-s SIZE] [-W DEPTH] [-P SERVER_PID] [-i HOLD_SECONDS] */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HIST_US 1000000 /* 1 us buckets up to 1 s */

#define MAX_DEPTH 64
struct conn { int fd; long got; unsigned done; uint64_t sent_at[MAX_DEPTH]; };

static uint64_t now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec; }

static double server_cpu(int pid) {
    if (pid <= 0) return 0;
    char path[64]; snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r"); if (!f) return -1;
    char line[4096]; if (!fgets(line, sizeof line, f)) { fclose(f); return -1; } fclose(f);
    char *p = strrchr(line, ')'); if (!p) return -1;
    /* fields after ") ": state(3) ... utime(14) stime(15) */
    unsigned long ut = 0, st = 0; int field = 2; char *tok = strtok(p + 2, " ");
    while (tok) { field++; if (field == 14) ut = strtoul(tok, NULL, 10); if (field == 15) { st = strtoul(tok, NULL, 10); break; } tok = strtok(NULL, " "); }
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static int connect_one(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = { .tv_sec = 1 }; setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounded even if the server stalls */
    struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) { close(fd); return -1; }
    return fd;
}

int main(int argc, char **argv) {
    int port = 0, conns = 1, size = 64, pid = 0, depth = 1; double duration = 5, warmup = 1, hold = -1;
    int opt;
    while ((opt = getopt(argc, argv, "p:c:d:w:s:W:P:i:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'W': depth = atoi(optarg); break;
        case 'P': pid = atoi(optarg); break;
        case 'i': hold = atof(optarg); break;
        default: fprintf(stderr, "usage: loadgen -p PORT -c CONNS [-d S] [-w S] [-s SIZE] [-W DEPTH] [-P PID] [-i HOLD]\n"); return 2;
        }
    }
    if (!port || conns <= 0 || size <= 0 || size > 65536 || depth < 1 || depth > MAX_DEPTH || duration > 120 || hold > 600) { fprintf(stderr, "bad arguments\n"); return 2; }
    char *msg = malloc(size), *rbuf = malloc(65536);
    memset(msg, 'x', size);
    struct conn *cs = calloc(conns, sizeof *cs);
    for (int i = 0; i < conns; i++) {
        cs[i].fd = connect_one(port);
        if (cs[i].fd < 0) { fprintf(stderr, "connect %d failed: %s\n", i, strerror(errno)); return 1; }
    }
    if (hold >= 0) {
        for (int i = 0; i < conns; i++) { /* blocking round trip per connection */
            if (send(cs[i].fd, msg, size, MSG_NOSIGNAL) != size) { perror("send"); return 1; }
            int got = 0; while (got < size) { ssize_t r = recv(cs[i].fd, rbuf, size - got, 0); if (r <= 0) { perror("recv"); return 1; } got += r; }
        }
        printf("READY %d\n", conns); fflush(stdout);
        struct pollfd p = { .fd = 0, .events = POLLIN };
        uint64_t end = now_ns() + (uint64_t)(hold * 1e9);
        while (now_ns() < end) { if (poll(&p, 1, 100) > 0) { if (read(0, rbuf, 1) <= 0) break; } }
        for (int i = 0; i < conns; i++) close(cs[i].fd);
        return 0;
    }
    int ep = epoll_create1(0);
    for (int i = 0; i < conns; i++) {
        int fl = 1; (void)fl;
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    uint64_t *hist = calloc(HIST_US + 1, sizeof *hist);
    uint64_t start = now_ns(), measure_from = start + (uint64_t)(warmup * 1e9), end = measure_from + (uint64_t)(duration * 1e9);
    int measuring = 0; double cpu0 = 0; uint64_t requests = 0, errors = 0, t0 = 0;
    for (int i = 0; i < conns; i++)
        for (int k = 0; k < depth; k++) { cs[i].sent_at[k] = now_ns(); if (send(cs[i].fd, msg, size, MSG_NOSIGNAL) != size) errors++; }
    struct epoll_event evs[1024];
    for (;;) {
        uint64_t t = now_ns();
        if (!measuring && t >= measure_from) { measuring = 1; cpu0 = server_cpu(pid); t0 = t; }
        if (t >= end) break;
        int n = epoll_wait(ep, evs, 1024, 10);
        for (int k = 0; k < n; k++) {
            struct conn *c = &cs[evs[k].data.u32];
            ssize_t r = recv(c->fd, rbuf, 65536, MSG_DONTWAIT);
            if (r <= 0) { if (r < 0 && errno == EAGAIN) continue; errors++; epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); continue; }
            c->got += r;
            while (c->got >= size) { /* each whole echo completes the oldest message in flight; send the next */
                c->got -= size;
                uint64_t done = now_ns();
                unsigned slot = c->done++ % depth;
                if (measuring && done <= end) {
                    requests++;
                    uint64_t us = (done - c->sent_at[slot]) / 1000; if (us > HIST_US) us = HIST_US; hist[us]++;
                }
                c->sent_at[slot] = done;
                if (send(c->fd, msg, size, MSG_NOSIGNAL) != size) errors++;
            }
        }
    }
    double secs = (now_ns() - t0) / 1e9, cpu1 = server_cpu(pid);
    uint64_t p50 = 0, p99 = 0, acc = 0; int have50 = 0;
    for (int us = 0; us <= HIST_US; us++) {
        acc += hist[us];
        if (!have50 && acc * 2 >= requests) { p50 = us; have50 = 1; }
        if (acc * 100 >= requests * 99) { p99 = us; break; }
    }
    printf("{\"conns\":%d,\"size\":%d,\"depth\":%d,\"seconds\":%.3f,\"requests\":%llu,\"rps\":%.0f,\"p50_us\":%llu,\"p99_us\":%llu,\"errors\":%llu,\"server_cpu_s\":%.3f,\"cpu_us_per_req\":%.3f}\n",
           conns, size, depth, secs, (unsigned long long)requests, requests / secs, (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)errors, pid > 0 ? cpu1 - cpu0 : -1, pid > 0 && requests ? (cpu1 - cpu0) * 1e6 / requests : -1);
    for (int i = 0; i < conns; i++) close(cs[i].fd);
    return 0;
}
