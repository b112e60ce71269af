/* Reference: a single-threaded io_uring echo server in C (liburing), the io_uring floor of this machine, beside
 * echo_epoll.c. What a careful C server does with io_uring today:
 *   - multishot accept (one SQE for every connection), TCP_NODELAY on each;
 *   - multishot recv into a provided-buffer ring (IORING_REGISTER_PBUF_RING): no buffer per idle connection;
 *   - the echo is sent straight from the buffer the kernel filled (no copy), one send in flight per connection,
 *     the buffer recycled when its send completes;
 *   - one io_uring_enter per loop turn (io_uring_submit_and_wait): submissions and the wait in one call;
 *   - back-pressure like echo_epoll: while a connection has more than PAUSE_AT received chunks not yet echoed, its
 *     receive is cancelled and re-armed once the queue drains.
 * Ring flags: IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (6.1+; completions are processed only when this thread
 * enters the kernel, which a one-thread server always does), falling back to COOP_TASKRUN | TASKRUN_FLAG.
 * usage: echo_uring PORT [-c] [-f] [-n BUFFERS] [-b BUFFER_BYTES]
 *   -c: COOP_TASKRUN | TASKRUN_FLAG only, the flags NoBlock's ring uses; -f: no incremental buffer consumption
 *   (the default uses it where the kernel has it, 6.12+); -n/-b: the provided buffers (default 256 x 64 KiB) */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 8192
static unsigned NBUFS = 256;    /* -n: power of two */
static unsigned BUFSZ = 65536;  /* -b: as large as echo_epoll's one read buffer (streaming pays per receive) */
#define BGID 0
#define QCAP 256          /* received chunks a connection may hold; a peer that outruns it is closed */
#define PAUSE_AT 32       /* stop receiving above this many (a multishot recv still delivers what completed) */

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3, OP_CANCEL = 4 };

/* Incremental buffer consumption (-i; Linux 6.12, IOU_PBUF_RING_INC): a receive takes only the bytes it needs from
 * the head buffer, so small messages share one buffer and a buffer is the kernel's until a completion for it comes
 * without IORING_CQE_F_BUF_MORE. Then it is recycled once every chunk of it has been echoed. (liburing 2.3 predates
 * both names: the values are include/uapi/linux/io_uring.h's.) */
#define PBUF_RING_INC 2          /* IOU_PBUF_RING_INC, in io_uring_buf_reg.flags (liburing 2.3: .pad) */
#define CQE_F_BUF_MORE (1U << 4) /* IORING_CQE_F_BUF_MORE */
static int incremental = 1;     /* -f: fixed buffers (no IOU_PBUF_RING_INC), also the fallback before 6.12 */
static unsigned *buf_off;        /* next unread byte of each buffer (incremental mode) */
static unsigned short *buf_refs; /* chunks of each buffer still queued for echo */
static char *buf_kernel;         /* the kernel still fills this buffer */

struct seg { unsigned short bid; unsigned off, len; };
struct conn {
    int fd, dead, eof, sending, recv_armed, paused;
    int inflight;               /* requests in the kernel; the struct is freed when this reaches 0 after close */
    unsigned qh, qt;            /* queue of received chunks to echo: q[qh % QCAP] .. q[qt % QCAP] */
    struct seg q[QCAP];
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static int lfd, recycled;
static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static struct io_uring_sqe *sqe_get(void) {
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    if (!s) { io_uring_submit(&ring); s = io_uring_get_sqe(&ring); }
    return s;
}
static void *ud(struct conn *c, int op) { return (void *)((uintptr_t)c | op); }
static void recycle(unsigned short bid);
/* A queued chunk of buffer bid was echoed (or dropped): recycle the buffer once nothing refers to it. */
static void release(unsigned short bid) {
    if (!incremental) { recycle(bid); return; }
    if (--buf_refs[bid] == 0 && !buf_kernel[bid]) { buf_off[bid] = 0; recycle(bid); }
}
static void recycle(unsigned short bid) {
    io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, bid, io_uring_buf_ring_mask(NBUFS), recycled++);
}
static void arm_recv(struct conn *c) {
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_recv_multishot(s, c->fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    io_uring_sqe_set_data(s, ud(c, OP_RECV));
    c->recv_armed = 1; c->inflight++;
}
static void send_head(struct conn *c) {
    struct seg *g = &c->q[c->qh % QCAP];
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_send(s, c->fd, bufs + (size_t)g->bid * BUFSZ + g->off, g->len, MSG_NOSIGNAL);
    io_uring_sqe_set_data(s, ud(c, OP_SEND));
    c->sending = 1; c->inflight++;
}
static void maybe_free(struct conn *c) {
    if (!c->dead || c->inflight) return;
    while (c->qh != c->qt) release(c->q[c->qh++ % QCAP].bid);
    free(c);
}
static void close_conn(struct conn *c) {
    if (c->dead) return;
    c->dead = 1;
    struct io_uring_sqe *s = sqe_get();          /* end the multishot recv (it holds the socket open) */
    io_uring_prep_cancel_fd(s, c->fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data(s, ud(NULL, OP_CANCEL));
    close(c->fd);
    maybe_free(c);
}

/* Receive again unless closed, at end of stream, already armed, or still above the resume mark (back-pressure). */
static void maybe_rearm(struct conn *c) {
    if (c->dead || c->eof || c->recv_armed || c->qt - c->qh > PAUSE_AT / 2) return;
    c->paused = 0;
    arm_recv(c);
}

static void on_recv(struct conn *c, struct io_uring_cqe *cqe) {
    int more = cqe->flags & IORING_CQE_F_MORE;
    if (!more) { c->inflight--; c->recv_armed = 0; }
    if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
        unsigned short bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        unsigned off = 0;
        if (incremental) {
            off = buf_off[bid]; buf_off[bid] += cqe->res; buf_refs[bid]++;
            buf_kernel[bid] = (cqe->flags & CQE_F_BUF_MORE) != 0;
        }
        if (c->dead) { release(bid); maybe_free(c); return; }
        if (c->qt - c->qh == QCAP) { release(bid); fprintf(stderr, "fd %d: echo queue full, closing\n", c->fd); close_conn(c); return; }
        c->q[c->qt++ % QCAP] = (struct seg){ bid, off, (unsigned)cqe->res };
        if (!c->sending) send_head(c);
        if (c->qt - c->qh > PAUSE_AT && c->recv_armed && !c->paused) {
            c->paused = 1;
            struct io_uring_sqe *s = sqe_get();
            io_uring_prep_cancel(s, ud(c, OP_RECV), 0);
            io_uring_sqe_set_data(s, ud(NULL, OP_CANCEL));
        }
        if (!more) maybe_rearm(c);
        return;
    }
    if (c->dead) { maybe_free(c); return; }
    if (cqe->res == -ENOBUFS || cqe->res == -ECANCELED) { maybe_rearm(c); return; } /* else when a send drains */
    if (cqe->res == 0) { c->eof = 1; if (!c->sending) close_conn(c); return; }
    close_conn(c);
}

static void on_send(struct conn *c, struct io_uring_cqe *cqe) {
    c->inflight--; c->sending = 0;
    if (c->dead) { maybe_free(c); return; }
    if (cqe->res < 0) { close_conn(c); return; }
    struct seg *g = &c->q[c->qh % QCAP];
    g->off += cqe->res; g->len -= cqe->res;
    if (g->len == 0) { release(g->bid); c->qh++; }
    if (c->qh != c->qt) send_head(c);
    else if (c->eof) { close_conn(c); return; }
    maybe_rearm(c);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: echo_uring PORT [-c] [-f] [-n BUFFERS] [-b BUFFER_BYTES]\n"); return 2; }
    int coop_only = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0) coop_only = 1;
        else if (strcmp(argv[i], "-f") == 0) incremental = 0;
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) NBUFS = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc) BUFSZ = (unsigned)atoi(argv[++i]);
        else { fprintf(stderr, "echo_uring: unknown argument %s\n", argv[i]); return 2; }
    }
    if (NBUFS == 0 || (NBUFS & (NBUFS - 1)) || NBUFS > 32768 || BUFSZ == 0) { fprintf(stderr, "echo_uring: -n must be a power of two <= 32768, -b positive\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0}; sa.sa_handler = on_signal; sigaction(SIGTERM, &sa, NULL); sigaction(SIGINT, &sa, NULL);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET; addr.sin_port = htons(atoi(argv[1])); addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4096)) { perror("bind/listen"); return 1; }

    struct io_uring_params p = {0};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = CQ_ENTRIES;
    const char *mode = "single_issuer+defer_taskrun";
    int r = coop_only ? -EINVAL : io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
    if (r < 0) {
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
        p.cq_entries = CQ_ENTRIES;
        mode = "coop_taskrun";
        r = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
    }
    if (r < 0) { fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r)); return 1; }

    if (posix_memalign((void **)&br, 4096, NBUFS * sizeof(struct io_uring_buf))) return 1;
    bufs = malloc((size_t)NBUFS * BUFSZ);
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br, .ring_entries = NBUFS, .bgid = BGID, .pad = incremental ? PBUF_RING_INC : 0 };
    buf_off = calloc(NBUFS, sizeof *buf_off); buf_refs = calloc(NBUFS, sizeof *buf_refs); buf_kernel = calloc(NBUFS, 1);
    r = io_uring_register_buf_ring(&ring, &reg, 0);
    if (r == -EINVAL && incremental) { incremental = 0; reg.pad = 0; r = io_uring_register_buf_ring(&ring, &reg, 0); } /* before 6.12 */
    if (r) { fprintf(stderr, "register_buf_ring: %s\n", strerror(-r)); return 1; }
    for (int i = 0; i < NBUFS; i++) recycle(i);
    io_uring_buf_ring_advance(br, recycled); recycled = 0;

    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data(s, ud(NULL, OP_ACCEPT));
    printf("echo_uring listening on 127.0.0.1:%s (%s, %u x %u-byte buffers%s)\n", argv[1], mode, NBUFS, BUFSZ, incremental ? ", incremental" : ""); fflush(stdout);

    while (!stop) {
        r = io_uring_submit_and_wait(&ring, 1);
        if (r < 0 && r != -EINTR && r != -ETIME && r != -EBUSY) { fprintf(stderr, "submit_and_wait: %s\n", strerror(-r)); return 1; }
        struct io_uring_cqe *cqe; unsigned head, n = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            n++;
            uintptr_t u = (uintptr_t)io_uring_cqe_get_data(cqe);
            struct conn *c = (struct conn *)(u & ~(uintptr_t)7);
            switch (u & 7) {
            case OP_ACCEPT:
                if (cqe->res >= 0) {
                    setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc); nc->fd = cqe->res;
                    arm_recv(nc);
                }
                if (!(cqe->flags & IORING_CQE_F_MORE)) { /* EMFILE and friends end it: re-arm */
                    s = sqe_get();
                    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    io_uring_sqe_set_data(s, ud(NULL, OP_ACCEPT));
                }
                break;
            case OP_RECV: on_recv(c, cqe); break;
            case OP_SEND: on_send(c, cqe); break;
            default: break;
            }
        }
        io_uring_cq_advance(&ring, n);
        if (recycled) { io_uring_buf_ring_advance(br, recycled); recycled = 0; }
    }
    return 0;
}
