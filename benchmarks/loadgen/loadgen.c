/*
 * loadgen: a cheap Socket.IO v5 / Engine.IO v4 WebSocket load generator.
 *
 * One thread, one epoll set (edge-triggered), many non-blocking TCP connections to a loopback
 * address.  Each connection does the WebSocket upgrade on
 * /socket.io/?EIO=4&transport=websocket, reads the Engine.IO open packet `0{...}`, sends the
 * Socket.IO CONNECT `40`, waits for `40{"sid":...}`, answers Engine.IO pings `2` with `3` (and
 * WebSocket pings with pongs) and masks every frame it sends.  Frames are parsed minimally:
 * a delivery is a text frame starting with `42["tick"`, an ack is `43<id>...`; no JSON is parsed.
 *
 * Modes (one JSON line on stdout at the end; errors and -v chatter on stderr):
 *   connect  open N connections keeping K in flight; connects/s, connect latency, server RSS
 *            before and after (read from /proc/PID/status), then hold them for --hold seconds
 *            answering pings and count those the server closes.
 *   fanout   N connected clients, client 0 also the control client.  Latency: burst(1, size)
 *            repeated, time from the send to the last client receiving the tick (p50/p99).
 *            Throughput: burst(count, size) with count calibrated, two bursts in flight, for
 *            --duration seconds; deliveries/s = ticks received / (last tick - first send).
 *   echo     N clients (100) in a closed loop sending 42<id>["echo","x"*size] and waiting for
 *            43<id>[...]; acks/s and RTT p50/p99 over --duration after --warmup.
 *   churn    --cycles cycles of opening --batch connections and closing them; server RSS before,
 *            after and after every cycle (a leak shows as growth).
 *
 * Build: cc -O2 -o loadgen loadgen.c   (Linux only)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SZ (4u << 20)
#define MAX_FRAME (RBUF_SZ / 2)
#define MAX_EVENTS 1024

enum { S_IDLE, S_CONNECTING, S_HTTP, S_EIO_OPEN, S_SIO_CONNECT, S_READY, S_CLOSED };

enum {
    E_CONNECT,   /* connect() failed or refused */
    E_HTTP,      /* upgrade refused */
    E_PROTO,     /* unexpected bytes */
    E_REFUSED,   /* Socket.IO CONNECT_ERROR */
    E_EOF,       /* closed by the server before the CONNECT reply */
    E_TIMEOUT,   /* still pending at the deadline */
    E_COUNT
};
static const char *const error_names[E_COUNT] = {"connect", "http", "protocol", "refused", "eof", "timeout"};

typedef struct conn {
    int fd;
    uint8_t state;
    uint8_t mask[4];
    uint32_t idx;
    char *in;
    uint32_t in_len, in_cap;
    char *out;
    uint32_t out_len, out_cap;
    double t_open;   /* when connect() was called */
    double t_sent;   /* echo: when the outstanding request was sent */
    uint32_t next_id; /* next ack id to use */
    uint32_t wait_id; /* echo: ack id outstanding (0 = none) */
} conn_t;

static struct {
    uint64_t ready_total;  /* connections that reached READY */
    uint64_t live;         /* READY and open */
    uint64_t pending;      /* opened, not READY, not failed */
    uint64_t failed;
    uint64_t errors[E_COUNT];
    uint64_t closed_after_ready; /* READY connections the server closed */
    uint64_t ticks;
    uint64_t acks;
    uint64_t pings;
    uint64_t other;        /* other packets received */
} st;

/* options */
static const char *opt_host = "127.0.0.1";
static const char *opt_source = NULL;
static uint32_t opt_sources = 1;
static int opt_port = 0;
static int opt_port2 = 0; /* a second node of a cluster: odd-numbered connections go there */
static const char *opt_path = "/socket.io/";
static const char *opt_mode = NULL;
static uint32_t opt_clients = 100;
static uint32_t opt_inflight = 200;
static double opt_hold = 2.0;
static int opt_server_pid = 0;
static uint32_t opt_warmup_conns = 10;
static double opt_timeout = 120.0;
static uint32_t opt_size = 100;
static uint32_t opt_rounds = 20;
static double opt_latency_budget = 20.0;
static double opt_duration = 5.0;
static double opt_warmup = 1.0;
static double opt_burst_budget_mb = 64.0;
static double opt_conn_burst_kb = 256.0;
static uint32_t opt_count = 0;
static uint32_t opt_max_count = 10000;
static uint32_t opt_cycles = 20;
static uint32_t opt_batch = 500;
static double opt_settle = 1.0;
static int opt_verbose = 0;

static int epfd = -1;
static struct sockaddr_in srv_addr;
static struct sockaddr_in srv_addr2;
/* --source, --sources: the local addresses connections are bound to, in turn (port chosen
   at connect()) */
static struct sockaddr_in src_addr;
static uint32_t src_base; /* host order */
static char *rbuf;
static char request[512];
static size_t request_len;
static conn_t *pool;
static uint32_t pool_n;
static uint32_t open_next, open_target;
static double deadline_all;

/* mode hooks */
static void (*hook_ready)(conn_t *c);
static void (*hook_ack)(conn_t *c, uint32_t id, const char *p, size_t n);

/* fanout: ticks awaited, and when the read that brought the latest tick happened */
static uint64_t tick_target = UINT64_MAX;
static double last_tick_time;

/* connect latency samples */
static double *conn_lat;
static size_t conn_lat_n, conn_lat_cap;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_self(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec * 1e-6;
}

/* VmRSS of the server in kB, -1 if unknown */
static long server_rss_kb(void) {
    if (opt_server_pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", opt_server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* user+system CPU seconds of the server, -1 if unknown */
static double server_cpu_s(void) {
    if (opt_server_pid <= 0) return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", opt_server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p += 2; /* state */
    unsigned long long utime = 0, stime = 0;
    /* fields after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void die(const char *msg) {
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(2);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) die("out of memory");
    return q;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* nearest-rank percentile of a sorted array */
static double pct(const double *v, size_t n, double p) {
    if (n == 0) return -1;
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return v[k - 1];
}

/* ---------------------------------------------------------------------------------------------- */
/* connections */

static void buf_append(char **buf, uint32_t *len, uint32_t *cap, const char *p, size_t n) {
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < *len + n) nc *= 2;
        *buf = xrealloc(*buf, nc);
        *cap = (uint32_t)nc;
    }
    memcpy(*buf + *len, p, n);
    *len += (uint32_t)n;
}

static void conn_release(conn_t *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->in_cap = c->out_len = c->out_cap = 0;
}

/* the connection ends: failed before READY (reason) or closed after */
static void conn_close(conn_t *c, int reason) {
    if (c->state == S_CLOSED || c->state == S_IDLE) return;
    if (c->state == S_READY) {
        st.live--;
        st.closed_after_ready++;
    } else {
        st.pending--;
        st.failed++;
        st.errors[reason]++;
        if (opt_verbose) fprintf(stderr, "loadgen: connection %u failed: %s\n", c->idx, error_names[reason]);
    }
    c->state = S_CLOSED;
    conn_release(c);
}

/* a deliberate close by the load generator (churn, end of run): not an error */
static void conn_drop(conn_t *c) {
    if (c->state == S_READY) st.live--;
    else if (c->state != S_CLOSED && c->state != S_IDLE) st.pending--;
    c->state = S_CLOSED;
    conn_release(c);
}

static void conn_flush(conn_t *c) {
    while (c->out_len) {
        ssize_t w = write(c->fd, c->out, c->out_len);
        if (w > 0) {
            memmove(c->out, c->out + w, c->out_len - (size_t)w);
            c->out_len -= (uint32_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            return; /* EAGAIN: EPOLLOUT will come; an error shows up on read */
        }
    }
}

static void conn_write(conn_t *c, const char *p, size_t n) {
    if (c->out_len == 0) {
        for (;;) {
            ssize_t w = write(c->fd, p, n);
            if (w == (ssize_t)n) return;
            if (w > 0) {
                p += w;
                n -= (size_t)w;
                continue;
            }
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && errno != EAGAIN) return; /* error: reported by the read side */
            break;
        }
    }
    buf_append(&c->out, &c->out_len, &c->out_cap, p, n);
}

/* one masked frame, FIN set */
static void send_frame(conn_t *c, uint8_t opcode, const char *p, size_t n) {
    char stackbuf[4096];
    size_t total = n + 14;
    char *b = total <= sizeof stackbuf ? stackbuf : xrealloc(NULL, total);
    size_t h = 0;
    b[h++] = (char)(0x80 | opcode);
    if (n < 126) {
        b[h++] = (char)(0x80 | n);
    } else if (n < 65536) {
        b[h++] = (char)(0x80 | 126);
        b[h++] = (char)(n >> 8);
        b[h++] = (char)n;
    } else {
        b[h++] = (char)(0x80 | 127);
        for (int i = 7; i >= 0; i--) b[h++] = (char)((uint64_t)n >> (8 * i));
    }
    memcpy(b + h, c->mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++) b[h + i] = (char)(p[i] ^ c->mask[i & 3]);
    conn_write(c, b, h + n);
    if (b != stackbuf) free(b);
}

static void send_text(conn_t *c, const char *p, size_t n) { send_frame(c, 0x1, p, n); }

static void conn_open(conn_t *c) {
    memset(c, 0, sizeof *c);
    c->idx = (uint32_t)(c - pool);
    uint32_t m = c->idx * 2654435761u + 0x9e3779b9u;
    memcpy(c->mask, &m, 4);
    c->next_id = 1;
    c->t_open = now();
    st.pending++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->state = S_CONNECTING;
        conn_close(c, E_CONNECT);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt_source) {
        /* the port is picked at connect() for the whole 4-tuple, so every run from a
           fresh source address has the whole ephemeral range, whatever earlier runs
           left in TIME_WAIT */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in a = src_addr;
        a.sin_addr.s_addr = htonl(src_base + c->idx % opt_sources);
        if (bind(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
            c->state = S_CONNECTING;
            conn_close(c, E_CONNECT);
            return;
        }
    }
    const struct sockaddr_in *to = (opt_port2 && (c->idx & 1)) ? &srv_addr2 : &srv_addr;
    int r = connect(c->fd, (const struct sockaddr *)to, sizeof *to);
    c->state = S_CONNECTING;
    if (r < 0 && errno != EINPROGRESS) {
        conn_close(c, E_CONNECT);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        conn_close(c, E_CONNECT);
        return;
    }
}

static void top_up(void) {
    while (open_next < open_target && st.pending < opt_inflight) conn_open(&pool[open_next++]);
}

static void mark_ready(conn_t *c) {
    c->state = S_READY;
    st.pending--;
    st.live++;
    st.ready_total++;
    if (conn_lat_n == conn_lat_cap) {
        conn_lat_cap = conn_lat_cap ? conn_lat_cap * 2 : 1024;
        conn_lat = xrealloc(conn_lat, conn_lat_cap * sizeof *conn_lat);
    }
    conn_lat[conn_lat_n++] = now() - c->t_open;
    if (hook_ready) hook_ready(c);
}

static void on_text(conn_t *c, const char *p, size_t n) {
    if (n == 0) return;
    if (c->state == S_READY) {
        if (p[0] == '4' && n >= 2) {
            if (p[1] == '2') {
                if (n >= 9 && memcmp(p, "42[\"tick\"", 9) == 0) {
                    st.ticks++;
                } else {
                    st.other++;
                }
                return;
            }
            if (p[1] == '3') {
                uint32_t id = 0;
                size_t i = 2;
                while (i < n && p[i] >= '0' && p[i] <= '9') id = id * 10 + (uint32_t)(p[i++] - '0');
                st.acks++;
                if (hook_ack) hook_ack(c, id, p + i, n - i);
                return;
            }
            if (p[1] == '1') { /* Socket.IO DISCONNECT from the server */
                conn_close(c, E_EOF);
                return;
            }
            st.other++;
            return;
        }
        if (p[0] == '2') {
            send_text(c, "3", 1);
            st.pings++;
            return;
        }
        if (p[0] == '1') {
            conn_close(c, E_EOF);
            return;
        }
        st.other++;
        return;
    }
    if (c->state == S_EIO_OPEN) {
        if (p[0] == '0') {
            send_text(c, "40", 2);
            c->state = S_SIO_CONNECT;
        } else {
            conn_close(c, E_PROTO);
        }
        return;
    }
    if (c->state == S_SIO_CONNECT) {
        if (n >= 2 && p[0] == '4' && p[1] == '0') {
            mark_ready(c);
        } else if (n >= 2 && p[0] == '4' && p[1] == '4') {
            conn_close(c, E_REFUSED);
        } else if (p[0] == '2') {
            send_text(c, "3", 1);
            st.pings++;
        } else {
            st.other++;
        }
    }
}

/* parse what is in buf; returns the number of bytes consumed */
static size_t consume(conn_t *c, char *buf, size_t len) {
    size_t pos = 0;
    if (c->state == S_HTTP) {
        char *e = memmem(buf, len, "\r\n\r\n", 4);
        if (!e) {
            if (len > 16384) conn_close(c, E_HTTP);
            return 0;
        }
        if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
            if (opt_verbose) fprintf(stderr, "loadgen: upgrade refused: %.*s\n", (int)(len < 200 ? len : 200), buf);
            conn_close(c, E_HTTP);
            return len;
        }
        pos = (size_t)(e - buf) + 4;
        c->state = S_EIO_OPEN;
    }
    while (c->state >= S_EIO_OPEN && c->state <= S_READY) {
        size_t avail = len - pos;
        if (avail < 2) break;
        uint8_t *f = (uint8_t *)buf + pos;
        uint8_t op = f[0] & 0x0F;
        int masked = f[1] & 0x80;
        uint64_t pl = f[1] & 0x7F;
        size_t h = 2;
        if (pl == 126) {
            if (avail < 4) break;
            pl = ((uint64_t)f[2] << 8) | f[3];
            h = 4;
        } else if (pl == 127) {
            if (avail < 10) break;
            pl = 0;
            for (int i = 0; i < 8; i++) pl = (pl << 8) | f[2 + i];
            h = 10;
        }
        if (masked) h += 4;
        if (pl > MAX_FRAME) {
            conn_close(c, E_PROTO);
            return len;
        }
        if (avail < h + pl) break;
        char *p = (char *)f + h;
        if (masked)
            for (uint64_t i = 0; i < pl; i++) p[i] ^= (char)f[h - 4 + (i & 3)];
        pos += h + (size_t)pl;
        switch (op) {
        case 0x1: on_text(c, p, (size_t)pl); break;
        case 0x8: conn_close(c, E_EOF); return len;
        case 0x9: send_frame(c, 0xA, p, (size_t)pl); break;
        default: break; /* binary, continuation, pong: not used by these benchmarks */
        }
    }
    return pos;
}

static void on_readable(conn_t *c, uint32_t events) {
    for (;;) {
        size_t off = c->in_len;
        if (off) {
            memcpy(rbuf, c->in, off);
            c->in_len = 0;
        }
        size_t want = RBUF_SZ - off;
        ssize_t n = read(c->fd, rbuf + off, want);
        if (n > 0) {
            size_t len = off + (size_t)n;
            uint64_t ticks0 = st.ticks;
            size_t used = consume(c, rbuf, len);
            if (st.ticks != ticks0) last_tick_time = now();
            if (c->state == S_CLOSED) return;
            if (used < len) buf_append(&c->in, &c->in_len, &c->in_cap, rbuf + used, len - used);
            /* a short read drained the socket; new data raises a new edge (unless the peer
               also hung up, which we only learn by reading on) */
            if ((size_t)n < want && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
        } else if (n == 0) {
            if (off) buf_append(&c->in, &c->in_len, &c->in_cap, rbuf, off);
            conn_close(c, E_EOF);
            return;
        } else {
            if (off) buf_append(&c->in, &c->in_len, &c->in_cap, rbuf, off);
            if (errno == EINTR) continue;
            if (errno != EAGAIN) conn_close(c, c->state == S_CONNECTING ? E_CONNECT : E_EOF);
            return;
        }
    }
}

static void on_event(conn_t *c, uint32_t events) {
    if (c->state == S_CLOSED || c->state == S_IDLE) return;
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if ((events & (EPOLLERR | EPOLLHUP)) || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
            conn_close(c, E_CONNECT);
            return;
        }
        if (!(events & EPOLLOUT)) return;
        c->state = S_HTTP;
        conn_write(c, request, request_len);
    }
    if ((events & EPOLLOUT) && c->out_len) conn_flush(c);
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c, events);
}

/* run the loop until done() says so or the deadline passes; returns done() */
static int pump(double deadline, int (*done)(void)) {
    struct epoll_event evs[MAX_EVENTS];
    if (deadline > deadline_all) deadline = deadline_all;
    for (;;) {
        top_up();
        if (done && done()) return 1;
        double t = now();
        if (t >= deadline) return 0;
        int ms = (int)((deadline - t) * 1000.0) + 1;
        if (ms > 50) ms = 50;
        int n = epoll_wait(epfd, evs, MAX_EVENTS, ms);
        if (n < 0 && errno != EINTR) die("epoll_wait failed");
        for (int i = 0; i < n; i++) on_event((conn_t *)evs[i].data.ptr, evs[i].events);
    }
}

static int done_never(void) { return 0; }
static int done_opened(void) { return open_next >= open_target && st.pending == 0; }

/* open connections pool[from, to) with opt_inflight in flight; returns seconds taken */
static double open_range(uint32_t from, uint32_t to, double *t_last_ready) {
    open_next = from;
    open_target = to;
    double t0 = now();
    pump(deadline_all, done_opened);
    /* whatever is still pending at the deadline counts as a timeout */
    for (uint32_t i = from; i < open_next; i++)
        if (pool[i].state > S_IDLE && pool[i].state < S_READY) conn_close(&pool[i], E_TIMEOUT);
    open_target = open_next; /* stop opening */
    double t1 = now();
    if (t_last_ready) *t_last_ready = t1;
    return t1 - t0;
}

static void close_all(void) {
    for (uint32_t i = 0; i < pool_n; i++)
        if (pool[i].state != S_IDLE && pool[i].state != S_CLOSED) conn_drop(&pool[i]);
}

static void settle(double secs) { pump(now() + secs, done_never); }

/* ---------------------------------------------------------------------------------------------- */
/* JSON output */

static void json_common(FILE *o, const char *mode) {
    fprintf(o, "{\"mode\":\"%s\",\"port\":%d,\"port2\":%d,\"server_pid\":%d", mode, opt_port, opt_port2,
            opt_server_pid);
}

static void json_errors(FILE *o) {
    fprintf(o, ",\"failed\":%llu,\"errors\":{", (unsigned long long)st.failed);
    for (int i = 0; i < E_COUNT; i++)
        fprintf(o, "%s\"%s\":%llu", i ? "," : "", error_names[i], (unsigned long long)st.errors[i]);
    fprintf(o, "},\"closed_after_ready\":%llu", (unsigned long long)st.closed_after_ready);
}

static void json_num(FILE *o, const char *k, double v) {
    if (v != v || v < 0) fprintf(o, ",\"%s\":null", k);
    else fprintf(o, ",\"%s\":%.6g", k, v);
}

static void json_conn_latency(FILE *o) {
    qsort(conn_lat, conn_lat_n, sizeof *conn_lat, cmp_double);
    json_num(o, "connect_p50_ms", pct(conn_lat, conn_lat_n, 50) * 1e3);
    json_num(o, "connect_p99_ms", pct(conn_lat, conn_lat_n, 99) * 1e3);
}

static void json_end(FILE *o, int ok, const char *error) {
    fprintf(o, ",\"ok\":%s", ok ? "true" : "false");
    if (error) fprintf(o, ",\"error\":\"%s\"", error);
    json_num(o, "loadgen_cpu_s", cpu_self());
    fprintf(o, "}\n");
    fflush(o);
}

/* ---------------------------------------------------------------------------------------------- */
/* connect */

static int run_connect(void) {
    uint32_t w = opt_warmup_conns, n = opt_clients;
    double t_last;
    if (w) {
        open_range(0, w, NULL);
        if (st.ready_total == 0) {
            json_common(stdout, "connect");
            json_errors(stdout);
            json_end(stdout, 0, "warm-up connections failed");
            return 1;
        }
        settle(opt_settle);
    }
    long rss_before = server_rss_kb();
    uint64_t ready0 = st.ready_total;
    conn_lat_n = 0;
    double t = open_range(w, w + n, &t_last);
    uint64_t ready = st.ready_total - ready0;
    settle(opt_settle);
    long rss_after = server_rss_kb();
    uint64_t pings0 = st.pings, closed0 = st.closed_after_ready;
    settle(opt_hold);
    long rss_end = server_rss_kb();

    FILE *o = stdout;
    json_common(o, "connect");
    fprintf(o, ",\"n\":%u,\"inflight\":%u,\"warmup_conns\":%u,\"ready\":%llu", n, opt_inflight, w,
            (unsigned long long)ready);
    json_errors(o);
    json_num(o, "connect_time_s", t);
    json_num(o, "connects_per_s", t > 0 ? (double)ready / t : -1);
    json_conn_latency(o);
    fprintf(o, ",\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"rss_end_kb\":%ld", rss_before, rss_after, rss_end);
    if (rss_before > 0 && rss_after > 0 && ready > 0)
        json_num(o, "rss_per_conn_kb", (double)(rss_after - rss_before) / (double)ready);
    json_num(o, "hold_s", opt_hold);
    fprintf(o, ",\"hold_pings\":%llu,\"closed_during_hold\":%llu,\"live_end\":%llu",
            (unsigned long long)(st.pings - pings0), (unsigned long long)(st.closed_after_ready - closed0),
            (unsigned long long)st.live);
    int ok = ready == n && st.closed_after_ready == closed0;
    json_end(o, ok, ok ? NULL : (ready != n ? "not every connection was established" : "server closed held connections"));
    return ok ? 0 : 1;
}

/* ---------------------------------------------------------------------------------------------- */
/* fanout */

static uint64_t want_acks;
static int done_ticks_and_acks(void) { return st.ticks >= tick_target && st.acks >= want_acks; }

static void send_burst(conn_t *ctl, uint32_t count, uint32_t size) {
    char msg[96];
    int len = snprintf(msg, sizeof msg, "42%u[\"burst\",%u,%u]", ctl->next_id++, count, size);
    send_text(ctl, msg, (size_t)len);
}

/* one burst(count) sent and waited for: returns seconds to the last tick, -1 on timeout */
static double burst_and_wait(conn_t *ctl, uint32_t n, uint32_t count, double limit) {
    tick_target = st.ticks + (uint64_t)n * count;
    want_acks = st.acks + 1;
    double t0 = now();
    send_burst(ctl, count, opt_size);
    if (!pump(t0 + limit, done_ticks_and_acks)) return -1;
    return last_tick_time - t0;
}

/* throughput phase: bursts with two in flight */
static conn_t *fan_ctl;
static uint32_t fan_count;
static uint64_t fan_sent, fan_acked;
static double fan_stop_sending;
static void fan_ack(conn_t *c, uint32_t id, const char *p, size_t n) {
    (void)id, (void)p, (void)n;
    if (c != fan_ctl) return;
    fan_acked++;
    if (fan_stop_sending > 0 && now() < fan_stop_sending) {
        send_burst(fan_ctl, fan_count, opt_size);
        fan_sent++;
    }
}

static int run_fanout(void) {
    FILE *o = stdout;
    double t_conn = open_range(0, opt_clients, NULL);
    uint64_t ready = st.ready_total;
    if (pool[0].state != S_READY || ready < (opt_clients + 1) / 2) {
        json_common(o, "fanout");
        fprintf(o, ",\"n\":%u,\"ready\":%llu", opt_clients, (unsigned long long)ready);
        json_errors(o);
        json_end(o, 0, "fewer than half of the clients (or not the control client) connected");
        return 1;
    }
    /* measure with the clients that did connect, and say so */
    const char *partial = ready < opt_clients ? "not every client connected" : NULL;
    settle(opt_settle);
    long rss_after_connect = server_rss_kb();
    uint32_t n = (uint32_t)st.live; /* every live client receives every tick */
    conn_t *ctl = &pool[0];
    const char *error = NULL;

    /* latency: one broadcast of burst(1, size) at a time */
    double *lat = xrealloc(NULL, sizeof(double) * (opt_rounds ? opt_rounds : 1));
    uint32_t rounds = 0, lost = 0;
    double lat_t0 = now();
    while (rounds < opt_rounds) {
        double t = burst_and_wait(ctl, n, 1, 30.0);
        if (t < 0) {
            lost++;
            error = "a broadcast did not reach every client within 30 s";
            break;
        }
        lat[rounds++] = t;
        if (rounds >= 3 && now() - lat_t0 > opt_latency_budget) break;
    }
    qsort(lat, rounds, sizeof *lat, cmp_double);

    /* throughput: calibrate count, then keep two bursts in flight for the duration */
    uint32_t cmax = (uint32_t)(opt_burst_budget_mb * 1e6 / ((double)n * (opt_size + 16)));
    uint32_t per_conn_cap = (uint32_t)(opt_conn_burst_kb * 1024.0 / (opt_size + 16));
    if (cmax > per_conn_cap) cmax = per_conn_cap;
    if (cmax < 1) cmax = 1;
    if (cmax > opt_max_count) cmax = opt_max_count;
    uint32_t count = opt_count ? opt_count : 1;
    double rate = -1, t_phase = -1, srv_cpu = -1, cli_cpu = -1;
    uint64_t delivered = 0, expected = 0;
    int timed_out = 0;
    if (!error && !opt_count) {
        /* Grow count until one burst takes target seconds.  The first step comes from the
         * median single-broadcast time just measured (not from one more burst: on a noisy
         * machine one slow burst would pin count at 1 and the phase would measure latency,
         * not throughput); each later step takes the faster of two bursts (noise only ever
         * adds time). */
        double target = opt_duration / 8.0;
        double p50 = rounds ? pct(lat, rounds, 50) : target;
        if (p50 < target && count < cmax) {
            double f = target / (p50 > 1e-6 ? p50 : 1e-6);
            uint32_t next = (uint32_t)(f > 8 ? 8 : (f < 2 ? 2 : f));
            count = next > cmax ? cmax : next;
            for (int i = 0; i < 12 && count < cmax; i++) {
                double t = burst_and_wait(ctl, n, count, opt_duration * 4 + 30);
                double t2 = t < 0 ? -1 : burst_and_wait(ctl, n, count, opt_duration * 4 + 30);
                if (t < 0 || t2 < 0) {
                    error = "calibration burst timed out";
                    break;
                }
                if (t2 < t) t = t2;
                if (t >= target) break;
                f = target / (t > 1e-6 ? t : 1e-6);
                next = (uint32_t)((double)count * (f > 8 ? 8 : (f < 2 ? 2 : f)));
                count = next > cmax ? cmax : next;
            }
        }
    }
    if (!error) {
        fan_ctl = ctl;
        fan_count = count;
        fan_sent = fan_acked = 0;
        hook_ack = fan_ack;
        uint64_t ticks0 = st.ticks;
        double scpu0 = server_cpu_s(), ccpu0 = cpu_self();
        double t0 = now();
        fan_stop_sending = t0 + opt_duration;
        send_burst(ctl, count, opt_size);
        send_burst(ctl, count, opt_size);
        fan_sent = 2;
        /* send while the duration runs; then wait for what is in flight */
        pump(fan_stop_sending, done_never);
        fan_stop_sending = 0;
        double limit = now() + opt_duration * 4 + 30;
        for (;;) {
            tick_target = ticks0 + (uint64_t)n * count * fan_sent;
            if (st.ticks >= tick_target && fan_acked >= fan_sent) break;
            want_acks = st.acks + (fan_sent - fan_acked);
            if (!pump(limit, done_ticks_and_acks)) {
                timed_out = 1;
                break;
            }
        }
        double t_end = st.ticks == ticks0 ? now() : last_tick_time;
        delivered = st.ticks - ticks0;
        expected = (uint64_t)n * count * fan_sent;
        t_phase = t_end - t0;
        rate = t_phase > 0 ? (double)delivered / t_phase : -1;
        srv_cpu = scpu0 >= 0 ? server_cpu_s() - scpu0 : -1;
        cli_cpu = cpu_self() - ccpu0;
        hook_ack = NULL;
        if (timed_out) error = "throughput phase timed out: deliveries missing";
    }
    long rss_end = server_rss_kb();

    json_common(o, "fanout");
    fprintf(o, ",\"n\":%u,\"receivers\":%u,\"size\":%u,\"ready\":%llu", opt_clients, n, opt_size,
            (unsigned long long)ready);
    json_errors(o);
    json_num(o, "connect_time_s", t_conn);
    json_num(o, "connects_per_s", t_conn > 0 ? (double)ready / t_conn : -1);
    json_conn_latency(o);
    fprintf(o, ",\"lat_rounds\":%u,\"lat_lost\":%u", rounds, lost);
    json_num(o, "lat_p50_ms", pct(lat, rounds, 50) * 1e3);
    json_num(o, "lat_p99_ms", pct(lat, rounds, 99) * 1e3);
    json_num(o, "lat_max_ms", rounds ? lat[rounds - 1] * 1e3 : -1);
    fprintf(o, ",\"count\":%u,\"count_max\":%u,\"bursts\":%llu,\"deliveries\":%llu,\"expected\":%llu", count, cmax,
            (unsigned long long)fan_sent, (unsigned long long)delivered, (unsigned long long)expected);
    json_num(o, "tput_time_s", t_phase);
    json_num(o, "deliveries_per_s", rate);
    json_num(o, "server_cpu_s", srv_cpu);
    json_num(o, "client_cpu_s", cli_cpu);
    fprintf(o, ",\"rss_after_connect_kb\":%ld,\"rss_end_kb\":%ld", rss_after_connect, rss_end);
    free(lat);
    if (!error) error = partial;
    json_end(o, error == NULL, error);
    return error ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* echo */

static char *echo_msg;
static char *echo_tail;
static size_t echo_tail_len;
static double echo_t_measure, echo_t_end;
static double *rtts;
static size_t rtt_n, rtt_cap;
static uint64_t echo_outstanding, echo_bad;

static void echo_send(conn_t *c) {
    uint32_t id = c->next_id++;
    int h = snprintf(echo_msg, 16, "42%u", id);
    memcpy(echo_msg + h, echo_tail, echo_tail_len);
    c->wait_id = id;
    c->t_sent = now();
    echo_outstanding++;
    send_text(c, echo_msg, (size_t)h + echo_tail_len);
}

static void echo_ack(conn_t *c, uint32_t id, const char *p, size_t n) {
    if (id != c->wait_id || n < 2 || p[0] != '[') {
        echo_bad++;
        return;
    }
    double t = now();
    c->wait_id = 0;
    echo_outstanding--;
    if (c->t_sent >= echo_t_measure && t <= echo_t_end) {
        if (rtt_n == rtt_cap) {
            rtt_cap = rtt_cap ? rtt_cap * 2 : 65536;
            rtts = xrealloc(rtts, rtt_cap * sizeof *rtts);
        }
        rtts[rtt_n++] = t - c->t_sent;
    }
    if (t < echo_t_end) echo_send(c);
}

static int done_echo_drained(void) { return echo_outstanding == 0; }

static int run_echo(void) {
    uint32_t n = opt_clients;
    FILE *o = stdout;
    double t_conn = open_range(0, n, NULL);
    uint64_t ready = st.ready_total;
    if (ready == 0) {
        json_common(o, "echo");
        fprintf(o, ",\"n\":%u,\"ready\":%llu", n, (unsigned long long)ready);
        json_errors(o);
        json_end(o, 0, "not every connection was established");
        return 1;
    }
    settle(opt_settle);
    echo_tail_len = (size_t)opt_size + 12;
    echo_tail = xrealloc(NULL, echo_tail_len + 1);
    memcpy(echo_tail, "[\"echo\",\"", 9);
    memset(echo_tail + 9, 'x', opt_size);
    memcpy(echo_tail + 9 + opt_size, "\"]", 2);
    echo_tail_len = 9 + (size_t)opt_size + 2;
    echo_msg = xrealloc(NULL, echo_tail_len + 16);

    double t0 = now();
    echo_t_measure = t0 + opt_warmup;
    echo_t_end = echo_t_measure + opt_duration;
    hook_ack = echo_ack;
    for (uint32_t i = 0; i < n; i++)
        if (pool[i].state == S_READY) echo_send(&pool[i]);
    pump(echo_t_measure, done_never);
    double scpu0 = server_cpu_s(), ccpu0 = cpu_self();
    pump(echo_t_end, done_never);
    double srv_cpu = scpu0 >= 0 ? server_cpu_s() - scpu0 : -1;
    double cli_cpu = cpu_self() - ccpu0;
    int drained = pump(now() + 10.0, done_echo_drained);
    hook_ack = NULL;
    qsort(rtts, rtt_n, sizeof *rtts, cmp_double);

    json_common(o, "echo");
    fprintf(o, ",\"n\":%u,\"size\":%u,\"ready\":%llu", n, opt_size, (unsigned long long)ready);
    json_errors(o);
    json_num(o, "connect_time_s", t_conn);
    json_num(o, "duration_s", opt_duration);
    fprintf(o, ",\"acks\":%zu,\"bad_acks\":%llu,\"unanswered\":%llu", rtt_n, (unsigned long long)echo_bad,
            (unsigned long long)echo_outstanding);
    json_num(o, "acks_per_s", (double)rtt_n / opt_duration);
    json_num(o, "rtt_p50_ms", pct(rtts, rtt_n, 50) * 1e3);
    json_num(o, "rtt_p99_ms", pct(rtts, rtt_n, 99) * 1e3);
    json_num(o, "rtt_max_ms", rtt_n ? rtts[rtt_n - 1] * 1e3 : -1);
    json_num(o, "server_cpu_s", srv_cpu);
    json_num(o, "client_cpu_s", cli_cpu);
    const char *error = NULL;
    if (rtt_n == 0) error = "no ack received";
    else if (echo_bad) error = "acks with a wrong id or body";
    else if (!drained) error = "requests left unanswered";
    else if (ready < n) error = "not every client connected";
    json_end(o, error == NULL, error);
    return error ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* churn */

static int run_churn(void) {
    uint32_t b = opt_batch, m = opt_cycles;
    FILE *o = stdout;
    long *rss = xrealloc(NULL, sizeof(long) * (m + 1));
    /* one warm-up cycle, not measured */
    open_range(0, b, NULL);
    for (uint32_t i = 0; i < b; i++)
        if (pool[i].state == S_READY) send_text(&pool[i], "41", 2);
    close_all();
    settle(opt_settle);
    long rss_before = server_rss_kb();
    uint64_t ready0 = st.ready_total, failed0 = st.failed;
    double t0 = now();
    uint32_t cycles = 0;
    for (; cycles < m && now() < deadline_all; cycles++) {
        open_range(0, b, NULL);
        for (uint32_t i = 0; i < b; i++)
            if (pool[i].state == S_READY) send_text(&pool[i], "41", 2);
        close_all();
        rss[cycles] = server_rss_kb();
    }
    double t = now() - t0;
    settle(opt_settle);
    long rss_after = server_rss_kb();
    uint64_t connects = st.ready_total - ready0;

    json_common(o, "churn");
    fprintf(o, ",\"n\":%u,\"batch\":%u,\"cycles\":%u,\"connects\":%llu", b, b, cycles, (unsigned long long)connects);
    json_errors(o);
    json_num(o, "churn_time_s", t);
    json_num(o, "cycles_per_s", t > 0 ? cycles / t : -1);
    json_num(o, "connects_per_s", t > 0 ? (double)connects / t : -1);
    json_conn_latency(o);
    fprintf(o, ",\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"rss_samples_kb\":[", rss_before, rss_after);
    for (uint32_t i = 0; i < cycles; i++) fprintf(o, "%s%ld", i ? "," : "", rss[i]);
    fprintf(o, "]");
    /* growth over the second half of the cycles, per cycle: a leak shows as a steady slope */
    if (cycles >= 4 && rss[cycles / 2] > 0 && rss[cycles - 1] > 0) {
        double slope = (double)(rss[cycles - 1] - rss[cycles / 2]) / (double)(cycles - 1 - cycles / 2);
        fprintf(o, ",\"rss_growth_kb_per_cycle\":%.6g", slope);
        fprintf(o, ",\"rss_growth_b_per_conn\":%.6g", slope * 1024.0 / b);
    }
    free(rss);
    uint64_t failed = st.failed - failed0;
    const char *error = cycles < m ? "deadline reached before every cycle ran" : (failed ? "connections failed" : NULL);
    json_end(o, error == NULL, error);
    return error ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port P --mode connect|fanout|echo|churn [options]\n"
            "  --host H            loopback address of the server (127.0.0.1)\n"
            "  --port2 P           a second server (a cluster node) on H: odd-numbered connections go\n"
            "                      there, the first (the fan-out control client) stays on --port\n"
            "  --source A          loopback address to connect from (default: the kernel's choice);\n"
            "                      a fresh one per run avoids the ports earlier runs left in TIME_WAIT\n"
            "  --sources K         connect from K consecutive addresses from --source on, in turn (1):\n"
            "                      past ~14k connections from one address, the kernel's search for a\n"
            "                      free port costs the load generator more than the server's accept\n"
            "  --path P            Engine.IO path (/socket.io/)\n"
            "  --clients N         connections (connect, fanout) or closed-loop clients (echo)\n"
            "  --inflight K        handshakes in flight while connecting (200)\n"
            "  --server-pid PID    read the server's RSS and CPU time from /proc\n"
            "  --timeout S         hard limit for the whole run (120)\n"
            "  --settle S          pause before reading RSS (1)\n"
            "  connect: --warmup-conns W (10), --hold S (2)\n"
            "  fanout:  --size B (100), --rounds R (20), --latency-budget S (20), --duration S (5),\n"
            "           --count C (0 = calibrate), --max-count C (10000), --burst-budget-mb MB (64:\n"
            "           all clients' bytes of one burst), --conn-burst-kb KB (256: one client's bytes)\n"
            "  echo:    --size B (100), --duration S (5), --warmup S (1)\n"
            "  churn:   --cycles M (20), --batch B (500)\n"
            "  -v       verbose errors on stderr\n");
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"host", 1, 0, 'H'},          {"port", 1, 0, 'p'},          {"path", 1, 0, 'P'},
        {"mode", 1, 0, 'm'},          {"clients", 1, 0, 'n'},       {"inflight", 1, 0, 'k'},
        {"hold", 1, 0, 'h'},          {"server-pid", 1, 0, 's'},    {"warmup-conns", 1, 0, 'w'},
        {"timeout", 1, 0, 't'},       {"size", 1, 0, 'z'},          {"rounds", 1, 0, 'r'},
        {"latency-budget", 1, 0, 'L'}, {"duration", 1, 0, 'd'},     {"warmup", 1, 0, 'W'},
        {"burst-budget-mb", 1, 0, 'B'}, {"count", 1, 0, 'c'},       {"max-count", 1, 0, 'C'},
        {"conn-burst-kb", 1, 0, 'K'}, {"cycles", 1, 0, 'y'},        {"batch", 1, 0, 'b'},         {"settle", 1, 0, 'S'},
        {"source", 1, 0, 'A'},       {"sources", 1, 0, 'N'},       {"port2", 1, 0, 'Q'},       {"help", 0, 0, 'u'},          {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H': opt_host = optarg; break;
        case 'A': opt_source = optarg; break;
        case 'N': opt_sources = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'p': opt_port = atoi(optarg); break;
        case 'Q': opt_port2 = atoi(optarg); break;
        case 'P': opt_path = optarg; break;
        case 'm': opt_mode = optarg; break;
        case 'n': opt_clients = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'k': opt_inflight = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'h': opt_hold = atof(optarg); break;
        case 's': opt_server_pid = atoi(optarg); break;
        case 'w': opt_warmup_conns = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 't': opt_timeout = atof(optarg); break;
        case 'z': opt_size = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'r': opt_rounds = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'L': opt_latency_budget = atof(optarg); break;
        case 'd': opt_duration = atof(optarg); break;
        case 'W': opt_warmup = atof(optarg); break;
        case 'B': opt_burst_budget_mb = atof(optarg); break;
        case 'c': opt_count = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'K': opt_conn_burst_kb = atof(optarg); break;
        case 'C': opt_max_count = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'y': opt_cycles = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'b': opt_batch = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'S': opt_settle = atof(optarg); break;
        case 'v': opt_verbose = 1; break;
        case 'u': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!opt_mode || opt_port <= 0 || opt_port > 65535) {
        usage();
        return 2;
    }
    if (inet_pton(AF_INET, opt_host, &srv_addr.sin_addr) != 1) die("--host must be an IPv4 address");
    if ((ntohl(srv_addr.sin_addr.s_addr) >> 24) != 127) die("--host must be a loopback address (127.0.0.0/8)");
    srv_addr.sin_family = AF_INET;
    if (opt_source) {
        if (inet_pton(AF_INET, opt_source, &src_addr.sin_addr) != 1) die("--source must be an IPv4 address");
        if ((ntohl(src_addr.sin_addr.s_addr) >> 24) != 127) die("--source must be a loopback address (127.0.0.0/8)");
        src_addr.sin_family = AF_INET;
        src_addr.sin_port = 0;
        src_base = ntohl(src_addr.sin_addr.s_addr);
        if (opt_sources < 1 || opt_sources > 256 || ((src_base + opt_sources - 1) >> 24) != 127)
            die("--sources must be 1..256 and stay in 127.0.0.0/8");
    }
    srv_addr.sin_port = htons((uint16_t)opt_port);
    if (opt_port2 < 0 || opt_port2 > 65535) die("--port2 must be a port");
    srv_addr2 = srv_addr;
    srv_addr2.sin_port = htons((uint16_t)opt_port2);
    if (opt_size > MAX_FRAME / 2) die("--size too large");
    if (opt_inflight < 1) opt_inflight = 1;

    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);

    if (strchr(opt_path, '?') || strlen(opt_path) > 200) die("--path must be a plain path");
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET %s?EIO=4&transport=websocket HTTP/1.1\r\n"
                                   "Host: %s:%d\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n\r\n",
                                   opt_path, opt_host, opt_port);

    int is_connect = strcmp(opt_mode, "connect") == 0, is_fanout = strcmp(opt_mode, "fanout") == 0,
        is_echo = strcmp(opt_mode, "echo") == 0, is_churn = strcmp(opt_mode, "churn") == 0;
    if (!(is_connect || is_fanout || is_echo || is_churn)) {
        usage();
        return 2;
    }
    pool_n = is_churn ? opt_batch : opt_clients + (is_connect ? opt_warmup_conns : 0);
    if ((rlim_t)pool_n + 16 > rl.rlim_cur) {
        fprintf(stderr, "loadgen: %u connections need more than the %llu open files allowed\n", pool_n,
                (unsigned long long)rl.rlim_cur);
        return 2;
    }
    pool = calloc(pool_n ? pool_n : 1, sizeof *pool);
    rbuf = malloc(RBUF_SZ);
    if (!pool || !rbuf) die("out of memory");
    for (uint32_t i = 0; i < pool_n; i++) pool[i].fd = -1;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1 failed");
    deadline_all = now() + opt_timeout;

    int rc;
    if (is_connect) rc = run_connect();
    else if (is_fanout) rc = run_fanout();
    else if (is_echo) rc = run_echo();
    else rc = run_churn();
    close_all();
    return rc;
}
