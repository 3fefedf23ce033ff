/*
 * loadgen: a cheap Socket.IO v5 / Engine.IO v4 load generator (WebSocket, long-polling, upgrade).
 *
 * One thread, one epoll set (edge-triggered), many non-blocking TCP connections to a loopback
 * address.  By default each client does the WebSocket upgrade on
 * /socket.io/?EIO=4&transport=websocket, reads the Engine.IO open packet `0{...}`, sends the
 * Socket.IO CONNECT `40` (with `{"room":...}` auth where the mode asks for one), waits for
 * `40{"sid":...}`, answers Engine.IO pings `2` with `3` (and WebSocket pings with pongs) and masks
 * every frame it sends.  Frames are parsed minimally: a delivery is a text frame starting with
 * `42["tick"` (or a binary attachment announced by `451-["tick"`, or with --parser msgpack a
 * msgpack EVENT whose first argument is "tick"), an ack is `43<id>...`; no JSON is parsed.
 *
 * --transport polling: HTTP/1.1 long-polling, never upgraded: the handshake GET, the CONNECT by
 *   POST on the same keep-alive connection, then a GET always pending on it; what the client sends
 *   while that GET waits (pongs, the control client's bursts) goes by POST on a second keep-alive
 *   connection, opened when first needed.  Bodies by Content-Length or chunked; packets split at
 *   the record separator 0x1e.
 * --transport upgrade: the polling handshake and CONNECT, then a WebSocket with the sid, `2probe`,
 *   `3probe`, `5`, and one `echo` with an ack over the WebSocket to prove the session moved; the
 *   polling connection is then closed.  Ready = that ack.
 * --tls: every connection is TLS (OpenSSL, no certificate check: the server's is made at run time).
 *
 * Modes (one JSON line on stdout at the end; errors and -v chatter on stderr):
 *   connect  open N connections keeping K in flight; connects/s, connect latency, server RSS
 *            before and after (read from /proc/PID/status), then hold them for --hold seconds
 *            answering pings and count those the server closes.
 *   fanout   N connected clients, client 0 also the control client.  Latency: burst(1, size)
 *            repeated, time from the send to the last client receiving the tick (p50/p99).
 *            Throughput: burst(count, size) with count calibrated, two bursts in flight, for
 *            --duration seconds; deliveries/s = ticks received / (last tick - first send).
 *            --binary: burst_bin (a size-byte binary attachment), delivered bytes/s too.
 *            --rooms R: client i joins room r<i % R> (auth {"room":"r<i % R>"}); the control client
 *            sends burst_rooms(count, size, R), each emit to one random room of N/R clients.
 *   echo     N clients (100) in a closed loop sending 42<id>["echo","x"*size] and waiting for
 *            43<id>[...]; acks/s and RTT p50/p99 over --duration after --warmup.
 *   echofan  --clients N fan-out clients in room "all" and --echo-clients E more in room "echo":
 *            the fan-out throughput phase runs while the E clients echo in a closed loop; echo
 *            RTT p50/p99 (after --warmup) and the fan-out's deliveries/s meanwhile.
 *   churn    --cycles cycles of opening --batch connections and closing them; server RSS before,
 *            after and after every cycle (a leak shows as growth).
 *
 * Build: cc -O2 -o loadgen loadgen.c -lssl -lcrypto   (Linux only; -DLOADGEN_NO_TLS without OpenSSL)
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
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef LOADGEN_NO_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#else
typedef struct ssl_st SSL;
#endif

#define RBUF_SZ (4u << 20)
#define MAX_FRAME (RBUF_SZ / 2)
#define MAX_EVENTS 1024

enum {
    S_IDLE,
    S_CONNECTING, /* TCP (and TLS) connect of the first endpoint */
    S_HTTP,       /* WebSocket: upgrade response awaited */
    S_EIO_OPEN,   /* WebSocket: open packet awaited */
    S_P_OPEN,     /* polling: handshake response (open packet) awaited */
    S_SIO_CONNECT,
    S_U_PROBE,    /* upgrade: the WebSocket's 101 and 3probe awaited */
    S_U_VERIFY,   /* upgrade: the ack of the echo sent over the WebSocket awaited */
    S_READY,
    S_CLOSED
};
enum { T_WS, T_POLL };
enum { R_NONE, R_GET, R_POST }; /* the HTTP request outstanding on a polling endpoint */
enum { P_NONE, P_CONNECTING, P_TLS, P_OPEN };

enum {
    E_CONNECT,   /* connect() failed or refused */
    E_HTTP,      /* upgrade refused, or an HTTP error status */
    E_PROTO,     /* unexpected bytes */
    E_REFUSED,   /* Socket.IO CONNECT_ERROR */
    E_EOF,       /* closed by the server before the CONNECT reply */
    E_TIMEOUT,   /* still pending at the deadline */
    E_TLS,       /* TLS handshake failed */
    E_COUNT
};
static const char *const error_names[E_COUNT] = {"connect", "http", "protocol", "refused", "eof", "timeout", "tls"};

typedef struct {
    char *p;
    uint32_t len, cap;
} buf_t;

/* an endpoint is one TCP connection of a client: [0] the main one (WebSocket, or polling GETs),
   [1] the polling POSTs while a GET waits, or the WebSocket of an upgrade */
typedef struct conn {
    int fd[2];
    SSL *ssl[2];
    buf_t in[2], out[2];
    uint8_t phase[2];   /* P_* */
    uint8_t req[2];     /* R_* (polling) */
    uint8_t ws_hs[2];   /* WebSocket upgrade response awaited on this endpoint */
    uint8_t state;
    uint8_t tr;         /* T_WS or T_POLL: how this client sends now */
    uint8_t polling;    /* keep a GET pending */
    uint8_t mask[4];
    uint32_t attach;    /* binary attachments announced and not yet received */
    uint32_t idx;
    double t_open;   /* when connect() was called */
    double t_sent;   /* echo: when the outstanding request was sent */
    uint32_t next_id; /* next ack id to use */
    uint32_t wait_id; /* echo: ack id outstanding (0 = none) */
    buf_t postq;     /* polling: packets waiting for a POST, 0x1e-separated */
    char sid[48];
} conn_t;

static struct {
    uint64_t ready_total;  /* connections that reached READY */
    uint64_t live;         /* READY and open */
    uint64_t pending;      /* opened, not READY, not failed */
    uint64_t failed;
    uint64_t errors[E_COUNT];
    uint64_t closed_after_ready; /* READY connections the server closed */
    uint64_t ticks;
    uint64_t tick_bytes;   /* payload bytes of binary deliveries */
    uint64_t acks;
    uint64_t pings;
    uint64_t other;        /* other packets received */
    uint64_t polls;        /* polling GET responses */
    uint64_t posts;        /* polling POSTs sent */
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
static int opt_transport = 0; /* 0 websocket, 1 polling, 2 upgrade */
static int opt_tls = 0;
static int opt_msgpack = 0;
static int opt_binary = 0;
static uint32_t opt_rooms = 0;
static uint32_t opt_echo_clients = 0;

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
#ifndef LOADGEN_NO_TLS
static SSL_CTX *tls_ctx;
#endif

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

static void buf_add(buf_t *b, const void *p, size_t n) {
    if ((size_t)b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < (size_t)b->len + n) nc *= 2;
        b->p = xrealloc(b->p, nc);
        b->cap = (uint32_t)nc;
    }
    memcpy(b->p + b->len, p, n);
    b->len += (uint32_t)n;
}

static void buf_free(buf_t *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static void ep_release(conn_t *c, int s) {
#ifndef LOADGEN_NO_TLS
    if (c->ssl[s]) SSL_free(c->ssl[s]);
#endif
    c->ssl[s] = NULL;
    if (c->fd[s] >= 0) close(c->fd[s]);
    c->fd[s] = -1;
    buf_free(&c->in[s]);
    buf_free(&c->out[s]);
    c->phase[s] = P_NONE;
    c->req[s] = R_NONE;
    c->ws_hs[s] = 0;
}

static void conn_release(conn_t *c) {
    ep_release(c, 0);
    ep_release(c, 1);
    buf_free(&c->postq);
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

/* raw I/O on one endpoint: > 0 bytes, 0 end of stream, -1 with errno (EAGAIN: try later) */
static ssize_t io_read(conn_t *c, int s, char *p, size_t n) {
#ifndef LOADGEN_NO_TLS
    if (c->ssl[s]) {
        int r = SSL_read(c->ssl[s], p, n > 0x40000000 ? 0x40000000 : (int)n);
        if (r > 0) return r;
        int e = SSL_get_error(c->ssl[s], r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            errno = EAGAIN;
            return -1;
        }
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        ERR_clear_error();
        errno = EIO;
        return -1;
    }
#endif
    return read(c->fd[s], p, n);
}

static ssize_t io_write(conn_t *c, int s, const char *p, size_t n) {
#ifndef LOADGEN_NO_TLS
    if (c->ssl[s]) {
        int r = SSL_write(c->ssl[s], p, n > 0x40000000 ? 0x40000000 : (int)n);
        if (r > 0) return r;
        int e = SSL_get_error(c->ssl[s], r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            errno = EAGAIN;
            return -1;
        }
        ERR_clear_error();
        errno = EIO;
        return -1;
    }
#endif
    return write(c->fd[s], p, n);
}

static void ep_flush(conn_t *c, int s) {
    buf_t *o = &c->out[s];
    while (o->len) {
        ssize_t w = io_write(c, s, o->p, o->len);
        if (w > 0) {
            memmove(o->p, o->p + w, o->len - (size_t)w);
            o->len -= (uint32_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            return; /* EAGAIN: EPOLLOUT will come; an error shows up on read */
        }
    }
}

static void ep_write(conn_t *c, int s, const char *p, size_t n) {
    if (c->out[s].len == 0 && c->phase[s] == P_OPEN) {
        for (;;) {
            ssize_t w = io_write(c, s, p, n);
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
    buf_add(&c->out[s], p, n); /* also what waits for the TCP/TLS connect */
}

/* one masked frame, FIN set */
static void send_frame_on(conn_t *c, int s, uint8_t opcode, const char *p, size_t n) {
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
    ep_write(c, s, b, h + n);
    if (b != stackbuf) free(b);
}

/* the endpoint that carries this client's WebSocket: [1] while an upgrade is under way */
static int ws_side(const conn_t *c) { return (c->state == S_U_PROBE || c->state == S_U_VERIFY) ? 1 : 0; }

static void poll_kick(conn_t *c);

/* one Engine.IO text packet, over whichever transport the client is on */
static void send_text(conn_t *c, const char *p, size_t n) {
    if (c->tr == T_WS) {
        send_frame_on(c, ws_side(c), 0x1, p, n);
        return;
    }
    if (c->postq.len) buf_add(&c->postq, "\x1e", 1);
    buf_add(&c->postq, p, n);
    poll_kick(c);
}

static void send_binary(conn_t *c, const char *p, size_t n) { send_frame_on(c, ws_side(c), 0x2, p, n); }

/* ---- msgpack (socket.io-msgpack-parser's packets: a map of type, data, nsp, id) ---- */

static void mp_uint(buf_t *b, uint32_t v) {
    uint8_t t[5];
    if (v < 128) {
        t[0] = (uint8_t)v;
        buf_add(b, t, 1);
    } else if (v < 256) {
        t[0] = 0xcc, t[1] = (uint8_t)v;
        buf_add(b, t, 2);
    } else if (v < 65536) {
        t[0] = 0xcd, t[1] = (uint8_t)(v >> 8), t[2] = (uint8_t)v;
        buf_add(b, t, 3);
    } else {
        t[0] = 0xce, t[1] = (uint8_t)(v >> 24), t[2] = (uint8_t)(v >> 16), t[3] = (uint8_t)(v >> 8), t[4] = (uint8_t)v;
        buf_add(b, t, 5);
    }
}

static void mp_str(buf_t *b, const char *s) {
    size_t n = strlen(s);
    uint8_t t[3];
    if (n < 32) {
        t[0] = (uint8_t)(0xa0 | n);
        buf_add(b, t, 1);
    } else {
        t[0] = 0xda, t[1] = (uint8_t)(n >> 8), t[2] = (uint8_t)n;
        buf_add(b, t, 3);
    }
    buf_add(b, s, n);
}

/* skip one msgpack object: returns the byte after it, NULL if malformed (or nested too deep) */
static const uint8_t *mp_skip(const uint8_t *p, const uint8_t *e, int depth) {
    if (p >= e || depth > 16) return NULL;
    uint8_t t = *p++;
    size_t n = 0, items = 0;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) return p;
    if ((t & 0xe0) == 0xa0) n = t & 0x1f;
    else if ((t & 0xf0) == 0x90) items = t & 0x0f;
    else if ((t & 0xf0) == 0x80) items = 2 * (size_t)(t & 0x0f);
    else {
        switch (t) {
        case 0xcc: case 0xd0: n = 1; break;
        case 0xcd: case 0xd1: n = 2; break;
        case 0xce: case 0xd2: case 0xca: n = 4; break;
        case 0xcf: case 0xd3: case 0xcb: n = 8; break;
        case 0xd9: case 0xc4: if (e - p < 1) return NULL; n = p[0]; p += 1; break;
        case 0xda: case 0xc5: if (e - p < 2) return NULL; n = ((size_t)p[0] << 8) | p[1]; p += 2; break;
        case 0xdb: case 0xc6:
            if (e - p < 4) return NULL;
            n = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
            p += 4;
            break;
        case 0xd4: n = 2; break; /* fixext: a type byte and 1..16 bytes (notepack's undefined) */
        case 0xd5: n = 3; break;
        case 0xd6: n = 5; break;
        case 0xd7: n = 9; break;
        case 0xd8: n = 17; break;
        case 0xc7: if (e - p < 1) return NULL; n = (size_t)p[0] + 1; p += 1; break;
        case 0xc8: if (e - p < 2) return NULL; n = (((size_t)p[0] << 8) | p[1]) + 1; p += 2; break;
        case 0xdc: if (e - p < 2) return NULL; items = ((size_t)p[0] << 8) | p[1]; p += 2; break;
        case 0xde: if (e - p < 2) return NULL; items = 2 * (((size_t)p[0] << 8) | p[1]); p += 2; break;
        default: return NULL;
        }
    }
    if ((size_t)(e - p) < n) return NULL;
    p += n;
    for (size_t i = 0; i < items && p; i++) p = mp_skip(p, e, depth + 1);
    return p;
}

static int mp_read_uint(const uint8_t *p, const uint8_t *e, uint32_t *v) {
    if (p >= e) return 0;
    if (*p <= 0x7f) return *v = *p, 1;
    if (*p == 0xcc && e - p >= 2) return *v = p[1], 1;
    if (*p == 0xcd && e - p >= 3) return *v = ((uint32_t)p[1] << 8) | p[2], 1;
    if (*p == 0xce && e - p >= 5)
        return *v = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) | p[4], 1;
    return 0;
}

/* a msgpack string at p: its bytes and length, or 0 */
static int mp_read_str(const uint8_t *p, const uint8_t *e, const uint8_t **s, size_t *n) {
    if (p >= e) return 0;
    if ((*p & 0xe0) == 0xa0) *n = *p & 0x1f, p += 1;
    else if (*p == 0xd9 && e - p >= 2) *n = p[1], p += 2;
    else if (*p == 0xda && e - p >= 3) *n = ((size_t)p[1] << 8) | p[2], p += 3;
    else return 0;
    if ((size_t)(e - p) < *n) return 0;
    *s = p;
    return 1;
}

static void mp_send(conn_t *c, buf_t *b) {
    send_binary(c, b->p, b->len);
    buf_free(b);
}

/* ---- the CONNECT each client sends, with the auth its mode gives it ---- */

/* the room the client names in its CONNECT auth, or NULL (the app then joins it to "all") */
static const char *auth_room(const conn_t *c, char *tmp, size_t cap) {
    if (opt_rooms) {
        snprintf(tmp, cap, "r%u", c->idx % opt_rooms);
        return tmp;
    }
    if (opt_echo_clients && c->idx >= opt_clients) return "echo";
    return NULL;
}

static void send_connect(conn_t *c) {
    char tmp[32];
    const char *room = auth_room(c, tmp, sizeof tmp);
    if (opt_msgpack) {
        buf_t b = {0};
        buf_add(&b, room ? "\x83" : "\x82", 1);
        mp_str(&b, "type");
        mp_uint(&b, 0);
        mp_str(&b, "nsp");
        mp_str(&b, "/");
        if (room) {
            mp_str(&b, "data");
            buf_add(&b, "\x81", 1);
            mp_str(&b, "room");
            mp_str(&b, room);
        }
        mp_send(c, &b);
        return;
    }
    char msg[64];
    int n = room ? snprintf(msg, sizeof msg, "40{\"room\":\"%s\"}", room) : snprintf(msg, sizeof msg, "40");
    send_text(c, msg, (size_t)n);
}

/* an event with an ack id: 42<id>["name",a,b(,c)] or its msgpack form */
static void send_event3(conn_t *c, const char *name, uint32_t a, uint32_t b, uint32_t n3, int has3) {
    uint32_t id = c->next_id++;
    if (opt_msgpack) {
        buf_t m = {0};
        buf_add(&m, "\x84", 1);
        mp_str(&m, "type");
        mp_uint(&m, 2);
        mp_str(&m, "data");
        buf_add(&m, has3 ? "\x94" : "\x93", 1);
        mp_str(&m, name);
        mp_uint(&m, a);
        mp_uint(&m, b);
        if (has3) mp_uint(&m, n3);
        mp_str(&m, "nsp");
        mp_str(&m, "/");
        mp_str(&m, "id");
        mp_uint(&m, id);
        mp_send(c, &m);
        return;
    }
    char msg[128];
    int len = has3 ? snprintf(msg, sizeof msg, "42%u[\"%s\",%u,%u,%u]", id, name, a, b, n3)
                   : snprintf(msg, sizeof msg, "42%u[\"%s\",%u,%u]", id, name, a, b);
    send_text(c, msg, (size_t)len);
}

/* ---- opening connections ---- */

static int ep_open(conn_t *c, int s) {
    c->fd[s] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd[s] < 0) return -1;
    int one = 1;
    setsockopt(c->fd[s], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt_source) {
        /* the port is picked at connect() for the whole 4-tuple, so every run from a
           fresh source address has the whole ephemeral range, whatever earlier runs
           left in TIME_WAIT */
        setsockopt(c->fd[s], IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in a = src_addr;
        a.sin_addr.s_addr = htonl(src_base + (c->idx + (uint32_t)s) % opt_sources);
        if (bind(c->fd[s], (struct sockaddr *)&a, sizeof a) < 0) return -1;
    }
    const struct sockaddr_in *to = (opt_port2 && (c->idx & 1)) ? &srv_addr2 : &srv_addr;
    int r = connect(c->fd[s], (const struct sockaddr *)to, sizeof *to);
    if (r < 0 && errno != EINPROGRESS) return -1;
    c->phase[s] = P_CONNECTING;
    /* the endpoint is tagged in the low bit of the pointer (conn_t is aligned) */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.ptr = (void *)((uintptr_t)c | (uintptr_t)s)};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd[s], &ev) < 0) return -1;
    return 0;
}

static void conn_open(conn_t *c) {
    memset(c, 0, sizeof *c);
    c->fd[0] = c->fd[1] = -1;
    c->idx = (uint32_t)(c - pool);
    uint32_t m = c->idx * 2654435761u + 0x9e3779b9u;
    memcpy(c->mask, &m, 4);
    c->next_id = 1;
    c->t_open = now();
    c->tr = opt_transport == 0 ? T_WS : T_POLL;
    st.pending++;
    c->state = S_CONNECTING;
    if (ep_open(c, 0) < 0) conn_close(c, E_CONNECT);
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

/* ---- polling ---- */

static void poll_request(conn_t *c, int s, int what) {
    char head[512];
    const char *sid = c->sid[0] ? c->sid : NULL;
    int n;
    if (what == R_GET) {
        n = snprintf(head, sizeof head,
                     "GET %s?EIO=4&transport=polling%s%s HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n\r\n", opt_path,
                     sid ? "&sid=" : "", sid ? sid : "", opt_host, opt_port);
        ep_write(c, s, head, (size_t)n);
    } else {
        n = snprintf(head, sizeof head,
                     "POST %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %u\r\n\r\n",
                     opt_path, sid ? sid : "", opt_host, opt_port, c->postq.len);
        ep_write(c, s, head, (size_t)n);
        ep_write(c, s, c->postq.p, c->postq.len);
        c->postq.len = 0;
        st.posts++;
    }
    c->req[s] = (uint8_t)what;
}

/* after a polling response: POST what waits, else keep a GET pending */
static void poll_kick(conn_t *c) {
    if (c->state == S_CLOSED || c->tr != T_POLL || !c->sid[0]) return;
    if (c->postq.len) {
        if (c->req[0] == R_NONE && c->phase[0] == P_OPEN) {
            poll_request(c, 0, R_POST);
        } else if (c->fd[1] < 0) {
            if (ep_open(c, 1) < 0) {
                conn_close(c, E_CONNECT);
                return;
            }
        } else if (c->req[1] == R_NONE && c->phase[1] == P_OPEN) {
            poll_request(c, 1, R_POST);
        }
    }
    if (c->req[0] == R_NONE && c->phase[0] == P_OPEN && c->polling) poll_request(c, 0, R_GET);
}

/* one complete HTTP response at buf: 1 (body, its length, bytes used), 0 incomplete, -1 bad.
   The body is decoded in place when chunked. */
static int http_response(char *buf, size_t len, int *status, char **body, size_t *blen, size_t *used) {
    char *e = memmem(buf, len, "\r\n\r\n", 4);
    if (!e) return len > 16384 ? -1 : 0;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0) return -1;
    *status = atoi(buf + 9);
    size_t hlen = (size_t)(e - buf) + 4;
    long clen = -1;
    int chunked = 0;
    for (char *line = (char *)memmem(buf, hlen, "\r\n", 2) + 2; line < e;
         line = (char *)memmem(line, (size_t)(e + 2 - line), "\r\n", 2) + 2) {
        if (strncasecmp(line, "content-length:", 15) == 0) clen = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "transfer-encoding:", 18) == 0 && memmem(line, (size_t)(e - line), "chunked", 7))
            chunked = 1;
    }
    if (!chunked) {
        if (clen < 0) clen = 0;
        if (len < hlen + (size_t)clen) return 0;
        *body = buf + hlen;
        *blen = (size_t)clen;
        *used = hlen + (size_t)clen;
        return 1;
    }
    /* chunked: walk the chunks first, decode only when the whole body is there */
    size_t pos = hlen, out = 0;
    for (;;) {
        char *le = memmem(buf + pos, len - pos, "\r\n", 2);
        if (!le) return 0;
        unsigned long sz = strtoul(buf + pos, NULL, 16);
        size_t data = (size_t)(le - buf) + 2;
        if (sz == 0) {
            if (len < data + 2) return 0;
            /* no trailers expected */
            size_t end = data + 2;
            /* decode in place */
            size_t p2 = hlen;
            out = 0;
            for (;;) {
                char *l2 = memmem(buf + p2, len - p2, "\r\n", 2);
                unsigned long z = strtoul(buf + p2, NULL, 16);
                size_t d = (size_t)(l2 - buf) + 2;
                if (z == 0) break;
                memmove(buf + hlen + out, buf + d, z);
                out += z;
                p2 = d + z + 2;
            }
            *body = buf + hlen;
            *blen = out;
            *used = end;
            return 1;
        }
        if (len < data + sz + 2) return 0;
        pos = data + sz + 2;
    }
}

static void on_text(conn_t *c, const char *p, size_t n);

/* the packets of one GET response */
static void poll_body(conn_t *c, char *b, size_t n) {
    st.polls++;
    size_t i = 0;
    while (i <= n && c->state != S_CLOSED) {
        char *sep = memchr(b + i, 0x1e, n - i);
        size_t end = sep ? (size_t)(sep - b) : n;
        size_t len = end - i;
        if (len) {
            if (c->state == S_P_OPEN) {
                char *q = memmem(b + i, len, "\"sid\":\"", 7);
                char *qe = q ? memchr(q + 7, '"', (size_t)(b + end - (q + 7))) : NULL;
                if (b[i] != '0' || !q || !qe || (size_t)(qe - (q + 7)) >= sizeof c->sid) {
                    conn_close(c, E_PROTO);
                    return;
                }
                memcpy(c->sid, q + 7, (size_t)(qe - (q + 7)));
                c->sid[qe - (q + 7)] = 0;
                c->state = S_SIO_CONNECT;
                c->polling = 1;
                send_connect(c); /* queued; POSTed by poll_kick once this response is done */
            } else {
                on_text(c, b + i, len);
            }
        }
        if (!sep) break;
        i = end + 1;
    }
}

/* what arrived on a polling endpoint: HTTP responses */
static size_t poll_consume(conn_t *c, int s, char *buf, size_t len) {
    size_t pos = 0;
    while (pos < len && c->state != S_CLOSED) {
        int status;
        char *body;
        size_t blen, used;
        int r = http_response(buf + pos, len - pos, &status, &body, &blen, &used);
        if (r == 0) break;
        if (r < 0 || status != 200) {
            if (opt_verbose)
                fprintf(stderr, "loadgen: polling response refused: %.*s\n", (int)(len - pos < 200 ? len - pos : 200),
                        buf + pos);
            conn_close(c, E_HTTP);
            return len;
        }
        pos += used;
        int what = c->req[s];
        c->req[s] = R_NONE;
        if (what == R_GET) poll_body(c, body, blen);
        /* a POST answers "ok" */
        if (c->state != S_CLOSED) poll_kick(c);
    }
    return pos;
}

/* ---- upgrade ---- */

static void upgrade_start(conn_t *c) {
    c->polling = 0; /* no more GETs: the WebSocket takes over */
    c->state = S_U_PROBE;
    if (ep_open(c, 1) < 0) conn_close(c, E_CONNECT);
}

/* the upgrade is done: the WebSocket endpoint becomes the main one */
static void upgrade_finish(conn_t *c) {
    ep_release(c, 0);
    c->fd[0] = c->fd[1];
    c->ssl[0] = c->ssl[1];
    c->in[0] = c->in[1];
    c->out[0] = c->out[1];
    c->phase[0] = c->phase[1];
    c->ws_hs[0] = 0;
    c->fd[1] = -1;
    c->ssl[1] = NULL;
    memset(&c->in[1], 0, sizeof c->in[1]);
    memset(&c->out[1], 0, sizeof c->out[1]);
    c->phase[1] = P_NONE;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd[0], &ev);
    mark_ready(c);
}

/* ---- Socket.IO packets ---- */

static void on_sio_ready(conn_t *c) {
    if (opt_transport == 2 && c->tr == T_POLL) upgrade_start(c);
    else mark_ready(c);
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
            if (p[1] == '5') { /* binary event: 45<k>-["tick",{placeholder}]; the attachment follows */
                if (n >= 12 && memmem(p, n < 24 ? n : 24, "-[\"tick\"", 8)) c->attach++;
                else st.other++;
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
        if (p[0] == '6') return; /* noop */
        st.other++;
        return;
    }
    if (c->state == S_EIO_OPEN) {
        if (p[0] == '0') {
            c->state = S_SIO_CONNECT;
            send_connect(c);
        } else {
            conn_close(c, E_PROTO);
        }
        return;
    }
    if (c->state == S_SIO_CONNECT) {
        if (!opt_msgpack && n >= 2 && p[0] == '4' && p[1] == '0') {
            on_sio_ready(c);
        } else if (!opt_msgpack && n >= 2 && p[0] == '4' && p[1] == '4') {
            conn_close(c, E_REFUSED);
        } else if (p[0] == '2') {
            send_text(c, "3", 1);
            st.pings++;
        } else if (p[0] == '6') {
        } else {
            st.other++;
        }
        return;
    }
    if (c->state == S_U_PROBE) {
        if (n == 6 && memcmp(p, "3probe", 6) == 0) {
            c->tr = T_WS; /* from here on the client sends on the WebSocket */
            send_text(c, "5", 1);
            c->state = S_U_VERIFY;
            uint32_t id = c->next_id++;
            char msg[48];
            int len = snprintf(msg, sizeof msg, "42%u[\"echo\",\"upgraded\"]", id);
            c->wait_id = id;
            send_text(c, msg, (size_t)len);
        } else if (p[0] == '2') {
            send_text(c, "3", 1);
        } else if (p[0] != '6') {
            conn_close(c, E_PROTO);
        }
        return;
    }
    if (c->state == S_U_VERIFY) {
        if (n >= 3 && p[0] == '4' && p[1] == '3') {
            uint32_t id = (uint32_t)strtoul(p + 2, NULL, 10);
            if (id == c->wait_id) {
                c->wait_id = 0;
                upgrade_finish(c);
            }
        } else if (p[0] == '2') {
            send_text(c, "3", 1);
        }
        return;
    }
}

static void on_binary(conn_t *c, const char *p, size_t n) {
    if (!opt_msgpack) {
        if (c->state == S_READY && c->attach) {
            c->attach--;
            st.ticks++;
            st.tick_bytes += n;
        } else {
            st.other++;
        }
        return;
    }
    /* a msgpack Socket.IO packet */
    const uint8_t *q = (const uint8_t *)p, *e = q + n;
    size_t items;
    if (q < e && (*q & 0xf0) == 0x80) items = *q++ & 0x0f;
    else if (q + 3 <= e && *q == 0xde) items = ((size_t)q[1] << 8) | q[2], q += 3;
    else {
        st.other++;
        return;
    }
    uint32_t type = 99, id = 0;
    int is_tick = 0;
    for (size_t i = 0; i < items && q; i++) {
        const uint8_t *k;
        size_t kn;
        if (!mp_read_str(q, e, &k, &kn)) {
            st.other++;
            return;
        }
        q = k + kn;
        if (kn == 4 && memcmp(k, "type", 4) == 0) mp_read_uint(q, e, &type);
        else if (kn == 2 && memcmp(k, "id", 2) == 0) mp_read_uint(q, e, &id);
        else if (kn == 4 && memcmp(k, "data", 4) == 0 && q < e && ((*q & 0xf0) == 0x90 || *q == 0xdc)) {
            const uint8_t *a = q + ((*q & 0xf0) == 0x90 ? 1 : 3), *s;
            size_t sn;
            if (mp_read_str(a, e, &s, &sn) && sn == 4 && memcmp(s, "tick", 4) == 0) is_tick = 1;
        }
        q = mp_skip(q, e, 0);
    }
    if (!q) {
        st.other++;
        return;
    }
    if (c->state == S_SIO_CONNECT) {
        if (type == 0) on_sio_ready(c);
        else if (type == 4) conn_close(c, E_REFUSED);
        else st.other++;
        return;
    }
    if (c->state != S_READY) return;
    if (type == 2 && is_tick) st.ticks++;
    else if (type == 3) {
        st.acks++;
        if (hook_ack) hook_ack(c, id, "[", 1);
    } else if (type == 1) conn_close(c, E_EOF);
    else st.other++;
}

/* parse the WebSocket bytes in buf (endpoint s); returns the number of bytes consumed */
static size_t ws_consume(conn_t *c, int s, char *buf, size_t len) {
    size_t pos = 0;
    if (c->ws_hs[s]) {
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
        c->ws_hs[s] = 0;
        if (c->state == S_HTTP) c->state = S_EIO_OPEN;
        else if (c->state == S_U_PROBE) send_frame_on(c, 1, 0x1, "2probe", 6);
    }
    while (c->state != S_CLOSED && c->state != S_IDLE) {
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
        case 0x2: on_binary(c, p, (size_t)pl); break;
        case 0x8: conn_close(c, E_EOF); return len;
        case 0x9: send_frame_on(c, s, 0xA, p, (size_t)pl); break;
        default: break; /* continuation, pong: not used by these benchmarks */
        }
    }
    return pos;
}

/* is endpoint s of this client speaking WebSocket (else HTTP polling)? */
static int ep_is_ws(const conn_t *c, int s) {
    int upgrading = c->state == S_U_PROBE || c->state == S_U_VERIFY;
    return s == 1 ? upgrading : (!upgrading && c->tr == T_WS);
}

static void on_readable(conn_t *c, int s, uint32_t events) {
    for (;;) {
        buf_t *in = &c->in[s];
        size_t off = in->len;
        if (off) {
            memcpy(rbuf, in->p, off);
            in->len = 0;
        }
        size_t want = RBUF_SZ - off;
        ssize_t n = io_read(c, s, rbuf + off, want);
        if (n > 0) {
            size_t len = off + (size_t)n;
            uint64_t ticks0 = st.ticks;
            int ws = ep_is_ws(c, s);
            int fd0 = c->fd[s];
            size_t used = ws ? ws_consume(c, s, rbuf, len) : poll_consume(c, s, rbuf, len);
            if (st.ticks != ticks0) last_tick_time = now();
            if (c->state == S_CLOSED) return;
            if (c->fd[s] != fd0) { /* an upgrade finished: what is left belongs to the new endpoint 0 */
                if (used < len) buf_add(&c->in[0], rbuf + used, len - used);
                return;
            }
            if (used < len) buf_add(in, rbuf + used, len - used);
            /* a short read drained the socket; new data raises a new edge (unless the peer
               also hung up, which we only learn by reading on); TLS reads one record at a time */
            if (!c->ssl[s] && (size_t)n < want && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
        } else if (n == 0) {
            if (off) buf_add(in, rbuf, off);
            if (s == 1 && c->tr == T_POLL && c->state == S_READY) { /* the POST connection closed: reopen later */
                ep_release(c, 1);
                return;
            }
            conn_close(c, E_EOF);
            return;
        } else {
            if (off) buf_add(in, rbuf, off);
            if (errno == EINTR) continue;
            if (errno != EAGAIN) conn_close(c, c->state == S_CONNECTING ? E_CONNECT : E_EOF);
            return;
        }
    }
}

/* the TCP (and TLS) connect of endpoint s finished: send the first request */
static void ep_connected(conn_t *c, int s) {
    c->phase[s] = P_OPEN;
    if (s == 0 && c->state == S_CONNECTING) {
        if (c->tr == T_WS) {
            c->state = S_HTTP;
            c->ws_hs[0] = 1;
            ep_write(c, 0, request, request_len);
        } else {
            c->state = S_P_OPEN;
            poll_request(c, 0, R_GET);
        }
    } else if (s == 1 && c->state == S_U_PROBE) {
        char head[600];
        int n = snprintf(head, sizeof head,
                         "GET %s?EIO=4&transport=websocket&sid=%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                         opt_path, c->sid, opt_host, opt_port);
        c->ws_hs[1] = 1;
        ep_write(c, 1, head, (size_t)n);
    }
    /* what was written before the connect finished */
    buf_t pend = c->out[s];
    if (pend.len) {
        memset(&c->out[s], 0, sizeof c->out[s]);
        ep_write(c, s, pend.p, pend.len);
        free(pend.p);
    }
    if (c->tr == T_POLL) poll_kick(c);
}

static void tls_step(conn_t *c, int s) {
#ifndef LOADGEN_NO_TLS
    int r = SSL_connect(c->ssl[s]);
    if (r == 1) {
        ep_connected(c, s);
        return;
    }
    int e = SSL_get_error(c->ssl[s], r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    if (opt_verbose) {
        char msg[256];
        ERR_error_string_n(ERR_get_error(), msg, sizeof msg);
        fprintf(stderr, "loadgen: TLS handshake failed: %s\n", msg);
    }
    ERR_clear_error();
    conn_close(c, E_TLS);
#else
    (void)s;
    conn_close(c, E_TLS);
#endif
}

static void on_event(conn_t *c, int s, uint32_t events) {
    if (c->state == S_CLOSED || c->state == S_IDLE || c->fd[s] < 0) return;
    if (c->phase[s] == P_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if ((events & (EPOLLERR | EPOLLHUP)) || getsockopt(c->fd[s], SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
            conn_close(c, E_CONNECT);
            return;
        }
        if (!(events & EPOLLOUT)) return;
        if (opt_tls) {
#ifndef LOADGEN_NO_TLS
            c->ssl[s] = SSL_new(tls_ctx);
            if (!c->ssl[s]) {
                conn_close(c, E_TLS);
                return;
            }
            SSL_set_fd(c->ssl[s], c->fd[s]);
            SSL_set_mode(c->ssl[s], SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#endif
            c->phase[s] = P_TLS;
        } else {
            ep_connected(c, s);
        }
    }
    if (c->phase[s] == P_TLS) {
        tls_step(c, s);
        if (c->state == S_CLOSED || c->phase[s] != P_OPEN) return;
    }
    if ((events & EPOLLOUT) && c->out[s].len) ep_flush(c, s);
    if (c->state == S_CLOSED || c->fd[s] < 0) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c, s, events);
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
        for (int i = 0; i < n; i++) {
            uintptr_t tag = (uintptr_t)evs[i].data.ptr;
            on_event((conn_t *)(tag & ~(uintptr_t)1), (int)(tag & 1), evs[i].events);
        }
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
/* echo (the closed loop; also run by echofan beside a fan-out) */

static char *echo_msg;
static char *echo_tail;
static size_t echo_tail_len;
static double echo_t_measure, echo_t_end;
static double *rtts;
static size_t rtt_n, rtt_cap;
static uint64_t echo_outstanding, echo_bad;

static void echo_prepare(void) {
    echo_tail = xrealloc(NULL, (size_t)opt_size + 16);
    memcpy(echo_tail, "[\"echo\",\"", 9);
    memset(echo_tail + 9, 'x', opt_size);
    memcpy(echo_tail + 9 + opt_size, "\"]", 2);
    echo_tail_len = 9 + (size_t)opt_size + 2;
    echo_msg = xrealloc(NULL, echo_tail_len + 16);
}

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
    /* echofan: a request sent in the window counts whenever its answer comes (a slow server's RTT can
       outlast the window; the fan-out in flight still loads it while the last answers come) */
    if (c->t_sent >= echo_t_measure && (t <= echo_t_end || (opt_echo_clients && c->t_sent < echo_t_end))) {
        if (rtt_n == rtt_cap) {
            rtt_cap = rtt_cap ? rtt_cap * 2 : 65536;
            rtts = xrealloc(rtts, rtt_cap * sizeof *rtts);
        }
        rtts[rtt_n++] = t - c->t_sent;
    }
    if (t < echo_t_end) echo_send(c);
}

static int done_echo_drained(void) { return echo_outstanding == 0; }

/* ---------------------------------------------------------------------------------------------- */
/* fanout (also rooms, binary, msgpack, echofan) */

static uint64_t want_acks;
static int done_ticks_and_acks(void) { return st.ticks >= tick_target && st.acks >= want_acks; }

static void send_burst(conn_t *ctl, uint32_t count, uint32_t size) {
    if (opt_rooms) send_event3(ctl, "burst_rooms", count, size, opt_rooms, 1);
    else send_event3(ctl, opt_binary ? "burst_bin" : "burst", count, size, 0, 0);
}

/* deliveries one emit makes: every receiver, or the members of one room */
static uint32_t per_emit;

/* one burst(count) sent and waited for: returns seconds to the last tick, -1 on timeout */
static double burst_and_wait(conn_t *ctl, uint32_t count, double limit) {
    tick_target = st.ticks + (uint64_t)per_emit * count;
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
    if (c != fan_ctl) {
        if (opt_echo_clients) echo_ack(c, id, p, n);
        return;
    }
    fan_acked++;
    if (fan_stop_sending > 0 && now() < fan_stop_sending) {
        send_burst(fan_ctl, fan_count, opt_size);
        fan_sent++;
    }
}

static int run_fanout(int with_echo) {
    FILE *o = stdout;
    const char *mode = with_echo ? "echofan" : "fanout";
    uint32_t total = opt_clients + (with_echo ? opt_echo_clients : 0);
    double t_conn = open_range(0, total, NULL);
    uint64_t ready = st.ready_total;
    int enough = opt_rooms || with_echo ? ready == total : ready >= (total + 1) / 2;
    if (pool[0].state != S_READY || !enough) {
        json_common(o, mode);
        fprintf(o, ",\"n\":%u,\"ready\":%llu", opt_clients, (unsigned long long)ready);
        json_errors(o);
        json_end(o, 0,
                 opt_rooms || with_echo ? "not every client connected"
                                        : "fewer than half of the clients (or not the control client) connected");
        return 1;
    }
    /* measure with the clients that did connect, and say so */
    const char *partial = ready < total ? "not every client connected" : NULL;
    settle(opt_settle);
    long rss_after_connect = server_rss_kb();
    uint32_t n = 0; /* every live client of the fan-out receives every tick */
    for (uint32_t i = 0; i < opt_clients; i++)
        if (pool[i].state == S_READY) n++;
    per_emit = opt_rooms ? opt_clients / opt_rooms : n;
    conn_t *ctl = &pool[0];
    const char *error = NULL;

    /* latency: one broadcast of burst(1, size) at a time (echofan: only to calibrate) */
    uint32_t want_rounds = with_echo ? 3 : opt_rounds;
    double *lat = xrealloc(NULL, sizeof(double) * (want_rounds ? want_rounds : 1));
    uint32_t rounds = 0, lost = 0;
    double lat_t0 = now();
    while (rounds < want_rounds) {
        double t = burst_and_wait(ctl, 1, 30.0);
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
    double frame_bytes = (double)opt_size + 16 + (opt_binary ? 48 : 0);
    uint32_t cmax = (uint32_t)(opt_burst_budget_mb * 1e6 / ((double)per_emit * frame_bytes));
    uint32_t per_conn_cap = (uint32_t)(opt_conn_burst_kb * 1024.0 / frame_bytes);
    /* rooms: one client gets about count * per_emit / n of a burst's emits */
    if (opt_rooms) per_conn_cap = (uint32_t)((double)per_conn_cap * n / per_emit / 4);
    if (cmax > per_conn_cap) cmax = per_conn_cap;
    if (cmax < 1) cmax = 1;
    if (cmax > opt_max_count) cmax = opt_max_count;
    uint32_t count = opt_count ? opt_count : 1;
    double rate = -1, t_phase = -1, srv_cpu = -1, cli_cpu = -1;
    uint64_t delivered = 0, expected = 0, bytes = 0;
    int timed_out = 0, drained = 1;
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
                double t = burst_and_wait(ctl, count, opt_duration * 4 + 30);
                double t2 = t < 0 ? -1 : burst_and_wait(ctl, count, opt_duration * 4 + 30);
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
        uint64_t ticks0 = st.ticks, bytes0 = st.tick_bytes;
        double scpu0 = server_cpu_s(), ccpu0 = cpu_self();
        double t0 = now();
        fan_stop_sending = t0 + opt_duration;
        if (with_echo) {
            echo_prepare();
            /* the warm-up is at most half of the phase */
            echo_t_measure = t0 + (opt_warmup < opt_duration / 2 ? opt_warmup : opt_duration / 2);
            echo_t_end = fan_stop_sending;
            for (uint32_t i = opt_clients; i < total; i++)
                if (pool[i].state == S_READY) echo_send(&pool[i]);
        }
        send_burst(ctl, count, opt_size);
        send_burst(ctl, count, opt_size);
        fan_sent = 2;
        /* send while the duration runs; then wait for what is in flight */
        pump(fan_stop_sending, done_never);
        fan_stop_sending = 0;
        double limit = now() + opt_duration * 4 + 30;
        for (;;) {
            tick_target = ticks0 + (uint64_t)per_emit * count * fan_sent;
            if (st.ticks >= tick_target && fan_acked >= fan_sent) break;
            want_acks = st.acks + (fan_sent - fan_acked);
            if (!pump(limit, done_ticks_and_acks)) {
                timed_out = 1;
                break;
            }
        }
        double t_end = st.ticks == ticks0 ? now() : last_tick_time;
        delivered = st.ticks - ticks0;
        bytes = st.tick_bytes - bytes0;
        expected = (uint64_t)per_emit * count * fan_sent;
        t_phase = t_end - t0;
        rate = t_phase > 0 ? (double)delivered / t_phase : -1;
        srv_cpu = scpu0 >= 0 ? server_cpu_s() - scpu0 : -1;
        cli_cpu = cpu_self() - ccpu0;
        if (with_echo) drained = pump(now() + 30.0, done_echo_drained);
        hook_ack = NULL;
        if (timed_out) error = "throughput phase timed out: deliveries missing";
    }
    long rss_end = server_rss_kb();

    json_common(o, mode);
    fprintf(o, ",\"n\":%u,\"receivers\":%u,\"per_emit\":%u,\"rooms\":%u,\"size\":%u,\"binary\":%s,\"ready\":%llu",
            opt_clients, n, per_emit, opt_rooms, opt_size, opt_binary ? "true" : "false", (unsigned long long)ready);
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
    if (opt_binary) {
        fprintf(o, ",\"delivered_bytes\":%llu", (unsigned long long)bytes);
        json_num(o, "bytes_per_s", t_phase > 0 ? (double)bytes / t_phase : -1);
    }
    json_num(o, "server_cpu_s", srv_cpu);
    json_num(o, "client_cpu_s", cli_cpu);
    fprintf(o, ",\"rss_after_connect_kb\":%ld,\"rss_end_kb\":%ld,\"polls\":%llu,\"posts\":%llu", rss_after_connect,
            rss_end, (unsigned long long)st.polls, (unsigned long long)st.posts);
    if (with_echo) {
        qsort(rtts, rtt_n, sizeof *rtts, cmp_double);
        double measured = echo_t_end - echo_t_measure;
        fprintf(o, ",\"echo_clients\":%u,\"acks\":%zu,\"bad_acks\":%llu,\"unanswered\":%llu", opt_echo_clients, rtt_n,
                (unsigned long long)echo_bad, (unsigned long long)echo_outstanding);
        /* acks over the window, though some came after it: a rate, not a measure of the window */
        json_num(o, "acks_per_s", measured > 0 ? (double)rtt_n / measured : -1);
        json_num(o, "rtt_p50_ms", pct(rtts, rtt_n, 50) * 1e3);
        json_num(o, "rtt_p99_ms", pct(rtts, rtt_n, 99) * 1e3);
        json_num(o, "rtt_max_ms", rtt_n ? rtts[rtt_n - 1] * 1e3 : -1);
        if (!error && rtt_n == 0) error = "no echo ack received during the fan-out";
        else if (!error && echo_bad) error = "acks with a wrong id or body";
        else if (!error && !drained) error = "echo requests left unanswered";
    }
    free(lat);
    if (!error) error = partial;
    json_end(o, error == NULL, error);
    return error ? 1 : 0;
}

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
    echo_prepare();

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

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port P --mode connect|fanout|echo|echofan|churn [options]\n"
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
            "           --binary (burst_bin: binary attachments; bytes/s), --rooms R (client i in\n"
            "           room r<i %% R>; burst_rooms to random single rooms)\n"
            "  echofan: the fan-out options, --echo-clients E (in room \"echo\"), --warmup S (1)\n"
            "  churn:   --cycles M (20), --batch B (500)\n"
            "  --transport T       websocket (default), polling (long-polling, never upgraded) or\n"
            "                      upgrade (polling handshake and CONNECT, then the WebSocket upgrade)\n"
            "  --tls               TLS on every connection (wss://, https://), certificate not checked\n"
            "  --parser P          json (default) or msgpack (socket.io-msgpack-parser's packets)\n"
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
        {"source", 1, 0, 'A'},       {"sources", 1, 0, 'N'},       {"port2", 1, 0, 'Q'},
        {"transport", 1, 0, 'T'},     {"tls", 0, 0, 'X'},           {"parser", 1, 0, 'R'},
        {"binary", 0, 0, 'Y'},        {"rooms", 1, 0, 'O'},         {"echo-clients", 1, 0, 'E'},       {"help", 0, 0, 'u'},          {0, 0, 0, 0}};
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
        case 'T':
            if (strcmp(optarg, "websocket") == 0) opt_transport = 0;
            else if (strcmp(optarg, "polling") == 0) opt_transport = 1;
            else if (strcmp(optarg, "upgrade") == 0) opt_transport = 2;
            else die("--transport must be websocket, polling or upgrade");
            break;
        case 'X': opt_tls = 1; break;
        case 'R':
            if (strcmp(optarg, "msgpack") == 0) opt_msgpack = 1;
            else if (strcmp(optarg, "json") != 0) die("--parser must be json or msgpack");
            break;
        case 'Y': opt_binary = 1; break;
        case 'O': opt_rooms = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'E': opt_echo_clients = (uint32_t)strtoul(optarg, NULL, 10); break;
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
        is_echo = strcmp(opt_mode, "echo") == 0, is_churn = strcmp(opt_mode, "churn") == 0,
        is_echofan = strcmp(opt_mode, "echofan") == 0;
    if (!(is_connect || is_fanout || is_echo || is_churn || is_echofan)) {
        usage();
        return 2;
    }
    if (is_echofan && opt_echo_clients == 0) die("echofan needs --echo-clients");
    if (!is_echofan) opt_echo_clients = 0;
    if (opt_msgpack && (is_echo || is_echofan || opt_binary || opt_transport))
        die("--parser msgpack: fanout, connect and churn over WebSocket only");
    if (opt_rooms && (!is_fanout || opt_clients % opt_rooms)) die("--rooms: fanout only, --clients a multiple of it");
    pool_n = is_churn ? opt_batch : opt_clients + (is_connect ? opt_warmup_conns : 0) + opt_echo_clients;
    /* polling clients may hold two connections (a GET waiting, a POST), or the polling one and the
       WebSocket during an upgrade */
    rlim_t fds = (rlim_t)pool_n * (opt_transport ? 2 : 1);
    if (fds + 16 > rl.rlim_cur) {
        fprintf(stderr, "loadgen: %llu connections need more than the %llu open files allowed\n",
                (unsigned long long)fds, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    pool = calloc(pool_n ? pool_n : 1, sizeof *pool);
    rbuf = malloc(RBUF_SZ);
    if (!pool || !rbuf) die("out of memory");
    for (uint32_t i = 0; i < pool_n; i++) pool[i].fd[0] = pool[i].fd[1] = -1;
    if (opt_tls) {
#ifndef LOADGEN_NO_TLS
        tls_ctx = SSL_CTX_new(TLS_client_method());
        if (!tls_ctx) die("SSL_CTX_new failed");
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL); /* the server's certificate is made per run */
#else
        die("--tls: this load generator was built without OpenSSL (-DLOADGEN_NO_TLS)");
#endif
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1 failed");
    deadline_all = now() + opt_timeout;

    int rc;
    if (is_connect) rc = run_connect();
    else if (is_fanout) rc = run_fanout(0);
    else if (is_echofan) rc = run_fanout(1);
    else if (is_echo) rc = run_echo();
    else rc = run_churn();
    close_all();
    return rc;
}
