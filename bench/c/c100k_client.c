// C100K client: opens many idle TCP connections to one port, holds them, and every second for R rounds sends one
// 16-byte message on a random P% of them, timing each echo. One process holds at most RLIMIT_NOFILE connections,
// so bench/c100k.sh runs several of these; each spreads its source addresses over 127.0.0.x (IP_BIND_ADDRESS_NO_PORT:
// the source port is picked at connect time per 4-tuple, so each source address has its own ~28k ephemeral ports).
//
// usage: c100k_client -p PORT -c CONNS [-a FIRST_SRC_HOST (2)] [-n SRC_COUNT (4)] [-r ROUNDS (10)] [-P PERCENT (1)]
//                     [-g GO_FILE] [-q QUIT_FILE] [-o RTT_FILE] [-T RAMP_TIMEOUT_S (120)] [-H MAX_HOLD_S (600)] [-S SEED]
// Phases: ramp (at most MAX_INFLIGHT connects in flight) → print "READY ..." → wait for GO_FILE to exist → R rounds,
// one second apart → wait up to ANSWER_GRACE_S for the last echoes → print a JSON line → hold until QUIT_FILE exists
// (or MAX_HOLD_S) → exit (the kernel closes everything). Every wait is bounded.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_INFLIGHT 1024      // connects in flight: well under the server's backlog (4096) and tcp_max_syn_backlog
#define MSG 16                 // [u64 send time ns][u32 connection index][u32 round]
#define ANSWER_GRACE_S 5.0     // after the last round, how long unanswered echoes are waited for
#define MAX_EVENTS 1024

enum { ST_FREE, ST_CONNECTING, ST_OPEN, ST_CLOSED, ST_FAILED };

typedef struct {
  int fd;
  uint8_t state;
  uint8_t pending;   // a sampled message is waiting for its echo
  uint8_t got;       // bytes of the echo received so far
  uint8_t buf[MSG];
} conn_t;

static double now_s(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static uint64_t now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec; }
static int exists(const char *p) { struct stat st; return p && stat(p, &st) == 0; }

static conn_t *conns;
static int nconns, epfd, open_count, closed_count, failed_count, first_errno, inflight;
static long sent, answered;
static uint32_t *rtts_us; static long nrtts, cap_rtts;

static void on_readable(int i) {
  conn_t *c = &conns[i];
  for (;;) {
    uint8_t tmp[256];
    ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
    if (n > 0) {
      for (ssize_t k = 0; k < n; k++) {
        if (c->got < MSG) c->buf[c->got++] = tmp[k];
        if (c->got == MSG) {
          uint64_t t0; memcpy(&t0, c->buf, 8);
          uint64_t rtt = (now_ns() - t0) / 1000;
          if (nrtts == cap_rtts) { cap_rtts = cap_rtts ? cap_rtts * 2 : 4096; rtts_us = realloc(rtts_us, cap_rtts * sizeof *rtts_us); }
          rtts_us[nrtts++] = (uint32_t)(rtt > UINT32_MAX ? UINT32_MAX : rtt);
          answered++; c->pending = 0; c->got = 0;
        }
      }
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      if (c->state == ST_OPEN) { open_count--; closed_count++; }
      c->state = ST_CLOSED;
      epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
      close(c->fd); c->fd = -1;
    }
    return;
  }
}

static void on_connect_done(int i) {
  conn_t *c = &conns[i];
  inflight--;
  int err = 0; socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) {
    if (!first_errno) first_errno = err;
    failed_count++; c->state = ST_FAILED;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); c->fd = -1;
    return;
  }
  c->state = ST_OPEN; open_count++;
  struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i };
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void pump(int timeout_ms) {
  struct epoll_event evs[MAX_EVENTS];
  int n = epoll_wait(epfd, evs, MAX_EVENTS, timeout_ms);
  for (int k = 0; k < n; k++) {
    int i = (int)evs[k].data.u32;
    if (conns[i].state == ST_CONNECTING) on_connect_done(i);
    else if (conns[i].state == ST_OPEN) on_readable(i);
  }
}

int main(int argc, char **argv) {
  int port = 0, n = 0, src_first = 2, src_count = 4, rounds = 10; double pct = 1.0, ramp_timeout = 120, max_hold = 600;
  const char *go = NULL, *quit = NULL, *rtt_file = NULL; unsigned seed = (unsigned)getpid();
  int opt;
  while ((opt = getopt(argc, argv, "p:c:a:n:r:P:g:q:o:T:H:S:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'c': n = atoi(optarg); break;
      case 'a': src_first = atoi(optarg); break;
      case 'n': src_count = atoi(optarg); break;
      case 'r': rounds = atoi(optarg); break;
      case 'P': pct = atof(optarg); break;
      case 'g': go = optarg; break;
      case 'q': quit = optarg; break;
      case 'o': rtt_file = optarg; break;
      case 'T': ramp_timeout = atof(optarg); break;
      case 'H': max_hold = atof(optarg); break;
      case 'S': seed = (unsigned)atoi(optarg); break;
      default: fprintf(stderr, "bad arguments (see the comment at the top of c100k_client.c)\n"); return 2;
    }
  }
  if (port <= 0 || n <= 0 || src_count <= 0 || src_first < 1 || src_first + src_count > 255) { fprintf(stderr, "need -p PORT -c CONNS, sources within 127.0.0.1-254\n"); return 2; }
  srand(seed);
  nconns = n;
  conns = calloc(n, sizeof *conns);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);

  // ---- ramp -----------------------------------------------------------------------------------------------------
  double t_start = now_s(), deadline = t_start + ramp_timeout;
  int next = 0, socket_errors = 0;
  while ((next < n || inflight > 0) && now_s() < deadline) {
    while (next < n && inflight < MAX_INFLIGHT) {
      conn_t *c = &conns[next];
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) { if (!first_errno) first_errno = errno; socket_errors++; c->state = ST_FAILED; failed_count++; next++; continue; }
      int one = 1;
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = 0 };
      src.sin_addr.s_addr = htonl((127u << 24) | (uint32_t)(src_first + next % src_count));
      if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0 ||
          (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)) {
        if (!first_errno) first_errno = errno;
        close(fd); c->state = ST_FAILED; failed_count++; next++; continue;
      }
      c->fd = fd; c->state = ST_CONNECTING; inflight++;
      struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)next };
      epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
      next++;
    }
    pump(10);
  }
  double ramp_s = now_s() - t_start;
  printf("READY connected=%d failed=%d still_connecting=%d socket_errors=%d ramp_s=%.3f first_error=%s\n", open_count, failed_count, inflight, socket_errors, ramp_s, first_errno ? strerror(first_errno) : "none");
  fflush(stdout);

  // ---- wait for the go signal (the script measures memory meanwhile) --------------------------------------------
  double wait_deadline = now_s() + max_hold;
  while (go && !exists(go) && now_s() < wait_deadline) pump(50);

  // ---- rounds: a random pct% of the open connections, one message each, every second ----------------------------
  int per_round = (int)(n * pct / 100.0 + 0.5);
  if (per_round < 1) per_round = 1;
  long skipped_busy = 0;
  double t0 = now_s();
  for (int r = 0; r < rounds; r++) {
    double at = t0 + r;
    while (now_s() < at) pump((int)((at - now_s()) * 1000) + 1);
    for (int k = 0; k < per_round; k++) {
      int tries = 0, i;
      do { i = (int)(((unsigned long)rand() * (RAND_MAX + 1ul) + rand()) % (unsigned long)n); } while ((conns[i].state != ST_OPEN || conns[i].pending) && ++tries < 64);
      if (conns[i].state != ST_OPEN || conns[i].pending) { skipped_busy++; continue; }
      uint8_t m[MSG]; uint64_t ts = now_ns(); uint32_t idx = (uint32_t)i, rr = (uint32_t)r;
      memcpy(m, &ts, 8); memcpy(m + 8, &idx, 4); memcpy(m + 12, &rr, 4);
      ssize_t w = send(conns[i].fd, m, MSG, MSG_NOSIGNAL);
      if (w == MSG) { conns[i].pending = 1; conns[i].got = 0; sent++; }
      pump(0); // collect echoes as they come, so a round trip does not include the rest of this round's sends
    }
  }
  double grace_end = now_s() + 1.0 + ANSWER_GRACE_S;
  while (answered < sent && now_s() < grace_end) pump(20);
  // A short settle so a server that drops connections after the last round is still seen.
  double settle = now_s() + 0.2; while (now_s() < settle) pump(20);

  if (rtt_file) {
    FILE *f = fopen(rtt_file, "w");
    if (f) { for (long i = 0; i < nrtts; i++) fprintf(f, "%u\n", rtts_us[i]); fclose(f); }
  }
  printf("{\"wanted\":%d,\"connected\":%d,\"held\":%d,\"closed_by_server\":%d,\"failed\":%d,\"ramp_s\":%.3f,\"sent\":%ld,\"answered\":%ld,\"skipped\":%ld,\"first_error\":\"%s\"}\n",
         n, open_count + closed_count, open_count, closed_count, failed_count, ramp_s, sent, answered, skipped_busy, first_errno ? strerror(first_errno) : "none");
  fflush(stdout);

  // ---- hold until told (the script drops every client at once at the end) ----------------------------------------
  double hold_deadline = now_s() + max_hold;
  while (quit && !exists(quit) && now_s() < hold_deadline) pump(50);
  return 0;
}
